package collector

import (
	"strings"
	"time"
	"unicode"
)

// Helpers for mapping an SDK's instance to an asset.Instance: a Source
// repairs what cannot be published instead of dropping the instance.

// CleanText removes control characters (asset.Validate refuses them),
// invalid UTF-8 and surrounding space from optional text.
func CleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

// FirstNonEmpty returns the first of s that is not blank, as it is.
func FirstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

// ParseTime parses s (trimmed) with the first of layouts that fits, in
// UTC; the zero time when none does.
func ParseTime(s string, layouts ...string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
