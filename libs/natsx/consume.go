package natsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/telemetry"
)

// Handler processes one message. Its result decides what happens to it:
//
//	nil                  ack
//	Retry(after, err)    nak with that delay; never dead-lettered (waiting on an outage)
//	Poison(reason, err)  copy to jmssync.dlq.<service> with the reason, then terminate
//	any other error      nak with a capped exponential delay from the delivery
//	                     count; dead-lettered ("max_attempts") after MaxAttempts deliveries
//
// ctx carries the trace context from the message headers (the handler runs in
// a consumer span, child of the publisher's span) and a logger with the
// message's subject, stream sequence and msg id ([logging.Ctx]). A panic is
// recovered and treated as an unknown error.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// RetryError asks for redelivery after a delay; see [Retry].
type RetryError struct {
	After time.Duration
	Err   error
}

func (e *RetryError) Error() string { return fmt.Sprintf("retry after %s: %v", e.After, e.Err) }
func (e *RetryError) Unwrap() error { return e.Err }

// Retry returns an error that makes Consume nak the message with delay after
// (the consumer's BackOff does not apply to naks, so the delay is explicit).
// Use it for transient conditions such as an open circuit breaker.
func Retry(after time.Duration, err error) error { return &RetryError{After: after, Err: err} }

// PoisonError marks a message that can never succeed; see [Poison].
type PoisonError struct {
	Reason string
	Err    error
}

func (e *PoisonError) Error() string { return fmt.Sprintf("poison (%s): %v", e.Reason, e.Err) }
func (e *PoisonError) Unwrap() error { return e.Err }

// Poison returns an error that makes Consume dead-letter the message with
// reason (a short machine-readable word such as "malformed" or
// "unknown_version") and terminate it.
func Poison(reason string, err error) error { return &PoisonError{Reason: reason, Err: err} }

// Dead-letter reasons set by Consume itself.
const (
	ReasonMaxAttempts = "max_attempts"
	ReasonMalformed   = "malformed"
)

// Headers of a dead letter. The original payload and non-"Nats-" headers
// (trace context included) are kept; the original Nats-Msg-Id moves to
// HeaderDLQMsgID.
const (
	HeaderDLQReason     = "jmssync-dlq-reason"
	HeaderDLQError      = "jmssync-dlq-error" // masked with logging.Redact, at most 1 KiB
	HeaderDLQService    = "jmssync-dlq-service"
	HeaderDLQSubject    = "jmssync-dlq-subject"
	HeaderDLQStream     = "jmssync-dlq-stream"
	HeaderDLQStreamSeq  = "jmssync-dlq-stream-seq"
	HeaderDLQConsumer   = "jmssync-dlq-consumer"
	HeaderDLQDeliveries = "jmssync-dlq-deliveries"
	HeaderDLQMsgID      = "jmssync-dlq-msg-id"
	HeaderDLQTime       = "jmssync-dlq-time"
)

// ConsumeOptions configures [Consume]. Service and JS are required.
type ConsumeOptions struct {
	// Service names the dead-letter subject (jmssync.dlq.<service>) and
	// labels logs and metrics.
	Service string
	// JS publishes dead letters.
	JS jetstream.JetStream
	// Logger for the loop and base of the per-message logger.
	Logger zerolog.Logger
	// Gate, when set, is checked before every fetch: while it is paused
	// nothing is fetched (messages wait in the stream; nothing is nak'ed or
	// dead-lettered for waiting).
	Gate *Gate
	// Batch is the number of messages per fetch (1 when 0).
	Batch int
	// FetchWait is how long one pull request waits for messages (5s when 0).
	// A Pause takes effect at the latest after the pull in flight.
	FetchWait time.Duration
	// MaxAttempts before an unknown error is dead-lettered (10 when 0;
	// capped by the consumer's MaxDeliver when that is lower).
	MaxAttempts int
	// BackoffBase and BackoffMax bound the nak delay of unknown errors:
	// base·2^(deliveries-1), at most max (1s and 5m when 0).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Heartbeat is how often a running handler's message is marked in
	// progress (resetting AckWait): AckWait/2 when 0; negative disables it.
	Heartbeat time.Duration
}

// Consume fetches messages from consumer one batch at a time and runs h on
// each, in order, until ctx is done (then it returns nil). It returns an
// error for invalid options or when the consumer is deleted. Run several
// Consume calls on one consumer for parallelism.
func Consume(ctx context.Context, consumer jetstream.Consumer, h Handler, o ConsumeOptions) error {
	if o.Service == "" || o.JS == nil || h == nil {
		return errors.New("natsx: Consume needs a handler, ConsumeOptions.Service and ConsumeOptions.JS")
	}
	if o.Batch <= 0 {
		o.Batch = 1
	}
	if o.FetchWait <= 0 {
		o.FetchWait = 5 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Minute
	}
	info := consumer.CachedInfo()
	if info == nil {
		return errors.New("natsx: consumer without cached info")
	}
	if md := info.Config.MaxDeliver; md > 0 && md < o.MaxAttempts {
		o.MaxAttempts = md
	}
	if o.Heartbeat == 0 {
		ackWait := info.Config.AckWait
		if ackWait <= 0 {
			ackWait = 30 * time.Second
		}
		o.Heartbeat = ackWait / 2
	}

	c := &consumeLoop{
		o:        o,
		h:        h,
		name:     info.Name,
		stream:   info.Stream,
		maxDeliv: info.Config.MaxDeliver,
		log:      o.Logger.With().Str("service", o.Service).Str("stream", info.Stream).Str("consumer", info.Name).Logger(),
	}
	c.initMetrics()

	for {
		if ctx.Err() != nil {
			return nil
		}
		if o.Gate != nil {
			if err := o.Gate.Wait(ctx); err != nil {
				return nil
			}
		}
		fctx, cancel := context.WithTimeout(ctx, o.FetchWait)
		batch, err := consumer.Fetch(o.Batch, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				return fmt.Errorf("consume %s/%s: %w", info.Stream, info.Name, err)
			}
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn().Err(err).Msg("fetch failed")
			sleep(ctx, time.Second)
			continue
		}
		for msg := range batch.Messages() {
			c.process(ctx, msg)
		}
		cancel()
		if err := batch.Error(); err != nil && ctx.Err() == nil &&
			!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !errors.Is(err, nats.ErrTimeout) {
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				return fmt.Errorf("consume %s/%s: %w", info.Stream, info.Name, err)
			}
			c.log.Warn().Err(err).Msg("fetch ended with an error")
			sleep(ctx, 200*time.Millisecond)
		}
	}
}

type consumeLoop struct {
	o        ConsumeOptions
	h        Handler
	name     string
	stream   string
	maxDeliv int
	log      zerolog.Logger

	processed metric.Int64Counter
	duration  metric.Float64Histogram
}

func (c *consumeLoop) initMetrics() {
	m := otel.Meter(instrumentation)
	c.processed, _ = m.Int64Counter("jmssync.messages.processed",
		metric.WithDescription("Messages handled by a consume loop, by outcome (ack, retry, nak, dead_letter, error)."),
		metric.WithUnit("{message}"))
	c.duration, _ = m.Float64Histogram("jmssync.messages.handle.duration",
		metric.WithDescription("Time spent in message handlers."), metric.WithUnit("s"))
}

func (c *consumeLoop) process(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		c.log.Error().Err(err).Str("subject", msg.Subject()).Msg("message without metadata")
		return
	}
	msgID := msg.Headers().Get(jetstream.MsgIDHeader)
	log := c.log.With().
		Str("subject", msg.Subject()).
		Uint64("stream_seq", md.Sequence.Stream).
		Uint64("deliveries", md.NumDelivered).
		Str("msg_id", msgID).
		Logger()

	ctx = telemetry.ExtractNATS(ctx, msg.Headers())
	ctx, span := otel.Tracer(instrumentation).Start(ctx, "process "+c.stream,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("nats"),
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingDestinationName(msg.Subject()),
			semconv.MessagingConsumerGroupName(c.name),
			semconv.MessagingMessageID(msgID),
			attribute.Int64("messaging.nats.stream_seq", int64(md.Sequence.Stream)),
			attribute.Int64("messaging.nats.deliveries", int64(md.NumDelivered)),
		))
	defer span.End()
	ctx = logging.WithContext(ctx, log)

	start := time.Now()
	stopHeartbeat := c.heartbeat(msg)
	herr := c.call(ctx, msg)
	stopHeartbeat()
	c.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attribute.String("service", c.o.Service), attribute.String("stream", c.stream)))

	outcome := c.settle(ctx, msg, md, herr, log.With().Ctx(ctx).Logger())
	if herr != nil {
		span.RecordError(herr)
		span.SetStatus(codes.Error, outcome)
	}
	span.SetAttributes(attribute.String("jmssync.outcome", outcome))
	c.processed.Add(ctx, 1, metric.WithAttributes(
		attribute.String("service", c.o.Service), attribute.String("stream", c.stream), attribute.String("outcome", outcome)))
}

// call runs the handler, turning a panic into an error.
func (c *consumeLoop) call(ctx context.Context, msg jetstream.Msg) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
			c.log.Error().Str("stack", string(debug.Stack())).Msg("handler panicked")
		}
	}()
	return c.h(ctx, msg)
}

// settle acks, naks or dead-letters msg according to herr and returns the outcome name.
func (c *consumeLoop) settle(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, herr error, log zerolog.Logger) string {
	// Acks must go out even when ctx is being cancelled for shutdown.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()

	var retry *RetryError
	var poison *PoisonError
	switch {
	case herr == nil:
		if err := msg.DoubleAck(actx); err != nil {
			log.Error().Err(err).Msg("ack failed; the message will be redelivered")
			return "error"
		}
		return "ack"

	case ctx.Err() != nil:
		// Shutting down: hand the message back at once, it is nobody's fault.
		if err := msg.Nak(); err != nil {
			log.Warn().Err(err).Msg("nak on shutdown failed")
		}
		return "nak"

	case errors.As(herr, &retry):
		if c.maxDeliv > 0 && int(md.NumDelivered) >= c.maxDeliv {
			log.Error().Err(herr).Msg("retry requested at the consumer's last delivery: the server will not redeliver (use MaxDeliver -1 for consumers that wait on outages)")
		} else {
			log.Warn().Err(herr).Dur("retry_after", retry.After).Msg("handler asked for a retry")
		}
		c.nak(msg, retry.After, log)
		return "retry"

	case errors.As(herr, &poison):
		log.Error().Err(herr).Str("reason", poison.Reason).Msg("poison message")
		return c.deadLetter(actx, msg, md, poison.Reason, poison.Err, log)

	case int(md.NumDelivered) >= c.o.MaxAttempts:
		log.Error().Err(herr).Int("max_attempts", c.o.MaxAttempts).Msg("handler failed on the last attempt")
		return c.deadLetter(actx, msg, md, ReasonMaxAttempts, herr, log)

	default:
		d := c.backoff(md.NumDelivered)
		log.Warn().Err(herr).Dur("retry_after", d).Msg("handler failed")
		c.nak(msg, d, log)
		return "nak"
	}
}

func (c *consumeLoop) nak(msg jetstream.Msg, d time.Duration, log zerolog.Logger) {
	var err error
	if d > 0 {
		err = msg.NakWithDelay(d)
	} else {
		err = msg.Nak()
	}
	if err != nil {
		log.Error().Err(err).Msg("nak failed; the message will be redelivered after AckWait")
	}
}

// backoff is base·2^(deliveries-1), capped.
func (c *consumeLoop) backoff(deliveries uint64) time.Duration {
	d := c.o.BackoffBase
	for i := uint64(1); i < deliveries && d < c.o.BackoffMax; i++ {
		d *= 2
	}
	return min(d, c.o.BackoffMax)
}

// deadLetter copies msg to the service's DLQ subject, then terminates it. If
// the copy fails the message is nak'ed instead, so it is never lost.
func (c *consumeLoop) deadLetter(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, reason string, cause error, log zerolog.Logger) string {
	out := nats.NewMsg(DLQSubject(c.o.Service))
	out.Data = msg.Data()
	for k, vs := range msg.Headers() {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue // control headers (Msg-Id, Expected-*, TTL, Rollup) would change how DLQ stores it
		}
		out.Header[k] = slices.Clone(vs)
	}
	out.Header.Set(HeaderDLQReason, reason)
	if cause != nil {
		text := logging.Redact(cause.Error())
		if len(text) > 1024 {
			text = text[:1024]
		}
		out.Header.Set(HeaderDLQError, text)
	}
	out.Header.Set(HeaderDLQService, c.o.Service)
	out.Header.Set(HeaderDLQSubject, msg.Subject())
	out.Header.Set(HeaderDLQStream, md.Stream)
	out.Header.Set(HeaderDLQStreamSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	out.Header.Set(HeaderDLQConsumer, md.Consumer)
	out.Header.Set(HeaderDLQDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
		out.Header.Set(HeaderDLQMsgID, id)
	}
	out.Header.Set(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	// Deterministic id: a redelivery after a failed Term does not dead-letter twice.
	dlqID := fmt.Sprintf("dlq:%s:%s:%d", md.Stream, md.Consumer, md.Sequence.Stream)
	if _, err := c.o.JS.PublishMsg(ctx, out, jetstream.WithMsgID(dlqID)); err != nil {
		d := c.backoff(md.NumDelivered)
		log.Error().Err(err).Dur("retry_after", d).Msg("dead-letter publish failed; message nak'ed")
		c.nak(msg, d, log)
		return "nak"
	}
	if err := msg.TermWithReason(reason); err != nil {
		log.Error().Err(err).Msg("term after dead-letter failed; a redelivery will be deduplicated by the DLQ")
	}
	return "dead_letter"
}

// heartbeat marks msg in progress every Heartbeat until stop is called.
func (c *consumeLoop) heartbeat(msg jetstream.Msg) (stop func()) {
	if c.o.Heartbeat <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(c.o.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					c.log.Warn().Err(err).Msg("in-progress heartbeat failed")
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// JSON adapts a handler of decoded values: a payload that does not decode
// into T is dead-lettered as "malformed" (bad input never blocks a stream).
func JSON[T any](h func(ctx context.Context, v T, msg jetstream.Msg) error) Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		var v T
		if err := json.Unmarshal(msg.Data(), &v); err != nil {
			return Poison(ReasonMalformed, fmt.Errorf("decode %T: %w", v, err))
		}
		return h(ctx, v, msg)
	}
}

// Gate pauses and resumes fetching, e.g. while a circuit breaker is open
// (safety rule 7: an outage pauses consumption, it does not burn deliveries
// or fill the DLQ). The zero value is open. Safe for concurrent use.
type Gate struct {
	mu     sync.Mutex
	paused bool
	resume chan struct{} // closed by Resume
}

// Pause stops fetching; the pull in flight (at most FetchWait) still completes.
func (g *Gate) Pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		g.paused = true
		g.resume = make(chan struct{})
	}
}

// Resume lets fetching go on.
func (g *Gate) Resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		close(g.resume)
	}
}

// Paused reports whether the gate is paused.
func (g *Gate) Paused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// Wait blocks while the gate is paused; it returns ctx.Err() if ctx ends first.
func (g *Gate) Wait(ctx context.Context) error {
	g.mu.Lock()
	if !g.paused {
		g.mu.Unlock()
		return nil
	}
	ch := g.resume
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
