package legacyconfig

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with the file: the YAML path of the key
// (clouds[1].regions), the line it is on (0 when the key is missing and its
// parent has no line either) and what is wrong. Msg never holds the value of a
// secret.
type Problem struct {
	Path string
	Line int
	Msg  string
}

func (p Problem) String() string { return located(p.Path, p.Line, p.Msg) }

// Error is returned by [Parse] when the file is invalid. It lists every
// problem found, not only the first.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("config file: 1 problem: ")
	} else {
		fmt.Fprintf(&b, "config file: %d problems: ", len(e.Problems))
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// WarningKind says why a [Warning] was raised.
type WarningKind string

const (
	// WarnUnknownKey: a key neither the old tool nor jms-sync knows (a typo,
	// or a key from another tool). It is ignored.
	WarnUnknownKey WarningKind = "unknown_key"
	// WarnIgnoredKey: a key the old tool had that jms-sync does not use; Msg
	// says why.
	WarnIgnoredKey WarningKind = "ignored_key"
	// WarnChanged: a key jms-sync uses, but with an effect the old tool
	// (HEAD) did not have — e.g. sync.whitelist, which the old tool ignored.
	WarnChanged WarningKind = "changed_behaviour"
	// WarnEnvUnset: a ${NAME} placeholder without default whose variable is
	// not set; it became the empty string, as in the old tool.
	WarnEnvUnset WarningKind = "env_unset"
	// WarnDuplicateKey: a key given twice in one mapping; the last one wins,
	// as with the old tool's PyYAML.
	WarnDuplicateKey WarningKind = "duplicate_key"
	// WarnSuspicious: valid, but probably not what was meant (several Huawei
	// regions sharing one project id, no enabled cloud, …).
	WarnSuspicious WarningKind = "suspicious"
)

// Warning is something worth telling the operator that does not stop the
// file from loading. Msg never holds the value of a secret.
type Warning struct {
	Path string
	Line int
	Kind WarningKind
	Msg  string
}

func (w Warning) String() string { return located(w.Path, w.Line, w.Msg) }

func located(path string, line int, msg string) string {
	var b strings.Builder
	if path != "" {
		b.WriteString(path)
		b.WriteString(": ")
	}
	b.WriteString(msg)
	if line > 0 {
		fmt.Fprintf(&b, " (line %d)", line)
	}
	return b.String()
}
