package legacyconfig

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// placeholder matches ${NAME} and ${NAME:default} as the old loader did.
// The default runs to the first "}"; there is no escape and no nesting.
var placeholder = regexp.MustCompile(`\$\{([^}:]+)(?::([^}]*))?\}`)

// decoder walks the YAML node tree with a schema written as code: that gives
// every key its path and line, tells unknown keys from ignored ones, and
// keeps values (secrets above all) out of messages, which yaml.v3's own
// errors would quote.
type decoder struct {
	getenv   func(string) (string, bool)
	text     map[*yaml.Node]string // scalar values after ${} substitution
	unset    map[string][]string   // path → variables that were not set
	fromEnv  map[string][]string   // path → variables whose value was used
	lines    map[string]int        // path → line of its key
	problems []Problem
	warnings []Warning
}

func newDecoder(getenv func(string) (string, bool)) *decoder {
	return &decoder{getenv: getenv, text: map[*yaml.Node]string{}, unset: map[string][]string{}, fromEnv: map[string][]string{}, lines: map[string]int{}}
}

func (d *decoder) problemf(path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Path: path, Line: d.lineOf(path), Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) warnf(path string, kind WarningKind, format string, args ...any) {
	d.warnings = append(d.warnings, Warning{Path: path, Line: d.lineOf(path), Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

// lineOf is the line of path's key, or of its nearest parent that has one.
func (d *decoder) lineOf(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// required reports a missing value, naming the ${VAR} that was not set if
// that is why it is empty.
func (d *decoder) required(path, what string) {
	msg := what
	if names := d.unset[path]; len(names) > 0 {
		msg += " (${" + strings.Join(names, "}, ${") + "} not set)"
	}
	d.problemf(path, "%s", msg)
}

// show renders a value for a message: quoted when written in the file, by
// the variables it came from when substituted from the environment (where
// secrets live: a secret put in the wrong variable must not be echoed).
func (d *decoder) show(path, v string) string {
	names := d.fromEnv[path]
	if len(names) == 0 && strings.HasSuffix(path, "]") {
		names = d.fromEnv[parentPath(path)] // an item of a comma-separated string
	}
	if len(names) > 0 {
		return "the value of ${" + strings.Join(names, "}${") + "}"
	}
	return strconv.Quote(v)
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "something else"
}

// subst returns the scalar's value with every ${NAME} / ${NAME:default}
// replaced (the old loader replaced only the first, and only after
// validation). A set variable wins over the default even when empty, as
// Python's os.environ.get did; an unset variable without default becomes ""
// with a warning. Substituted text is not scanned again.
func (d *decoder) subst(n *yaml.Node, path string) string {
	if v, ok := d.text[n]; ok {
		return v
	}
	s := n.Value
	var b strings.Builder
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(s[last:m[0]])
		last = m[1]
		name := s[m[2]:m[3]]
		if v, ok := d.getenv(name); ok {
			d.fromEnv[path] = append(d.fromEnv[path], name)
			b.WriteString(v)
			continue
		}
		if m[4] >= 0 {
			b.WriteString(s[m[4]:m[5]])
			continue
		}
		d.unset[path] = append(d.unset[path], name)
		d.warnf(path, WarnEnvUnset, "${%s} is not set and has no default: it became an empty string", name)
	}
	if last == 0 {
		d.text[n] = s
		return s
	}
	b.WriteString(s[last:])
	v := b.String()
	d.text[n] = v
	return v
}

// scalar returns the substituted value of a scalar node; ok is false when the
// node is null or absent, or is not a scalar (a problem then).
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	n = deref(n)
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.problemf(path, "want %s, got %s", want, kindName(n))
		return "", false
	}
	return d.subst(n, path), true
}

// str reads a string; any scalar is taken as its text (name: 2024 is
// "2024"), null is "". Surrounding blanks are removed.
func (d *decoder) str(n *yaml.Node, path string) string {
	s, _ := d.scalar(n, path, "a string")
	return strings.TrimSpace(s)
}

// yaml11Bools are the booleans of PyYAML (YAML 1.1), which the old tool
// used: yes/no/on/off are booleans there, strings in yaml.v3.
var yaml11Bools = map[string]bool{"true": true, "yes": true, "on": true, "false": false, "no": false, "off": false}

// boolean reads true/false (also yes/no/on/off, and a substituted "true");
// nil when not given or empty.
func (d *decoder) boolean(n *yaml.Node, path string) *bool {
	s, ok := d.scalar(n, path, "true or false")
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return nil
	}
	if b, ok := yaml11Bools[strings.ToLower(s)]; ok {
		return &b
	}
	d.problemf(path, "want true or false, not %s", d.show(path, s))
	return nil
}

// integer reads a whole number (YAML forms: 10, 0x0a, 1_000); nil when not
// given or empty.
func (d *decoder) integer(n *yaml.Node, path string) *int {
	s, ok := d.scalar(n, path, "a whole number")
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return nil
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 0)
	if err != nil {
		d.problemf(path, "want a whole number, not %s", d.show(path, s))
		return nil
	}
	i := int(v)
	return &i
}

// percent reads 10, 12.5 or "10%"; nil when not given or empty.
func (d *decoder) percent(n *yaml.Node, path string) *float64 {
	s, ok := d.scalar(n, path, "a percentage")
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil {
		d.problemf(path, "want a percentage such as 10 or 10%%, not %s", d.show(path, s))
		return nil
	}
	return &v
}

// duration reads a Go duration (90m, 24h), a number of days (2d) or a whole
// number of seconds; nil when not given or empty.
func (d *decoder) duration(n *yaml.Node, path string) *time.Duration {
	s, ok := d.scalar(n, path, "a duration")
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return nil
	}
	var v time.Duration
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		v = time.Duration(secs) * time.Second
	} else if days, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64); err == nil && strings.HasSuffix(s, "d") {
		v = time.Duration(days * float64(24*time.Hour))
	} else if v, err = time.ParseDuration(s); err != nil {
		d.problemf(path, "want a duration such as 24h, 90m or 2d, not %s", d.show(path, s))
		return nil
	}
	return &v
}

// list reads a list of strings. A single value is split on commas (so that
// regions: ${REGIONS} works). Blank items are dropped.
func (d *decoder) list(n *yaml.Node, path string) []string {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	var out []string
	switch n.Kind {
	case yaml.SequenceNode:
		for i, e := range n.Content {
			p := index(path, i)
			d.lines[p] = e.Line
			if s := d.str(e, p); s != "" {
				out = append(out, s)
			}
		}
	case yaml.ScalarNode:
		for item := range strings.SplitSeq(d.subst(n, path), ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	default:
		d.problemf(path, "want a list, got %s", kindName(n))
	}
	return out
}

type pair struct {
	key  string
	k, v *yaml.Node
}

// pairs lists a mapping's entries: a key given twice keeps its last value
// (PyYAML did the same) with a warning; merge keys (<<: *anchor) add the
// entries the mapping does not have itself.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	pos := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.problems = append(d.problems, Problem{Path: path, Line: k.Line, Msg: "a key must be a single value, not " + kindName(k)})
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		child := join(path, k.Value)
		if j, dup := pos[k.Value]; dup {
			d.lines[child] = k.Line
			d.warnf(child, WarnDuplicateKey, "key given twice (first on line %d); the last one is used", out[j].k.Line)
			out[j] = pair{k.Value, k, v}
			continue
		}
		pos[k.Value] = len(out)
		out = append(out, pair{k.Value, k, v})
		if _, seen := d.lines[child]; !seen {
			d.lines[child] = k.Line
		}
	}
	for _, m := range merges {
		m = deref(m)
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, src := range srcs {
			src = deref(src)
			if src == nil || src.Kind != yaml.MappingNode {
				d.problemf(path, "a merge key (<<) takes a mapping or a list of mappings")
				continue
			}
			for _, p := range d.pairs(src, path) {
				if _, have := pos[p.key]; !have {
					pos[p.key] = len(out)
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// spec describes one mapping: the keys read, the old keys ignored (with the
// reason), and hints for unknown keys that exist elsewhere.
type spec struct {
	fields  map[string]func(v *yaml.Node, path string)
	ignored map[string]string
	hints   map[string]string
}

// object walks a mapping with spec; null is an empty mapping.
func (d *decoder) object(n *yaml.Node, path string, s spec) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.problemf(path, "want a mapping, got %s", kindName(n))
		return
	}
	for _, p := range d.pairs(n, path) {
		child := join(path, p.key)
		if fn, ok := s.fields[p.key]; ok {
			fn(p.v, child)
			continue
		}
		if why, ok := s.ignored[p.key]; ok {
			d.warnf(child, WarnIgnoredKey, "ignored: %s", why)
			continue
		}
		msg := "unknown key, ignored"
		if h, ok := s.hints[p.key]; ok {
			msg += "; " + h
		}
		d.warnf(child, WarnUnknownKey, "%s", msg)
	}
}

// stringMap reads a mapping of strings (project_ids: region → id).
func (d *decoder) stringMap(n *yaml.Node, path string) map[string]string {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.problemf(path, "want a mapping, got %s", kindName(n))
		return nil
	}
	out := map[string]string{}
	for _, p := range d.pairs(n, path) {
		if v := d.str(p.v, join(path, p.key)); v != "" {
			out[strings.TrimSpace(p.key)] = v
		}
	}
	return out
}
