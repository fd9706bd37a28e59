package applier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
)

// settled marks an item's message as acked, nak'ed or dead-lettered; each
// message is settled exactly once.
type settled struct{ done atomic.Bool }

func (s *settled) claim() bool { return s.done.CompareAndSwap(false, true) }

func (s *settled) isDone() bool { return s.done.Load() }

func settleCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// ack acks the item's message (double ack: the server confirms).
func (a *Applier) ack(ctx context.Context, it *item, outcome string) {
	if !it.st.claim() {
		return
	}
	actx, cancel := settleCtx(ctx)
	defer cancel()
	if err := it.msg.DoubleAck(actx); err != nil {
		it.logger().Error().Err(err).Msg("ack failed; the intent will be redelivered and found done")
	}
	a.m.intent(ctx, it.opName(), outcome)
	a.m.applied(ctx, it, outcome, a.now())
	it.logger().Debug().Str("outcome", outcome).Msg("intent settled")
}

// retry hands the message back after d; waiting is never dead-lettered.
func (a *Applier) retry(ctx context.Context, it *item, d time.Duration, err error, outcome string) {
	if !it.st.claim() {
		return
	}
	var nerr error
	if d > 0 {
		nerr = it.msg.NakWithDelay(d)
	} else {
		nerr = it.msg.Nak()
	}
	if nerr != nil {
		it.logger().Error().Err(nerr).Msg("nak failed; the intent comes back after AckWait")
	}
	a.m.intent(ctx, it.opName(), outcome)
	it.logger().Warn().Err(err).Dur("retry_after", d).Str("outcome", outcome).Msg("intent retried later")
}

// poison dead-letters the item with reason.
func (a *Applier) poison(ctx context.Context, it *item, reason string, err error) {
	if !it.st.claim() {
		return
	}
	it.logger().Error().Err(err).Str("reason", reason).Msg("intent dead-lettered")
	a.deadLetter(ctx, it.msg, it.md, reason, err)
	a.m.intent(ctx, it.opName(), "dead_letter")
}

// deadLetter copies msg to jmssync.dlq.applier in natsx.Consume's format
// (the original payload, the jmssync-dlq-* headers; the notifier reads the
// intent and the reason from it), then terminates it. If the copy fails the
// message is nak'ed instead, so it is never lost.
func (a *Applier) deadLetter(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, reason string, cause error) {
	actx, cancel := settleCtx(ctx)
	defer cancel()
	out := nats.NewMsg(natsx.DLQSubject(Name))
	out.Data = msg.Data()
	for k, vs := range msg.Headers() {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		out.Header[k] = slices.Clone(vs)
	}
	out.Header.Set(natsx.HeaderDLQReason, reason)
	if cause != nil {
		text := logging.Redact(cause.Error())
		if len(text) > 1024 {
			text = text[:1024]
		}
		out.Header.Set(natsx.HeaderDLQError, text)
	}
	out.Header.Set(natsx.HeaderDLQService, Name)
	out.Header.Set(natsx.HeaderDLQSubject, msg.Subject())
	out.Header.Set(natsx.HeaderDLQStream, md.Stream)
	out.Header.Set(natsx.HeaderDLQStreamSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	out.Header.Set(natsx.HeaderDLQConsumer, md.Consumer)
	out.Header.Set(natsx.HeaderDLQDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
		out.Header.Set(natsx.HeaderDLQMsgID, id)
	}
	out.Header.Set(natsx.HeaderDLQTime, a.now().UTC().Format(time.RFC3339Nano))
	dlqID := fmt.Sprintf("dlq:%s:%s:%d", md.Stream, md.Consumer, md.Sequence.Stream)
	if _, err := a.js.PublishMsg(actx, out, jetstream.WithMsgID(dlqID)); err != nil {
		a.log.Error().Err(err).Msg("dead-letter publish failed; message nak'ed")
		_ = msg.NakWithDelay(backoff(md.NumDelivered))
		return
	}
	if err := msg.TermWithReason(reason); err != nil {
		a.log.Warn().Err(err).Msg("term after dead-letter failed; a redelivery is deduplicated by the DLQ")
	}
}

// backoff is 1s·2^(deliveries-1), at most 1m.
func backoff(deliveries uint64) time.Duration {
	d := time.Second
	for i := uint64(1); i < deliveries && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// maxItemAttempts bounds the deliveries of an intent failing with an
// item-specific server error (a JSON 500 on that item alone).
const maxItemAttempts = 10

// fail settles an item after a failure, classified once:
//   - the asset cap: retried after CapRetry (creates wait for room);
//   - a global condition (breaker open, auth, missing template, config):
//     fetching pauses, the intent is retried after ProbeInterval;
//   - unavailability, throttling, NATS or shutdown: retried with back-off;
//   - a 500 on this item alone: retried, dead-lettered after 10 deliveries;
//   - refused data (400, 404 of a reference, a name conflict): dead-lettered
//     with the reason and JumpServer's field errors.
func (a *Applier) fail(ctx context.Context, it *item, err error) {
	if ctx.Err() != nil {
		a.retry(ctx, it, 0, err, "shutdown")
		return
	}
	if errors.Is(err, jumpserver.ErrCap) {
		a.setCap(ctx, true, jumpserver.AssetCount{Cap: a.cfg.JumpServer.AssetCap})
		a.retry(ctx, it, a.cfg.CapRetry, err, "cap")
		return
	}
	if errors.Is(err, jumpserver.ErrTemplateNotFound) && it.in != nil && it.in.Desired != nil {
		a.pmu.Lock()
		a.missingTpl[it.in.Desired.AccountTemplate] = true
		a.pmu.Unlock()
	}
	if a.failGlobal(ctx, err) {
		a.retry(ctx, it, a.cfg.ProbeInterval, err, "paused")
		return
	}
	var je *jumpserver.Error
	if !errors.As(err, &je) {
		a.retry(ctx, it, backoff(it.md.NumDelivered), err, "retry")
		return
	}
	switch je.Kind {
	case jumpserver.KindThrottled:
		a.retry(ctx, it, max(je.RetryAfter, time.Second), err, "throttled")
	case jumpserver.KindUnavailable:
		a.retry(ctx, it, backoff(it.md.NumDelivered), err, "retry")
	case jumpserver.KindInternal:
		if it.md.NumDelivered >= maxItemAttempts {
			a.poison(ctx, it, ReasonMaxAttempts, err)
			return
		}
		a.retry(ctx, it, backoff(it.md.NumDelivered), err, "retry")
	case jumpserver.KindConflict:
		if len(je.Fields["name"]) > 0 {
			a.poison(ctx, it, ReasonNameConflict, err)
			return
		}
		a.poison(ctx, it, ReasonRejected, err)
	case jumpserver.KindNotFound:
		switch {
		case errors.Is(err, jumpserver.ErrPlatformNotFound):
			a.poison(ctx, it, ReasonPlatformNotFound, err)
		case errors.Is(err, jumpserver.ErrZoneNotFound):
			a.poison(ctx, it, ReasonZoneNotFound, err)
		default:
			a.poison(ctx, it, ReasonRejected, err)
		}
	case jumpserver.KindValidation:
		a.poison(ctx, it, ReasonRejected, err)
	default:
		a.retry(ctx, it, backoff(it.md.NumDelivered), err, "retry")
	}
}

// parallel runs fn on every element, n at a time.
func parallel[T any](n int, xs []T, fn func(T)) {
	if len(xs) == 0 {
		return
	}
	sem := make(chan struct{}, max(1, n))
	var wg sync.WaitGroup
	for _, x := range xs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(x)
		})
	}
	wg.Wait()
}
