package main_test

// The configuration reference (docs/configuration.md and its Chinese twin)
// must not drift from the code. This test lists every JMSSYNC_* variable
// the services read — by reflection over their configuration structs,
// following caarlos0/env's tag rules (env, envPrefix, envDefault), plus the
// variables the all-in-one reads by name — and every key of the old tool's
// config.yaml that legacyconfig reads, and compares both lists with the
// tables of the documents.

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/services/applier/applier"
	"github.com/jmssync/jmssync/services/collector-aliyun/aliyuncollector"
	"github.com/jmssync/jmssync/services/collector-huaweicloud/huaweicollector"
	"github.com/jmssync/jmssync/services/jms-sync/internal/app"
	"github.com/jmssync/jmssync/services/jms-sync/internal/legacyconfig"
	"github.com/jmssync/jmssync/services/notifier/notifier"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// referenceDocs are the documents holding the reference tables, from this
// directory.
var referenceDocs = []string{
	filepath.Join("..", "..", "docs", "configuration.md"),
	filepath.Join("..", "..", "docs", "configuration.zh-CN.md"),
}

// services are the configuration structs of every service, by the name the
// reference's "read by" column uses. The all-in-one (jms-sync) loads all of
// them from one environment.
var services = []struct {
	name string
	typ  reflect.Type
}{
	{"collector-aliyun", reflect.TypeFor[aliyuncollector.Config]()},
	{"collector-huaweicloud", reflect.TypeFor[huaweicollector.Config]()},
	{"reconciler", reflect.TypeFor[reconciler.Config]()},
	{"applier", reflect.TypeFor[applier.Config]()},
	{"notifier", reflect.TypeFor[notifier.Config]()},
}

// allInOneConfig is what the all-in-one reads for itself.
var allInOneConfig = reflect.TypeFor[app.ProcessConfig]()

const allInOne = "jms-sync"

// envVar is one variable as the code defines it.
type envVar struct {
	name     string
	defaults []string        // envDefault values (several services may differ)
	secret   bool            // a config.Secret: VAR_FILE works too
	readBy   map[string]bool // service names
}

var secretType = reflect.TypeFor[config.Secret]()

// walkEnv visits the fields of t the way caarlos0/env does: exported
// fields; env:"-" skipped; a struct field without an env key (named or
// embedded) is entered with its envPrefix; a pointer to a struct likewise;
// a slice of structs has its elements under <prefix>_<i>_; every other
// field with an env key is a variable.
func walkEnv(t reflect.Type, prefix string, visit func(name, def string, secret bool)) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(f.Tag.Get("env"), ",")
		if key == "-" || slices.Contains(strings.Split(opts, ","), "-") {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		child := prefix + f.Tag.Get("envPrefix")
		switch {
		case key == "" && ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]():
			walkEnv(ft, child, visit)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			if !strings.HasSuffix(child, "_") {
				child += "_"
			}
			walkEnv(ft.Elem(), child+"<i>_", visit)
		case key != "":
			visit(prefix+key, f.Tag.Get("envDefault"), ft == secretType || (ft.Kind() == reflect.Pointer && ft.Elem() == secretType))
		}
	}
}

// codeVariables lists every variable: the services' structs, and the
// JMSSYNC_* names the all-in-one's own code reads (log file, pprof…),
// found as string literals in its non-test sources (indices become <i>).
func codeVariables(t *testing.T) map[string]*envVar {
	t.Helper()
	vars := map[string]*envVar{}
	get := func(name string) *envVar {
		v := vars[name]
		if v == nil {
			v = &envVar{name: name, readBy: map[string]bool{}}
			vars[name] = v
		}
		return v
	}
	all := append(slices.Clone(services), struct {
		name string
		typ  reflect.Type
	}{allInOne, allInOneConfig})
	for _, s := range all {
		walkEnv(s.typ, "JMSSYNC_", func(name, def string, secret bool) {
			v := get(name)
			v.readBy[s.name] = true
			v.secret = v.secret || secret
			if def != "" && !slices.Contains(v.defaults, def) {
				v.defaults = append(v.defaults, def)
			}
		})
	}
	literal := regexp.MustCompile(`"(JMSSYNC_[A-Z0-9_]*[A-Z0-9])"`)
	index := regexp.MustCompile(`_[0-9]+_`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			name := index.ReplaceAllString(m[1], "_<i>_")
			v := get(name)
			if len(v.readBy) == 0 {
				v.readBy[allInOne] = true // read by name, by the all-in-one only
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) < 80 {
		t.Fatalf("only %d variables found: the walker is broken", len(vars))
	}
	return vars
}

// docRow is one row of a reference table.
type docRow struct {
	line  int
	cells []string
}

// tableRows returns the rows between <!-- name:begin --> and
// <!-- name:end --> whose first cell is one `code` span, keyed by it.
func tableRows(t *testing.T, doc, text, name string) map[string]docRow {
	t.Helper()
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s: no %s … %s block", doc, begin, end)
	}
	firstLine := strings.Count(text[:i], "\n") + 1
	rows := map[string]docRow{}
	for n, line := range strings.Split(text[i:j], "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| ---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for k := range cells {
			cells[k] = strings.TrimSpace(cells[k])
		}
		key := cells[0]
		if !strings.HasPrefix(key, "`") || !strings.HasSuffix(key, "`") || strings.Count(key, "`") != 2 {
			continue // the header row
		}
		key = strings.Trim(key, "`")
		if prev, dup := rows[key]; dup {
			t.Errorf("%s:%d: %s documented twice (also line %d)", doc, firstLine+n, key, prev.line)
		}
		rows[key] = docRow{line: firstLine + n, cells: cells}
	}
	return rows
}

// TestEnvironmentReference: every variable is documented, with its
// default, the services that read it and its _FILE variant; nothing
// documented is gone from the code.
func TestEnvironmentReference(t *testing.T) {
	vars := codeVariables(t)
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, doc := range referenceDocs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rows := tableRows(t, doc, string(text), "env-reference")
		for _, n := range names {
			v := vars[n]
			row, ok := rows[n]
			readBy := slices.Sorted(func(yield func(string) bool) {
				for s := range v.readBy {
					if !yield(s) {
						return
					}
				}
			})
			if !ok {
				t.Errorf("%s: %s (read by %s) is not in the reference table", doc, n, strings.Join(readBy, ", "))
				continue
			}
			if len(row.cells) < 4 {
				t.Errorf("%s:%d: %s: want the columns variable | default | read by | meaning", doc, row.line, n)
				continue
			}
			for _, d := range v.defaults {
				if !strings.Contains(row.cells[1], "`"+d+"`") {
					t.Errorf("%s:%d: %s: the default column %q lacks `%s` (envDefault)", doc, row.line, n, row.cells[1], d)
				}
			}
			everyService := len(v.readBy) == len(services)
			for _, s := range readBy {
				if !strings.Contains(row.cells[2], s) && !(everyService && strings.Contains(row.cells[2], "every service")) {
					t.Errorf("%s:%d: %s: the read-by column %q does not name %s", doc, row.line, n, row.cells[2], s)
				}
			}
			if v.secret && !strings.Contains(strings.Join(row.cells[1:], " "), "_FILE") {
				t.Errorf("%s:%d: %s is a secret: mention its %s_FILE variant", doc, row.line, n, n)
			}
		}
		for n, row := range rows {
			if vars[n] == nil {
				t.Errorf("%s:%d: %s is documented but no service reads it", doc, row.line, n)
			}
		}
	}
}

// legacyOverrides are the YAML names of File's fields that are not their
// snake_case.
var legacyOverrides = map[string]string{
	"JumpServer": "jumpserver", "DingTalk": "dingtalk", "JMSSync": "jmssync",
	"ProjectIDs": "project_ids", "ProtectedIPs": "protected_ips",
	"Policy": "sync", // jmssync.sync
}

// legacyDerived are File fields no key sets directly.
var legacyDerived = map[string]bool{
	"Cloud.Provider":   true, // from clouds[].type
	"DingTalk.Present": true, // the section exists
}

// newCloudKeys are the Cloud fields that come from jmssync.clouds.<name>.
var newCloudKeys = map[string]bool{"ID": true, "Endpoint": true, "IAMEndpoint": true, "ProjectIDs": true, "EnterpriseProjectID": true, "Zone": true}

func snake(s string) string {
	if o, ok := legacyOverrides[s]; ok {
		return o
	}
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// legacyKeys lists the YAML key of every field of legacyconfig.File.
func legacyKeys(t reflect.Type, path string, out map[string]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || legacyDerived[t.Name()+"."+f.Name] {
			continue
		}
		key := path + snake(f.Name)
		if t.Name() == "Cloud" && newCloudKeys[f.Name] {
			key = "jmssync.clouds.<name>." + snake(f.Name)
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			legacyKeys(ft.Elem(), key+"[].", out)
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() && ft.PkgPath() == t.PkgPath():
			legacyKeys(ft, key+".", out)
		default:
			out[key] = t.Name() + "." + f.Name
		}
	}
}

// nullDocument is a config.yaml with every key set to null (clouds[] has
// one entry, <name> is a name), for the parser to say which it knows.
func nullDocument(t *testing.T, keys []string) []byte {
	t.Helper()
	root := map[string]any{}
	for _, k := range keys {
		m := root
		parts := strings.Split(strings.ReplaceAll(k, "<name>", "x"), ".")
		for i, p := range parts {
			last := i == len(parts)-1
			if name, ok := strings.CutSuffix(p, "[]"); ok {
				list, _ := m[name].([]any)
				if list == nil {
					list = []any{map[string]any{}}
					m[name] = list
				}
				m = list[0].(map[string]any)
				continue
			}
			if last {
				m[p] = nil
				continue
			}
			next, _ := m[p].(map[string]any)
			if next == nil {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
	}
	b, err := yaml.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConfigFileReference: every key of the old tool's config.yaml that
// jms-sync reads (or knows and ignores) is documented, and every documented
// key is one the parser knows.
func TestConfigFileReference(t *testing.T) {
	fields := map[string]string{}
	legacyKeys(reflect.TypeFor[legacyconfig.File](), "", fields)
	if len(fields) < 40 {
		t.Fatalf("only %d keys found: the walker is broken", len(fields))
	}
	for _, doc := range referenceDocs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rows := tableRows(t, doc, string(text), "yaml-reference")
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range fields {
				if !yield(k) {
					return
				}
			}
		}) {
			if _, ok := rows[k]; !ok {
				t.Errorf("%s: config.yaml key %s (legacyconfig %s) is not in the reference table", doc, k, fields[k])
			}
		}
		documented := make([]string, 0, len(rows))
		for k := range rows {
			documented = append(documented, k)
		}
		sort.Strings(documented)
		_, warnings, _ := legacyconfig.Parse(nullDocument(t, documented), func(string) (string, bool) { return "", false })
		for _, w := range warnings {
			if w.Kind == legacyconfig.WarnUnknownKey {
				t.Errorf("%s: documents a key the config file parser does not know: %s", doc, w)
			}
		}
	}
}

// TestSnake pins the field-name conversion the reference test relies on.
func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"AccessKeyID": "access_key_id", "URL": "url", "VerifySSL": "verify_ssl", "IAMEndpoint": "iam_endpoint",
		"HuaweiIAMEndpoint": "huawei_iam_endpoint", "CacheTTL": "cache_ttl", "JSONFormat": "json_format",
		"ProjectIDs": "project_ids", "MaxSize": "max_size",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%s) = %s, want %s", in, got, want)
		}
	}
}
