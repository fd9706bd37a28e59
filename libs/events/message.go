package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Schema identifiers: the value of the "schema" field of each message type
// and version. Each has a JSON Schema file in schemas/ (SchemaFiles).
const (
	SchemaSnapshotChunk = "jmssync.snapshot.chunk/v1"
	SchemaPassClose     = "jmssync.pass.close/v1"
	SchemaIntent        = "jmssync.intent/v1"
	SchemaAssetApplied  = "jmssync.asset.applied/v1"
	SchemaRunRecord     = "jmssync.run.record/v1"
	SchemaAlert         = "jmssync.alert/v1"
	SchemaDeadLetter    = "jmssync.dlq/v1"
)

// SchemaFiles maps every schema identifier to its file name in schemas/.
var SchemaFiles = map[string]string{
	SchemaSnapshotChunk: "snapshot-chunk.v1.json",
	SchemaPassClose:     "pass-close.v1.json",
	SchemaIntent:        "intent.v1.json",
	SchemaAssetApplied:  "asset-applied.v1.json",
	SchemaRunRecord:     "run-record.v1.json",
	SchemaAlert:         "alert.v1.json",
	SchemaDeadLetter:    "dead-letter.v1.json",
}

// Message is implemented by a pointer to every message type.
type Message interface {
	// SchemaID is the schema identifier of the type (a constant, whatever the
	// "schema" field holds).
	SchemaID() string
	// Validate reports every contract violation at once; the error wraps
	// ErrInvalid and names the fields by their JSON paths.
	Validate() error
	// MsgID is a deterministic Nats-Msg-Id for JetStream de-duplication: the
	// same logical message published twice yields the same id.
	MsgID() string
}

// newFor returns a fresh value of the type a schema identifier names.
func newFor(schema string) Message {
	switch schema {
	case SchemaSnapshotChunk:
		return new(SnapshotChunk)
	case SchemaPassClose:
		return new(PassClose)
	case SchemaIntent:
		return new(Intent)
	case SchemaAssetApplied:
		return new(AppliedFact)
	case SchemaRunRecord:
		return new(RunRecord)
	case SchemaAlert:
		return new(Alert)
	case SchemaDeadLetter:
		return new(DeadLetter)
	}
	return nil
}

// Decode reads any jms-sync message without looking at its subject: it reads
// the "schema" field, decodes into the matching type and validates it. The
// result is one of *SnapshotChunk, *PassClose, *Intent, *AppliedFact,
// *RunRecord, *Alert, *DeadLetter. The error wraps ErrMalformed,
// ErrUnknownSchema or ErrInvalid and its text says what is wrong, fit to be
// the reason of a dead letter. Unknown fields are ignored (additive changes
// keep the version).
func Decode(data []byte) (Message, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	schema, err := schemaOf(trimmed)
	if err != nil {
		return nil, err
	}
	m := newFor(schema)
	if m == nil {
		if err := json.Unmarshal(trimmed, new(json.RawMessage)); err != nil { // malformed says more than unknown
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return nil, fmt.Errorf("%w: %q", ErrUnknownSchema, truncate(schema, 80))
	}
	if err := json.Unmarshal(trimmed, m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, schema, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// schemaOf reads the top-level "schema" field with a streaming decoder,
// stopping there: encoders write it first, so finding it costs a few
// bytes where unmarshalling the whole message a second time cost a third
// of the decode of a large chunk. Malformed JSON further on is the full
// decode's to report.
func schemaOf(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // '{', checked by the caller
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if key != "schema" {
			continue
		}
		var schema string
		if err := json.Unmarshal(raw, &schema); err != nil || bytes.Equal(raw, []byte("null")) {
			return "", fmt.Errorf("%w: \"schema\" is not a string", ErrMalformed)
		}
		return schema, nil
	}
	if _, err := dec.Token(); err != nil { // '}'
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return "", fmt.Errorf("%w: no \"schema\" field", ErrMalformed)
}

// DecodeAs decodes data with Decode and checks that it is of type T (a
// pointer type such as *Intent).
func DecodeAs[T Message](data []byte) (T, error) {
	var zero T
	m, err := Decode(data)
	if err != nil {
		return zero, err
	}
	t, ok := m.(T)
	if !ok {
		return zero, fmt.Errorf("%w: got a %s message, want %s", ErrUnknownSchema, m.SchemaID(), zero.SchemaID())
	}
	return t, nil
}

// Encode validates m and returns its JSON encoding. Producers publish only
// through Encode, so nothing invalid reaches the bus.
func Encode(m Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.SchemaID(), err)
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// NewPassID returns a fresh pass id: a UUIDv7 (time-ordered), valid as a
// subject token.
func NewPassID() string { return newV7() }

// NewRunID returns a fresh run id: a UUIDv7 (time-ordered), valid as a
// subject token.
func NewRunID() string { return newV7() }

func newV7() string {
	id, err := uuid.NewV7()
	if err != nil { // only when the system's random source fails
		return uuid.NewString()
	}
	return id.String()
}

// checkTime adds a problem when t is the zero time.
func (p *problems) time(field string, t time.Time) {
	if t.IsZero() {
		p.add(field, "required")
	}
}
