package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jmssync/jmssync/libs/events"
)

func TestDecodeMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
		says string // a fragment the error must contain
	}{
		{"empty", "", events.ErrMalformed, "empty"},
		{"blank", " \n\t", events.ErrMalformed, "empty"},
		{"null", "null", events.ErrMalformed, "not a JSON object"},
		{"array", `[{"schema":"jmssync.alert/v1"}]`, events.ErrMalformed, "not a JSON object"},
		{"number", "42", events.ErrMalformed, "not a JSON object"},
		{"string", `"jmssync.alert/v1"`, events.ErrMalformed, "not a JSON object"},
		{"truncated", `{"schema":"jmssync.alert/v1","kind":"pa`, events.ErrMalformed, "unexpected end"},
		{"trailing garbage", `{"schema":"jmssync.alert/v1"} x`, events.ErrMalformed, "invalid character"},
		{"binary", "\x00\x01\x02", events.ErrMalformed, "not a JSON object"},
		{"no schema", `{"kind":"pass_failed"}`, events.ErrMalformed, `no "schema" field`},
		{"schema null", `{"schema":null}`, events.ErrMalformed, `"schema" is not a string`},
		{"schema number", `{"schema":1}`, events.ErrMalformed, `"schema" is not a string`},
		{"unknown family", `{"schema":"jmssync.nope/v1"}`, events.ErrUnknownSchema, "jmssync.nope/v1"},
		{"unknown family, malformed after", `{"schema":"jmssync.nope/v1","kind":`, events.ErrMalformed, "unexpected end"},
		{"malformed before the schema", `{"kind":pass,"schema":"jmssync.alert/v1"}`, events.ErrMalformed, "invalid character"},
		{"schema not first, wrong type", `{"kind":"x","schema":7}`, events.ErrMalformed, `"schema" is not a string`},
		{"future version", `{"schema":"jmssync.intent/v2"}`, events.ErrUnknownSchema, "jmssync.intent/v2"},
		{"empty schema", `{"schema":""}`, events.ErrUnknownSchema, `""`},
		{"wrong field type", `{"schema":"jmssync.snapshot.chunk/v1","index":"zero"}`, events.ErrMalformed, "index"},
		{"wrong nested type", `{"schema":"jmssync.snapshot.chunk/v1","instances":[{"private_ips":"10.0.0.1"}]}`, events.ErrMalformed, "private_ips"},
		{"bad uuid", `{"schema":"jmssync.intent/v1","asset_id":"nope"}`, events.ErrMalformed, "UUID"},
		{"bad time", `{"schema":"jmssync.alert/v1","raised_at":"yesterday"}`, events.ErrMalformed, "yesterday"},
		{"negative uint", `{"schema":"jmssync.intent/v1","generation":-1}`, events.ErrMalformed, "generation"},
		{"bad base64", `{"schema":"jmssync.dlq/v1","data":"%%%"}`, events.ErrMalformed, "base64"},
		{"valid json, empty message", `{"schema":"jmssync.intent/v1"}`, events.ErrInvalid, "op"},
		{"invalid intent names fields", `{"schema":"jmssync.intent/v1","op":"explode","generation":3}`, events.ErrInvalid, `unknown op "explode"`},
		{"invalid chunk", `{"schema":"jmssync.snapshot.chunk/v1","pass_id":"p1","index":0,"instances":null}`, events.ErrInvalid, "scope.provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := events.Decode([]byte(tt.in))
			if m != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Decode(%q) = %v, %v; want %v", tt.in, m, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestDecodeLongUnknownSchemaIsCut(t *testing.T) {
	_, err := events.Decode([]byte(`{"schema":"` + strings.Repeat("界", 200) + `"}`))
	if !errors.Is(err, events.ErrUnknownSchema) || len(err.Error()) > 200 {
		t.Fatalf("err = %v", err)
	}
	if !strings.HasSuffix(err.Error(), `…"`) {
		t.Fatalf("not cut at a rune: %q", err)
	}
}

func TestDecodeTypes(t *testing.T) {
	for _, m := range realMessages(t) {
		data, err := events.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := events.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		switch got.(type) {
		case *events.SnapshotChunk, *events.PassClose, *events.Intent, *events.AppliedFact,
			*events.RunRecord, *events.Alert, *events.DeadLetter:
			ok = got.SchemaID() == m.SchemaID()
		}
		if !ok {
			t.Fatalf("Decode of a %s gave %T", m.SchemaID(), got)
		}
	}
}

// The schema field is found wherever it stands, not only first (as our
// encoders write it).
func TestDecodeSchemaNotFirst(t *testing.T) {
	for _, m := range realMessages(t) {
		data, err := events.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(data, &fields); err != nil {
			t.Fatal(err)
		}
		schema := fields["schema"]
		delete(fields, "schema")
		moved, _ := json.Marshal(fields) // keys sorted: "schema" goes last
		moved = append(moved[:len(moved)-1], []byte(`,"schema":`+string(schema)+`}`)...)
		got, err := events.Decode(moved)
		if err != nil || got.SchemaID() != m.SchemaID() {
			t.Fatalf("%s with schema last: %v, %v", m.SchemaID(), got, err)
		}
	}
}

func TestDecodeAs(t *testing.T) {
	msgs := realMessages(t)
	var intent, alert []byte
	for _, m := range msgs {
		b, _ := events.Encode(m)
		switch m.(type) {
		case *events.Intent:
			intent = b
		case *events.Alert:
			alert = b
		}
	}
	it, err := events.DecodeAs[*events.Intent](intent)
	if err != nil || it.Generation == 0 {
		t.Fatalf("DecodeAs intent: %v, %v", it, err)
	}
	if _, err := events.DecodeAs[*events.Intent](alert); !errors.Is(err, events.ErrUnknownSchema) ||
		!strings.Contains(err.Error(), "jmssync.alert/v1") {
		t.Fatalf("DecodeAs of an alert as intent: %v", err)
	}
	if _, err := events.DecodeAs[*events.Intent]([]byte("{")); !errors.Is(err, events.ErrMalformed) {
		t.Fatalf("DecodeAs of junk: %v", err)
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	a := events.NewAlert(events.AlertPassFailed, events.SeverityWarning, nil, "", "id", "reconciler", t0, nil)
	if _, err := events.Encode(a); !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), "message: required") {
		t.Fatalf("Encode of an alert without message: %v", err)
	}
}

// FuzzDecode: Decode never panics; whatever it accepts conforms to the
// schema and survives encode/decode unchanged.
func FuzzDecode(f *testing.F) {
	for _, m := range realMessages(f) {
		b, _ := events.Encode(m)
		f.Add(b)
	}
	for _, s := range []string{"", "{}", `{"schema":"jmssync.intent/v1"}`, `{"schema":1}`, "[", "null"} {
		f.Add([]byte(s))
	}
	s := schemas(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := events.Decode(data)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrUnknownSchema) && !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		out, err := events.Encode(m)
		if err != nil {
			t.Fatalf("accepted but cannot re-encode: %v", err)
		}
		if err := s.validate(events.SchemaFiles[m.SchemaID()], out); err != nil {
			t.Fatalf("Decode accepted what the schema rejects: %v\n%s", err, out)
		}
		m2, err := events.Decode(out)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		out2, _ := events.Encode(m2)
		if string(out2) != string(out) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}
