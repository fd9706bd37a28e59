// Package cli formats what jms-sync's operator commands print: a progress
// line that rewrites itself on a terminal (and stays silent otherwise, where
// the JSON logs tell the story), and aligned tables.
package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Progress is one status line on a terminal. The zero value and a nil
// *Progress are silent, so callers report unconditionally.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	started time.Time
	width   int // runes of the line on screen
	last    string
}

// NewProgress returns a progress line on w when w is a terminal, or when
// force is set (tests); otherwise a silent one.
func NewProgress(w io.Writer, force bool) *Progress {
	if w == nil || !(force || IsTerminal(w)) {
		return &Progress{}
	}
	return &Progress{w: w, started: time.Now()}
}

// Enabled reports whether the line is shown.
func (p *Progress) Enabled() bool { return p != nil && p.w != nil }

// Update replaces the line with the formatted text, prefixed with the time
// since the start.
func (p *Progress) Update(format string, args ...any) {
	if !p.Enabled() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("[%5.1fs] ", time.Since(p.started).Seconds()) + fmt.Sprintf(format, args...)
	if line == p.last {
		return
	}
	p.last = line
	n := utf8.RuneCountInString(line)
	pad := ""
	if p.width > n {
		pad = strings.Repeat(" ", p.width-n)
	}
	fmt.Fprint(p.w, "\r"+line+pad)
	p.width = n
}

// Step prints a line that stays (the status line is redrawn below it).
func (p *Progress) Step(format string, args ...any) {
	if !p.Enabled() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, "[%5.1fs] %s\n", time.Since(p.started).Seconds(), fmt.Sprintf(format, args...))
	p.last = ""
}

// Done clears the status line.
func (p *Progress) Done() {
	if !p.Enabled() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *Progress) clear() {
	if p.width > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
		p.width = 0
	}
}

// Table writes aligned columns.
type Table struct {
	tw *tabwriter.Writer
}

// NewTable starts a table on w with the given header (nil: none).
func NewTable(w io.Writer, header ...string) *Table {
	t := &Table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	if len(header) > 0 {
		t.Row(toAny(header)...)
	}
	return t
}

// Row adds a row; each value is printed with %v.
func (t *Table) Row(cols ...any) {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(fmt.Sprint(c))
	}
	fmt.Fprintln(t.tw, "  "+strings.Join(s, "\t"))
}

// Flush writes the table out.
func (t *Table) Flush() error { return t.tw.Flush() }

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Plural returns "1 thing" or "n things".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
