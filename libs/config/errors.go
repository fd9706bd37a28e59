package config

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one problem with one environment variable.
//
// A Validate method returns FieldErrors keyed by the variable name as the
// struct declares it (without any prefix): [Load] adds the prefix that applies
// to the struct (from WithPrefix and envPrefix tags).
type FieldError struct {
	Key string // environment variable name
	Msg string // what is wrong, without the value of a secret
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Invalid returns a *FieldError for key; use it in Validate methods:
//
//	func (c Config) Validate() error {
//		var errs []error
//		if c.Workers < 1 {
//			errs = append(errs, config.Invalid("WORKERS", "must be at least 1, got %d", c.Workers))
//		}
//		return errors.Join(errs...)
//	}
func Invalid(key, format string, args ...any) error {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Error is returned by [Load]. It lists every problem found, not only the
// first, each naming its environment variable. Its text never contains the
// value of a [Secret] field: known secret values are masked.
type Error struct {
	Problems []error
	text     string
}

func (e *Error) Error() string { return e.text }

// Unwrap returns the problems, so errors.As finds a *FieldError.
func (e *Error) Unwrap() []error { return e.Problems }

func newError(problems []error, secrets []string) *Error {
	var b strings.Builder
	if len(problems) == 1 {
		b.WriteString("config: 1 problem: ")
	} else {
		fmt.Fprintf(&b, "config: %d problems: ", len(problems))
	}
	for i, p := range problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return &Error{Problems: problems, text: mask(b.String(), secrets)}
}

// mask replaces every occurrence of a secret value in s.
func mask(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	return s
}

// flatten expands joined errors (errors.Join, env.AggregateError) into a list.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// prefixed returns err with prefix added to the key of every *FieldError in it.
func prefixed(prefix string, err error) []error {
	out := flatten(err)
	if prefix == "" {
		return out
	}
	for i, e := range out {
		var fe *FieldError
		if errors.As(e, &fe) {
			out[i] = &FieldError{Key: prefix + fe.Key, Msg: fe.Msg}
		}
	}
	return out
}
