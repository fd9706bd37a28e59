package natsx

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmssync/jmssync/libs/telemetry"
)

// instrumentation is the tracer and meter name of this package.
const instrumentation = "github.com/jmssync/jmssync/libs/natsx"

// Header names set by this package besides Nats-Msg-Id and the trace headers.
const (
	HeaderContentType = "content-type"
)

// Publish stores payload on subject with the deterministic message id msgID
// (Nats-Msg-Id: a repeat inside the stream's duplicate window is not stored
// again and the returned PubAck has Duplicate set) and the trace context of
// ctx in lower-case W3C headers. headers are copied onto the message.
func Publish(ctx context.Context, js jetstream.JetStream, subject string, payload []byte, msgID string, headers ...nats.Header) (*jetstream.PubAck, error) {
	if msgID == "" {
		return nil, fmt.Errorf("publish %s: %w", subject, ErrNoMsgID)
	}
	ctx, span := otel.Tracer(instrumentation).Start(ctx, "send "+subjectFamily(subject),
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("nats"),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingDestinationName(subject),
			semconv.MessagingMessageID(msgID),
		))
	defer span.End()
	m, err := newMsg(ctx, maxPayload(js), subject, payload, msgID, headers...)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return nil, fmt.Errorf("publish %s: %w", subject, err)
	}
	span.SetAttributes(attribute.Bool("messaging.nats.duplicate", ack.Duplicate), attribute.Int64("messaging.nats.stream_seq", int64(ack.Sequence)))
	return ack, nil
}

// PublishJSON marshals v and publishes it like [Publish], with
// content-type: application/json.
func PublishJSON(ctx context.Context, js jetstream.JetStream, subject string, v any, msgID string, headers ...nats.Header) (*jetstream.PubAck, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("publish %s: marshal: %w", subject, err)
	}
	return Publish(ctx, js, subject, b, msgID, append(headers, nats.Header{HeaderContentType: {"application/json"}})...)
}

// newMsg builds the message Publish and PublishEach send: headers copied,
// the trace context of ctx, the msg id; refused when larger than max (the
// server's max payload; no check when max <= 0).
func newMsg(ctx context.Context, max int64, subject string, payload []byte, msgID string, headers ...nats.Header) (*nats.Msg, error) {
	m := nats.NewMsg(subject)
	m.Data = payload
	for _, h := range headers {
		for k, vs := range h {
			m.Header[k] = append(m.Header[k], vs...)
		}
	}
	telemetry.InjectNATS(ctx, m.Header)
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	if size := int64(len(payload) + headerSize(m.Header)); max > 0 && size > max {
		return nil, fmt.Errorf("publish %s: %w: %d bytes, server max %d", subject, ErrPayloadTooLarge, size, max)
	}
	return m, nil
}

// maxPayload is the server's max payload, -1 when unknown.
func maxPayload(js jetstream.JetStream) int64 {
	if nc := js.Conn(); nc != nil {
		return nc.MaxPayload()
	}
	return -1
}

// subjectFamily is the low-cardinality part of a subject for span names:
// "jmssync.intent" for "jmssync.intent.aliyun.123.cn-hangzhou".
func subjectFamily(subject string) string {
	toks := strings.SplitN(subject, ".", 3)
	if len(toks) < 2 {
		return subject
	}
	return toks[0] + "." + toks[1]
}

// headerSize is the encoded size of h: "NATS/1.0\r\n", "k: v\r\n" per value, "\r\n".
func headerSize(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
