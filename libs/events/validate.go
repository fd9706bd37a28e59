package events

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jmssync/jmssync/libs/asset"
)

// problems collects every validation problem of a message, named by JSON path.
type problems struct {
	schema string
	list   []string
}

func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, field+": "+fmt.Sprintf(format, args...))
}

// text checks a text field: required, valid UTF-8, no control characters.
func (p *problems) text(field, v string, required bool) {
	if msg := asset.CheckText(v, required); msg != "" {
		p.add(field, "%s", msg)
	}
}

// multiline is text that may also hold line feeds.
func (p *problems) multiline(field, v string, required bool) {
	p.text(field, strings.ReplaceAll(v, "\n", " "), required)
}

func (p *problems) token(field, v string) {
	if !tokenRE.MatchString(v) {
		if v == "" {
			p.add(field, "required")
		} else {
			p.add(field, "must match %s, not %q", tokenRE, v)
		}
	}
}

func (p *problems) schemaField(got string) {
	if got != p.schema {
		p.add("schema", "must be %q, not %q", p.schema, got)
	}
}

// nested adds the problems of a nested validation error under prefix.
func (p *problems) nested(prefix string, err error) {
	if err == nil {
		return
	}
	var ve *asset.ValidationError
	if errors.As(err, &ve) {
		for _, m := range ve.Problems {
			p.list = append(p.list, prefix+"."+m)
		}
		return
	}
	p.add(prefix, "%v", err)
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	slices.Sort(p.list)
	return fmt.Errorf("%w %s: %s", ErrInvalid, p.schema, strings.Join(p.list, "; "))
}

// tokenRE is what pass ids, run ids and alert kinds must match: they appear
// as one subject token or in message ids.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidToken reports whether s can serve as a pass id or run id: 1 to 64
// ASCII letters, digits, '-' or '_'.
func ValidToken(s string) bool { return tokenRE.MatchString(s) }

func itoa(i int) string { return strconv.Itoa(i) }
