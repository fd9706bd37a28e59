package natsx

import (
	"fmt"
	"strings"
)

const hexDigits = "0123456789ABCDEF"

// tokenSafe reports whether b is kept as is by EncodeToken.
func tokenSafe(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-'
}

// EncodeToken makes s safe as one subject token (and KV key part): every
// byte outside [A-Za-z0-9-] — "_" itself, ".", "*", ">", spaces, "$", "/",
// ":", every byte of a non-ASCII character — becomes "_" followed by its two
// upper-case hex digits. The empty string encodes as "_", so a token is never
// empty. The result is deterministic and [DecodeToken] reverses it.
func EncodeToken(s string) string {
	if s == "" {
		return "_"
	}
	n := 0
	for i := range len(s) {
		if !tokenSafe(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := range len(s) {
		c := s[i]
		if tokenSafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// DecodeToken reverses [EncodeToken]. It accepts only the canonical form
// EncodeToken produces (upper-case hex, no escaped safe byte), so every
// string has exactly one token.
func DecodeToken(tok string) (string, error) {
	if tok == "_" {
		return "", nil
	}
	if tok == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidToken)
	}
	if !strings.Contains(tok, "_") {
		for i := range len(tok) {
			if !tokenSafe(tok[i]) {
				return "", fmt.Errorf("%w: %q", ErrInvalidToken, tok)
			}
		}
		return tok, nil
	}
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if tokenSafe(c) {
			out = append(out, c)
			continue
		}
		if c != '_' || i+2 >= len(tok) {
			return "", fmt.Errorf("%w: %q", ErrInvalidToken, tok)
		}
		hi, lo := strings.IndexByte(hexDigits, tok[i+1]), strings.IndexByte(hexDigits, tok[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("%w: %q", ErrInvalidToken, tok)
		}
		d := byte(hi<<4 | lo)
		if tokenSafe(d) {
			return "", fmt.Errorf("%w: %q (escaped safe byte)", ErrInvalidToken, tok)
		}
		out = append(out, d)
		i += 2
	}
	return string(out), nil
}
