package events

import (
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DeadLetter wraps a message a service could not process and will not
// retry: malformed, of an unknown schema, or permanently rejected. It goes on
// jmssync.dlq.<service>; the stream goes on.
type DeadLetter struct {
	Schema  string `json:"schema"`
	Service string `json:"service"` // who gave up
	// Reason is a snake_case code: malformed, unknown_schema, invalid,
	// rejected, max_deliveries…; Error the text (a Decode error, never a secret).
	Reason    string `json:"reason"`
	Error     string `json:"error"`
	Subject   string `json:"subject"`
	Stream    string `json:"stream,omitempty"`
	StreamSeq uint64 `json:"stream_seq,omitempty"`
	Delivered int    `json:"delivered,omitempty"`
	// Data is the original payload, base64 in JSON, cut to a bounded size.
	Data      []byte    `json:"data"`
	Truncated bool      `json:"truncated,omitempty"`
	TraceID   string    `json:"trace_id,omitempty"`
	At        time.Time `json:"at"`
}

// MaxDeadLetterData bounds the payload copied into a dead letter.
const MaxDeadLetterData = 256 << 10

// NewDeadLetter builds a dead letter; data longer than MaxDeadLetterData is cut.
func NewDeadLetter(service, reason string, cause error, subject, stream string, seq uint64, delivered int,
	data []byte, at time.Time,
) *DeadLetter {
	d := &DeadLetter{
		Schema: SchemaDeadLetter, Service: service, Reason: reason, Subject: subject, Stream: stream,
		StreamSeq: seq, Delivered: delivered, Data: data, At: at.UTC(),
	}
	if cause != nil {
		d.Error = truncate(strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, strings.ToValidUTF8(cause.Error(), "\uFFFD")), 2000)
	}
	if d.Data == nil {
		d.Data = []byte{}
	}
	if len(d.Data) > MaxDeadLetterData {
		d.Data, d.Truncated = d.Data[:MaxDeadLetterData], true
	}
	return d
}

func (*DeadLetter) SchemaID() string { return SchemaDeadLetter }

// MsgID is "<service>:<stream>:<seq>" (or the subject when there is no stream).
func (d *DeadLetter) MsgID() string {
	if d.Stream == "" {
		return d.Service + ":" + d.Subject + ":" + d.At.Format(time.RFC3339Nano)
	}
	return d.Service + ":" + d.Stream + ":" + strconv.FormatUint(d.StreamSeq, 10)
}

func (d *DeadLetter) Validate() error {
	p := problems{schema: SchemaDeadLetter}
	p.schemaField(d.Schema)
	p.text("service", d.Service, true)
	if !codeRE.MatchString(d.Reason) {
		p.add("reason", "required: a snake_case code, not %q", d.Reason)
	}
	p.text("error", d.Error, true)
	p.text("subject", d.Subject, true)
	p.text("stream", d.Stream, false)
	if d.Data == nil {
		p.add("data", "required (may be empty)")
	}
	if len(d.Data) > MaxDeadLetterData {
		p.add("data", "longer than %d bytes", MaxDeadLetterData)
	}
	p.time("at", d.At)
	return p.err()
}
