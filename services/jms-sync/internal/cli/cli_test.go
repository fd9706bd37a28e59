package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressSilentOffTerminal(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false) // a buffer is not a terminal
	p.Update("x %d", 1)
	p.Step("y")
	p.Done()
	var nilP *Progress
	nilP.Update("no panic")
	if b.Len() != 0 || p.Enabled() || nilP.Enabled() {
		t.Fatalf("progress written off a terminal: %q", b.String())
	}
}

func TestProgressRewritesOneLine(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, true)
	p.Update("listing 4 regions")
	p.Update("ok")
	p.Step("listed a")
	p.Done()
	s := b.String()
	if strings.Count(s, "\n") != 1 || !strings.Contains(s, "\r") || !strings.Contains(s, "listed a\n") {
		t.Fatalf("unexpected progress output %q", s)
	}
	// The shorter line blanks out the rest of the longer one.
	if !strings.Contains(s, "ok"+strings.Repeat(" ", len("listing 4 regions")-len("ok"))) {
		t.Fatalf("the shorter line does not cover the longer one: %q", s)
	}
}

func TestTableAligns(t *testing.T) {
	var b bytes.Buffer
	tb := NewTable(&b, "OP", "NAME")
	tb.Row("create", "web\t1")
	tb.Row("delete", "db")
	_ = tb.Flush()
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 || strings.Index(lines[1], "web 1") != strings.Index(lines[0], "NAME") {
		t.Fatalf("not aligned:\n%s", b.String())
	}
	if Plural(1, "pass", "passes") != "1 pass" || Plural(2, "pass", "passes") != "2 passes" {
		t.Fatal("Plural")
	}
}
