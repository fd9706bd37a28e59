package logging

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Redacted replaces masked values.
const Redacted = "[REDACTED]"

// MinSecretLen is the shortest value [RegisterSecrets] accepts: masking every
// occurrence of a two-letter string would mangle the logs.
const MinSecretLen = 4

// defaultSecretKeys are key-name fragments whose values are always masked.
var defaultSecretKeys = []string{
	"password", "passwd", "secret", "token", "apikey", "authorization",
	"credential", "privatekey", "cookie",
}

// registry is the process-wide list of secret values. It is global on
// purpose: a secret must be masked by every logger in the process (the
// all-in-one runs several services), including loggers built before the
// secret was known.
var registry secretSet

// RegisterSecrets masks these values in the output of every logger of this
// package, and in [Redact]. Values shorter than [MinSecretLen] are ignored.
// Call it in main with config.SecretValues(cfg) and with any token obtained
// at run time.
func RegisterSecrets(values ...string) { registry.add(values...) }

// Redact masks every registered secret value in s. Use it on text that leaves
// the process by another way than the logger (DLQ headers, notifications).
func Redact(s string) string {
	return string(registry.mask([]byte(s)))
}

type secretSet struct {
	mu     sync.RWMutex
	values [][]byte // raw and JSON-escaped forms, longest first
	seen   map[string]bool
}

func (s *secretSet) add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	for _, v := range values {
		if len(v) < MinSecretLen || s.seen[v] {
			continue
		}
		s.seen[v] = true
		s.values = append(s.values, []byte(v))
		if esc := jsonEscape(v); esc != v {
			s.values = append(s.values, []byte(esc))
		}
	}
	slices.SortFunc(s.values, func(a, b []byte) int { return len(b) - len(a) })
}

func (s *secretSet) mask(p []byte) []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		if bytes.Contains(p, v) {
			p = bytes.ReplaceAll(p, v, []byte(Redacted))
		}
	}
	return p
}

// jsonEscape returns v as it appears inside a JSON string (without quotes).
func jsonEscape(v string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// keyValue matches a JSON member whose value is a string or a scalar.
var keyValue = regexp.MustCompile(`"((?:[^"\\]|\\.)*)":("(?:[^"\\]|\\.)*"|[-0-9.eE+]+|true|false)`)

type redactingWriter struct {
	w     io.Writer
	local secretSet
	keys  []string
}

func newRedactingWriter(w io.Writer, secrets, keys []string) *redactingWriter {
	rw := &redactingWriter{w: w}
	rw.local.add(secrets...)
	for _, k := range append(slices.Clone(defaultSecretKeys), keys...) {
		rw.keys = append(rw.keys, normalizeKey(k))
	}
	return rw
}

// Write masks one log line and writes it. It reports len(p) so zerolog does
// not see a short write when the masked line is shorter.
func (rw *redactingWriter) Write(p []byte) (int, error) {
	out := slices.Clone(p)
	out = keyValue.ReplaceAllFunc(out, func(m []byte) []byte {
		sub := keyValue.FindSubmatchIndex(m)
		if !rw.secretKey(string(m[sub[2]:sub[3]])) {
			return m
		}
		return append(slices.Clone(m[:sub[4]]), `"`+Redacted+`"`...)
	})
	out = registry.mask(out)
	out = rw.local.mask(out)
	if _, err := rw.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (rw *redactingWriter) secretKey(k string) bool {
	n := normalizeKey(k)
	for _, s := range rw.keys {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func normalizeKey(k string) string {
	return strings.NewReplacer("_", "", "-", "", ".", "", " ", "").Replace(strings.ToLower(k))
}
