package asset

import (
	"errors"
	"strings"
)

var (
	// ErrInvalid is wrapped by every validation error of this package.
	ErrInvalid = errors.New("asset: invalid")
	// ErrUnknownProvider is returned by ParseProvider for a name it does not know.
	ErrUnknownProvider = errors.New("asset: unknown provider")
	// ErrBadKey is returned by ParseKey for a string that is not a Key.
	ErrBadKey = errors.New("asset: malformed key")
)

// ValidationError lists every problem found in one value, each as
// "<json field>: <what is wrong>". It matches ErrInvalid with errors.Is.
type ValidationError struct {
	What     string // "instance", "id"
	Problems []string
}

func (e *ValidationError) Error() string {
	return "asset: invalid " + e.What + ": " + strings.Join(e.Problems, "; ")
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }
