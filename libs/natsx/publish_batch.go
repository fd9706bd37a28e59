package natsx

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Outgoing is one message of [PublishBatch].
type Outgoing struct {
	Subject string
	Payload []byte
	MsgID   string // required, as for Publish
	Header  nats.Header
}

// DefaultBatchWindow is how many publishes [PublishBatch] keeps in flight.
const DefaultBatchWindow = 512

// batchAckTimeout bounds the wait for the acks of one window.
const batchAckTimeout = 30 * time.Second

// PublishBatch stores msgs in their order with up to window unacknowledged
// publishes in flight (DefaultBatchWindow when 0), and returns once every
// one is acknowledged. Waiting for each ack in turn, as Publish does, costs
// a round trip per message: a cycle of 10,000 intents took a second that
// way. The messages of one connection reach the stream in publish order.
// On an error some messages may be stored and others not; each carries its
// deterministic Nats-Msg-Id, so the caller retries the whole batch and the
// stored ones are dropped as duplicates. One span covers the batch and is
// the parent every message carries.
func PublishBatch(ctx context.Context, js jetstream.JetStream, msgs []Outgoing, window int) error {
	for _, o := range msgs { // refuse before sending anything
		if o.MsgID == "" {
			return fmt.Errorf("publish %s: %w", o.Subject, ErrNoMsgID)
		}
	}
	return PublishEach(ctx, js, len(msgs), func(i int) (Outgoing, error) { return msgs[i], nil }, window)
}

// PublishEach is PublishBatch for n messages that next makes one at a time,
// so that only the messages in flight are in memory (a cycle's 10,000
// intents encoded at once held 12 MB). An error from next, or a message
// without a msg id, ends the batch there: what was sent before stays sent.
func PublishEach(ctx context.Context, js jetstream.JetStream, n int, next func(i int) (Outgoing, error), window int) error {
	if n == 0 {
		return nil
	}
	if window <= 0 {
		window = DefaultBatchWindow
	}
	first, err := next(0)
	if err != nil {
		return err
	}
	family := subjectFamily(first.Subject)
	ctx, span := otel.Tracer(instrumentation).Start(ctx, "send "+family+" batch",
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("nats"),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingBatchMessageCount(n),
		))
	defer span.End()
	fail := func(err error) error {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return err
	}
	limit := maxPayload(js)
	inflight := make([]jetstream.PubAckFuture, 0, window)
	subjects := make([]string, 0, window)
	wait := func(n int) error {
		// An ack lost with a reconnect never arrives: bound the wait.
		timer := time.NewTimer(batchAckTimeout)
		defer timer.Stop()
		for i := range n {
			select {
			case <-inflight[i].Ok():
			case err := <-inflight[i].Err():
				return fmt.Errorf("publish %s: %w", subjects[i], err)
			case <-timer.C:
				return fmt.Errorf("publish %s: %w", subjects[i], context.DeadlineExceeded)
			case <-ctx.Done():
				return fmt.Errorf("publish %s: %w", subjects[i], ctx.Err())
			}
		}
		inflight = append(inflight[:0], inflight[n:]...)
		subjects = append(subjects[:0], subjects[n:]...)
		return nil
	}
	for i := range n {
		o := first
		if i > 0 {
			if o, err = next(i); err != nil {
				return fail(err)
			}
		}
		if o.MsgID == "" {
			return fail(fmt.Errorf("publish %s: %w", o.Subject, ErrNoMsgID))
		}
		m, err := newMsg(ctx, limit, o.Subject, o.Payload, o.MsgID, o.Header)
		if err != nil {
			return fail(err)
		}
		if len(inflight) == window {
			// Free half the window at once: waiting for one ack per publish
			// would make the loop as slow as synchronous publishing.
			if err := wait(max(window/2, 1)); err != nil { // at least one, for a window of 1
				return fail(err)
			}
		}
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			return fail(fmt.Errorf("publish %s: %w", o.Subject, err))
		}
		inflight = append(inflight, f)
		subjects = append(subjects, o.Subject)
	}
	if err := wait(len(inflight)); err != nil {
		return fail(err)
	}
	span.SetAttributes(attribute.Int("messaging.batch.acked", n))
	return nil
}
