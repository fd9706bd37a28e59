package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/jmssync/jmssync/libs/events"
)

const (
	schemasDir = "../../schemas"
	idBase     = "https://github.com/jmssync/jmssync/raw/main/schemas/"
)

// schemaSet is every schema file of schemas/, loaded and compiled once.
type schemaSet struct {
	docs     map[string]map[string]any // file name → parsed document
	compiled map[string]*jsonschema.Schema
}

var (
	loadOnce sync.Once
	loaded   *schemaSet
	loadErr  error
)

func schemas(t testing.TB) *schemaSet {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = loadSchemas() })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

func loadSchemas() (*schemaSet, error) {
	files, err := filepath.Glob(filepath.Join(schemasDir, "*.json"))
	if err != nil || len(files) == 0 {
		return nil, errors.Join(errors.New("no schema files in "+schemasDir), err)
	}
	s := &schemaSet{docs: map[string]map[string]any{}, compiled: map[string]*jsonschema.Schema{}}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, errors.Join(errors.New(f), err)
		}
		m, ok := doc.(map[string]any)
		name := filepath.Base(f)
		if !ok || m["$id"] != idBase+name || m["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			return nil, errors.New(name + ": $id must be " + idBase + name + " and $schema draft 2020-12")
		}
		s.docs[name] = m
		if err := c.AddResource(idBase+name, doc); err != nil {
			return nil, err
		}
	}
	for name := range s.docs {
		sch, err := c.Compile(idBase + name)
		if err != nil {
			return nil, errors.Join(errors.New("compile "+name), err)
		}
		s.compiled[name] = sch
	}
	return s, nil
}

func (s *schemaSet) validate(file string, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	sch := s.compiled[file]
	if sch == nil {
		return errors.New("no schema " + file)
	}
	return sch.Validate(v)
}

// messageSchemas are the files whose documents describe a message: they fix
// the "schema" property with a const.
func (s *schemaSet) messageSchemas() map[string]string {
	out := map[string]string{}
	for name, doc := range s.docs {
		if props, ok := doc["properties"].(map[string]any); ok {
			if sp, ok := props["schema"].(map[string]any); ok {
				if c, ok := sp["const"].(string); ok {
					out[c] = name
				}
			}
		}
	}
	return out
}

func TestSchemaFilesMatchGo(t *testing.T) {
	s := schemas(t)
	if got := s.messageSchemas(); !maps.Equal(got, events.SchemaFiles) {
		t.Fatalf("schema files %v\ndo not match events.SchemaFiles %v", got, events.SchemaFiles)
	}
}

func TestConformance(t *testing.T) {
	s := schemas(t)
	seen := map[string]int{}
	for _, m := range realMessages(t) {
		file := events.SchemaFiles[m.SchemaID()]
		seen[m.SchemaID()]++
		data, err := events.Encode(m)
		if err != nil {
			t.Fatalf("encode %s: %v", m.SchemaID(), err)
		}
		if err := s.validate(file, data); err != nil {
			t.Fatalf("%s does not conform to %s: %v\n%s", m.SchemaID(), file, err, data)
		}
		var obj any
		_ = json.Unmarshal(data, &obj)
		if extra := s.undocumented(file, "", s.docs[file], obj); len(extra) > 0 {
			t.Errorf("%s emits properties %s has no word for: %v", m.SchemaID(), file, extra)
		}
		back, err := events.Decode(data)
		if err != nil {
			t.Fatalf("decode own %s: %v", m.SchemaID(), err)
		}
		again, err := events.Encode(back)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("%s does not survive decode/encode (%v):\n%s\n%s", m.SchemaID(), err, data, again)
		}
	}
	for id := range events.SchemaFiles {
		if seen[id] == 0 {
			t.Errorf("no real %s message was checked", id)
		}
	}
}

// TestConformanceNegative removes, one at a time, every property of real
// messages (at any depth, first element of arrays): the schema and Decode
// must agree on whether it was required — except where Go cannot tell a
// missing field from its zero value and the schema accepts that zero value.
// Every top-level property the schema requires must be rejected when missing.
func TestConformanceNegative(t *testing.T) {
	s := schemas(t)
	required := 0
	for _, m := range realMessages(t) {
		file := events.SchemaFiles[m.SchemaID()]
		data, _ := events.Encode(m)
		if s.validate(file, data) != nil {
			continue // TestConformance reports it; every mutation would fail for that reason
		}
		var obj map[string]any
		if err := json.Unmarshal(data, &obj); err != nil {
			t.Fatal(err)
		}
		req, _ := s.docs[file]["required"].([]any)
		if len(req) < 2 {
			t.Fatalf("%s requires too little: %v", file, req)
		}
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				t.Errorf("real %s lacks required %q", m.SchemaID(), r)
			}
			required++
		}
		for _, path := range propertyPaths(obj, nil, 4) {
			name := pathString(path)
			if name == "schema" {
				continue
			}
			missing := mutate(obj, func(o map[string]any) { setAt(o, path, nil, true) })
			zeroed := mutate(obj, func(o map[string]any) { setAt(o, path, zeroLike(getAt(o, path)), false) })
			schemaOK := s.validate(file, missing) == nil
			_, derr := events.Decode(missing)
			switch {
			case schemaOK && derr != nil:
				t.Errorf("%s: schema says %s is optional, Decode requires it: %v", m.SchemaID(), name, derr)
			case !schemaOK && derr == nil && s.validate(file, zeroed) != nil:
				t.Errorf("%s: schema requires %s, Decode accepts it missing", m.SchemaID(), name)
			case !schemaOK && derr != nil && !strings.Contains(derr.Error(), lastKey(path)) && !errors.Is(derr, events.ErrMalformed):
				t.Errorf("%s: Decode error for missing %s does not name it: %v", m.SchemaID(), name, derr)
			}
		}
		// A wrong type is rejected by both.
		for key := range obj {
			if key == "schema" {
				continue
			}
			wrong := mutate(obj, func(o map[string]any) { o[key] = []any{true} })
			if s.validate(file, wrong) == nil {
				t.Errorf("%s accepts %q as an array of booleans", file, key)
			}
			if _, err := events.Decode(wrong); err == nil {
				t.Errorf("Decode accepts %s.%s as an array of booleans", m.SchemaID(), key)
			}
		}
		// Unknown properties: closed internal schemas reject them, open ones
		// accept them; Decode ignores them either way.
		extra := mutate(obj, func(o map[string]any) { o["added_in_v1_1"] = "x" })
		closed := s.docs[file]["additionalProperties"] == false
		if err := s.validate(file, extra); (err == nil) == closed {
			t.Errorf("%s (closed=%v) on an unknown property: %v", file, closed, err)
		}
		if _, err := events.Decode(extra); err != nil {
			t.Errorf("Decode rejects an additive property: %v", err)
		}
	}
	if required < 40 {
		t.Errorf("only %d required properties exercised", required)
	}
}

// propertyPaths lists the paths of every property of obj down to depth,
// entering the first element of arrays of objects.
func propertyPaths(v any, prefix []any, depth int) [][]any {
	if depth == 0 {
		return nil
	}
	var out [][]any
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			p := append(slices.Clone(prefix), k)
			out = append(out, p)
			out = append(out, propertyPaths(x[k], p, depth-1)...)
		}
	case []any:
		if len(x) > 0 {
			out = append(out, propertyPaths(x[0], append(slices.Clone(prefix), 0), depth)...)
		}
	}
	return out
}

func pathString(p []any) string {
	var b strings.Builder
	for i, tok := range p {
		switch k := tok.(type) {
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			b.WriteString("[" + strconv.Itoa(k) + "]")
		}
	}
	return b.String()
}

func lastKey(p []any) string {
	for i := len(p) - 1; i >= 0; i-- {
		if k, ok := p[i].(string); ok {
			return k
		}
	}
	return ""
}

func getAt(v any, p []any) any {
	for _, tok := range p {
		switch k := tok.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

// setAt sets (or deletes) the property at path p.
func setAt(o map[string]any, p []any, val any, del bool) {
	parent := getAt(o, p[:len(p)-1]).(map[string]any)
	k := p[len(p)-1].(string)
	if del {
		delete(parent, k)
	} else {
		parent[k] = val
	}
}

func TestConformanceSemanticNegatives(t *testing.T) {
	s := schemas(t)
	msgs := realMessages(t)
	first := func(id string) map[string]any {
		for _, m := range msgs {
			if m.SchemaID() == id {
				b, _ := events.Encode(m)
				var o map[string]any
				_ = json.Unmarshal(b, &o)
				return o
			}
		}
		t.Fatalf("no %s", id)
		return nil
	}
	tests := []struct {
		name   string
		schema string
		edit   func(o map[string]any)
	}{
		{"wrong schema const", events.SchemaIntent, func(o map[string]any) { o["schema"] = "jmssync.intent/v2" }},
		{"unknown intent op", events.SchemaIntent, func(o map[string]any) { o["op"] = "explode" }},
		{"generation zero", events.SchemaIntent, func(o map[string]any) { o["generation"] = 0 }},
		{"bad asset id", events.SchemaIntent, func(o map[string]any) { o["asset_id"] = "not-a-uuid" }},
		{"create without desired", events.SchemaIntent, func(o map[string]any) { delete(o, "desired") }},
		{"desired without protocols", events.SchemaIntent, func(o map[string]any) {
			o["desired"].(map[string]any)["protocols"] = []any{}
		}},
		{"relative node path", events.SchemaIntent, func(o map[string]any) { o["desired"].(map[string]any)["node_path"] = "DEFAULT/x" }},
		{"pass id with a dot", events.SchemaSnapshotChunk, func(o map[string]any) { o["pass_id"] = "a.b" }},
		{"negative index", events.SchemaSnapshotChunk, func(o map[string]any) { o["index"] = -1 }},
		{"instance with bad ip", events.SchemaSnapshotChunk, func(o map[string]any) {
			o["instances"].([]any)[0].(map[string]any)["private_ips"] = []any{"300.1.1.1"}
		}},
		{"instance with bad os", events.SchemaSnapshotChunk, func(o map[string]any) {
			o["instances"].([]any)[0].(map[string]any)["os_type"] = "Linux"
		}},
		{"instance without id", events.SchemaSnapshotChunk, func(o map[string]any) {
			delete(o["instances"].([]any)[0].(map[string]any), "instance_id")
		}},
		{"instance with control char", events.SchemaSnapshotChunk, func(o map[string]any) {
			o["instances"].([]any)[0].(map[string]any)["name"] = "a\u0007b"
		}},
		{"scope without region", events.SchemaSnapshotChunk, func(o map[string]any) { delete(o["scope"].(map[string]any), "region") }},
		{"unknown provider", events.SchemaSnapshotChunk, func(o map[string]any) { o["scope"].(map[string]any)["provider"] = "aws" }},
		{"complete without digest", events.SchemaPassClose, func(o map[string]any) { delete(o, "digest") }},
		{"complete with reason", events.SchemaPassClose, func(o map[string]any) { o["reason"] = "api_error" }},
		{"short digest", events.SchemaPassClose, func(o map[string]any) { o["digest"] = "abc" }},
		{"bad time", events.SchemaPassClose, func(o map[string]any) { o["started_at"] = "yesterday" }},
		{"bad probe outcome", events.SchemaPassClose, func(o map[string]any) { o["probes"].([]any)[0].(map[string]any)["outcome"] = "maybe" }},
		{"created with before", events.SchemaAssetApplied, func(o map[string]any) { o["before"] = o["after"] }},
		{"url with credentials", events.SchemaAssetApplied, func(o map[string]any) {
			o["jumpserver"].(map[string]any)["url"] = "https://admin:pw@jms.example.com"
		}},
		{"open run with summary", events.SchemaRunRecord, func(o map[string]any) { o["summary"] = map[string]any{} }},
		{"alert with secret detail", events.SchemaAlert, func(o map[string]any) {
			o["details"].(map[string]any)["access_key_secret"] = "LTAI…"
		}},
		{"alert with bad severity", events.SchemaAlert, func(o map[string]any) { o["severity"] = "panic" }},
		{"alert with blank message", events.SchemaAlert, func(o map[string]any) { o["message"] = "  " }},
		{"dead letter bad reason", events.SchemaDeadLetter, func(o map[string]any) { o["reason"] = "Bad Reason" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := mutate(first(tt.schema), tt.edit)
			if err := s.validate(events.SchemaFiles[tt.schema], data); err == nil {
				t.Errorf("schema accepts it:\n%s", data)
			}
			if _, err := events.Decode(data); err == nil {
				t.Errorf("Decode accepts it:\n%s", data)
			}
		})
	}
}

func mutate(obj map[string]any, edit func(map[string]any)) []byte {
	var cp map[string]any
	b, _ := json.Marshal(obj)
	_ = json.Unmarshal(b, &cp)
	edit(cp)
	out, _ := json.Marshal(cp)
	return out
}

func zeroLike(v any) any {
	switch v.(type) {
	case float64:
		return 0
	case bool:
		return false
	case string:
		return ""
	case []any:
		return []any{}
	}
	return nil
}

// undocumented lists the properties of v that the schema node does not
// declare, following $ref (within and across files), items,
// additionalProperties schemas and anyOf branches.
func (s *schemaSet) undocumented(file, path string, node map[string]any, v any) []string {
	if ref, ok := node["$ref"].(string); ok {
		f, n := s.resolve(file, ref)
		if out := s.undocumented(f, path, n, v); len(out) > 0 {
			return out
		}
	}
	if branches, ok := node["anyOf"].([]any); ok && v != nil {
		var best []string
		for _, b := range branches {
			if typ, ok := b.(map[string]any)["type"].(string); ok && typ != jsonType(v) {
				continue // a branch for another kind of value, such as the null of a nullable
			}
			out := s.undocumented(file, path, b.(map[string]any), v)
			if len(out) == 0 {
				best = nil
				break
			}
			if best == nil || len(out) < len(best) {
				best = out
			}
		}
		if len(best) > 0 {
			return best
		}
	}
	var out []string
	switch val := v.(type) {
	case map[string]any:
		props, hasProps := node["properties"].(map[string]any)
		addl, hasAddl := node["additionalProperties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(val)) {
			switch {
			case hasProps && props[k] != nil:
				out = append(out, s.undocumented(file, path+"."+k, props[k].(map[string]any), val[k])...)
			case hasAddl:
				out = append(out, s.undocumented(file, path+"."+k, addl, val[k])...)
			case hasProps:
				out = append(out, path+"."+k)
			}
		}
	case []any:
		if items, ok := node["items"].(map[string]any); ok {
			for _, e := range val {
				out = append(out, s.undocumented(file, path+"[]", items, e)...)
			}
		}
	}
	return out
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return "number"
}

func (s *schemaSet) resolve(file, ref string) (string, map[string]any) {
	f, frag, _ := strings.Cut(ref, "#")
	if f == "" {
		f = file
	}
	node := any(s.docs[f])
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		node = node.(map[string]any)[tok]
	}
	return f, node.(map[string]any)
}

// TestSchemasAreDocumented checks that every schema file appears in a table
// row of schemas/README.md (message schemas in a row with their subject and
// "schema" value) and is referenced from schemas/asyncapi.yaml, whose own
// references all resolve.
func TestSchemasAreDocumented(t *testing.T) {
	s := schemas(t)
	readme, err := os.ReadFile(filepath.Join(schemasDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "|") {
			rows = append(rows, l)
		}
	}
	consts := map[string]string{}
	for c, f := range s.messageSchemas() {
		consts[f] = c
	}
	for file := range s.docs {
		found := false
		for _, r := range rows {
			if !strings.Contains(r, "("+file+")") {
				continue
			}
			if c, ok := consts[file]; ok && (!strings.Contains(r, "`jmssync.") || !strings.Contains(r, "`"+c+"`")) {
				continue
			}
			found = true
		}
		if !found {
			t.Errorf("README.md has no table row for %s (with subject and schema value for messages)", file)
		}
	}

	raw, err := os.ReadFile(filepath.Join(schemasDir, "asyncapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["asyncapi"] != "3.0.0" {
		t.Errorf("asyncapi = %v, want 3.0.0", doc["asyncapi"])
	}
	var refs []string
	collectRefs(doc, &refs)
	files := map[string]bool{}
	for _, r := range refs {
		if strings.HasPrefix(r, "#/") {
			if _, ok := pointer(doc, r[2:]); !ok {
				t.Errorf("asyncapi.yaml: %s does not resolve", r)
			}
			continue
		}
		f := strings.TrimPrefix(strings.SplitN(r, "#", 2)[0], "./")
		if _, ok := s.docs[f]; !ok {
			t.Errorf("asyncapi.yaml references %s, which is not a schema file", r)
		}
		files[f] = true
	}
	for file := range s.docs {
		if !files[file] {
			t.Errorf("asyncapi.yaml does not reference %s", file)
		}
	}
	// Channel addresses are jmssync subjects whose {parameters} are all declared.
	channels, _ := doc["channels"].(map[string]any)
	if len(channels) < len(events.SchemaFiles) {
		t.Errorf("asyncapi.yaml has %d channels, want at least %d", len(channels), len(events.SchemaFiles))
	}
	param := regexp.MustCompile(`\{([A-Za-z]+)\}`)
	for name, c := range channels {
		ch := c.(map[string]any)
		addr, _ := ch["address"].(string)
		if !strings.HasPrefix(addr, "jmssync.") {
			t.Errorf("channel %s: address %q", name, addr)
		}
		params, _ := ch["parameters"].(map[string]any)
		var want []string
		for _, m := range param.FindAllStringSubmatch(addr, -1) {
			want = append(want, m[1])
		}
		if got := slices.Sorted(maps.Keys(params)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("channel %s: parameters %v, address needs %v", name, got, want)
		}
	}
}

func collectRefs(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				*out = append(*out, s)
			} else {
				collectRefs(e, out)
			}
		}
	case []any:
		for _, e := range x {
			collectRefs(e, out)
		}
	}
}

func pointer(doc any, p string) (any, bool) {
	for _, tok := range strings.Split(p, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, false
		}
		if doc, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return doc, true
}
