package config

import (
	"fmt"
	"log/slog"
)

// Redacted is what every rendering of a [Secret] prints instead of its value.
const Redacted = "[REDACTED]"

// Secret is a string that never prints itself: fmt (every verb), JSON, text,
// slog and zerolog (through Interface/Any, which use MarshalJSON, and Stringer)
// all render it as [Redacted]. Call Reveal at the one place that needs the value
// (an HTTP header, a NATS option).
//
// Fields of type Secret also accept a <KEY>_FILE variable naming a file that
// holds the value (see [Load]).
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

// String implements fmt.Stringer.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter so that no verb, not even a wrong one such as
// %d, prints the value.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it stores the text as is.
func (s *Secret) UnmarshalText(b []byte) error {
	*s = Secret(b)
	return nil
}

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }
