package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const instrumentation = "github.com/jmssync/jmssync/libs/notify"

// Defaults of OutboxOptions.
const (
	// DefaultLimit keeps a margin under DingTalk's 20 messages per minute.
	DefaultLimit          = 18
	DefaultWindow         = time.Minute
	DefaultThrottledWait  = time.Minute
	DefaultConfigRetry    = time.Minute
	DefaultTransientRetry = 2 * time.Second
	// DefaultMaxQueued: a robot misconfigured for weeks keeps at most this
	// many notifications (a cycle and an alert or two a day per hour of
	// interval); merged, they go out within minutes once it is fixed.
	DefaultMaxQueued = 500
)

// OutboxOptions configures an Outbox. Zero values take the defaults.
type OutboxOptions struct {
	// Limit messages per rolling Window (every send counts, @-messages too).
	Limit  int
	Window time.Duration
	Clock  Clock
	// Store keeps the queue across restarts (memory only when nil).
	Store Store
	// ThrottledWait is how long the channel is left alone after it refused
	// a message for rate (the message stays first in the queue).
	ThrottledWait time.Duration
	// ConfigRetry is how often a misconfigured channel is tried again.
	ConfigRetry time.Duration
	// TransientRetry is the first wait after a transport error; it doubles
	// up to ConfigRetry.
	TransientRetry time.Duration
	// MaxQueued bounds the queue (DefaultMaxQueued when 0). Past it the
	// oldest message of the lowest class (run cards before alerts) is
	// dropped, with an error log and the outcome "dropped": a channel that
	// stays broken neither grows the store without end nor floods the room
	// with stale cards once it is fixed.
	MaxQueued int
	Logger    zerolog.Logger
}

type item struct {
	Seq    int64   `json:"seq"`
	Msg    Message `json:"msg"`
	single bool    // never merge again (a merge was too large or rejected)
}

// Outbox delivers the messages of one channel in order — alerts before run
// cards, then first in first out — never above the rate limit. When more
// messages wait than the window still allows, consecutive messages of one
// class are merged into one as long as the channel says the result fits.
// Messages refused for rate or because the channel is misconfigured are
// kept and retried; only a message the channel will never accept (ErrRejected
// or ErrTooLarge on its own) is dropped, with an error log.
type Outbox struct {
	ch    Channel
	o     OutboxOptions
	lim   *Limiter
	log   zerolog.Logger
	wake  chan struct{}
	count metric.Int64Counter

	mu      sync.Mutex
	queue   []*item // sorted: class rank, then seq
	ids     map[string]bool
	seq     int64
	cfgErr  error
	lastErr string
}

// NewOutbox returns the outbox of ch. Call Load before Run to resume what a
// previous process queued.
func NewOutbox(ch Channel, o OutboxOptions) *Outbox {
	if o.Limit <= 0 {
		o.Limit = DefaultLimit
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Clock == nil {
		o.Clock = SystemClock()
	}
	if o.ThrottledWait <= 0 {
		o.ThrottledWait = DefaultThrottledWait
	}
	if o.ConfigRetry <= 0 {
		o.ConfigRetry = DefaultConfigRetry
	}
	if o.TransientRetry <= 0 {
		o.TransientRetry = DefaultTransientRetry
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = DefaultMaxQueued
	}
	count, _ := otel.Meter(instrumentation).Int64Counter("jmssync.notify.sends",
		metric.WithDescription("Sends to a notification channel by outcome (sent, throttled, config_error, rejected, error, dropped)."),
		metric.WithUnit("{message}"))
	return &Outbox{
		ch: ch, o: o, lim: NewLimiter(o.Limit, o.Window), wake: make(chan struct{}, 1), count: count,
		ids: map[string]bool{},
		log: o.Logger.With().Str("channel", ch.Name()).Logger(),
	}
}

// Channel returns the outbox's channel.
func (b *Outbox) Channel() Channel { return b.ch }

// Load reads the queue a previous process left in the Store.
func (b *Outbox) Load(ctx context.Context) error {
	if b.o.Store == nil {
		return nil
	}
	stored, err := b.o.Store.List(ctx)
	if err != nil {
		return fmt.Errorf("load outbox of %s: %w", b.ch.Name(), err)
	}
	b.mu.Lock()
	for key, v := range stored {
		var it item
		if err := json.Unmarshal(v, &it); err != nil || it.Msg.ID == "" {
			b.log.Error().Str("key", key).Msg("unreadable queued notification dropped")
			_ = b.o.Store.Delete(ctx, key)
			continue
		}
		if b.ids[it.Msg.ID] {
			continue
		}
		b.insertLocked(&it)
		b.seq = max(b.seq, it.Seq)
	}
	dropped := b.trimLocked()
	b.mu.Unlock()
	b.drop(ctx, dropped)
	b.signal()
	return nil
}

// Enqueue stores m and queues it. An id already queued is ignored.
func (b *Outbox) Enqueue(ctx context.Context, m Message) error {
	if m.ID == "" {
		return errors.New("notify: message without an id")
	}
	b.mu.Lock()
	if b.ids[m.ID] {
		b.mu.Unlock()
		return nil
	}
	b.seq++
	it := &item{Seq: b.seq, Msg: m}
	b.mu.Unlock()
	if b.o.Store != nil {
		v, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("queue %s: %w", m.ID, err)
		}
		if err := b.o.Store.Put(ctx, m.ID, v); err != nil {
			return fmt.Errorf("queue %s on %s: %w", m.ID, b.ch.Name(), err)
		}
	}
	b.mu.Lock()
	if !b.ids[m.ID] {
		b.insertLocked(it)
	}
	dropped := b.trimLocked()
	b.mu.Unlock()
	b.drop(ctx, dropped)
	b.signal()
	return nil
}

// drop logs, counts and unstores what trimLocked removed.
func (b *Outbox) drop(ctx context.Context, items []*item) {
	for _, d := range items {
		b.log.Error().Str("id", d.Msg.ID).Str("class", string(d.Msg.Class)).Int("max_queued", b.o.MaxQueued).
			Msg("notification queue full (the channel has not delivered for long): the oldest of the lowest class dropped")
		b.add(ctx, "dropped", 1)
	}
	b.unstore(ctx, items, "dropped notification not removed from the store")
}

// unstore deletes items from the Store, logging what it could not.
func (b *Outbox) unstore(ctx context.Context, items []*item, failed string) {
	if b.o.Store == nil {
		return
	}
	for _, it := range items {
		if err := b.o.Store.Delete(context.WithoutCancel(ctx), it.Msg.ID); err != nil {
			b.log.Warn().Err(err).Str("id", it.Msg.ID).Msg(failed)
		}
	}
}

// trimLocked removes and returns what exceeds MaxQueued: each time the
// oldest message of the class that comes last (the queue is sorted by
// class, then age).
func (b *Outbox) trimLocked() []*item {
	var out []*item
	for len(b.queue) > b.o.MaxQueued {
		last := b.queue[len(b.queue)-1].Msg.Class.rank()
		i := slices.IndexFunc(b.queue, func(q *item) bool { return q.Msg.Class.rank() == last })
		out = append(out, b.queue[i])
		delete(b.ids, b.queue[i].Msg.ID)
		b.queue = slices.Delete(b.queue, i, i+1)
	}
	return out
}

func (b *Outbox) insertLocked(it *item) {
	i, _ := slices.BinarySearchFunc(b.queue, it, func(a, t *item) int {
		if r := a.Msg.Class.rank() - t.Msg.Class.rank(); r != 0 {
			return r
		}
		return int(a.Seq - t.Seq)
	})
	b.queue = slices.Insert(b.queue, i, it)
	b.ids[it.Msg.ID] = true
}

func (b *Outbox) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Pending is the number of queued notifications.
func (b *Outbox) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Err is the channel's configuration error while it lasts (readiness).
func (b *Outbox) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfgErr
}

// Run delivers until ctx ends.
func (b *Outbox) Run(ctx context.Context) error {
	backoff := b.o.TransientRetry
	for ctx.Err() == nil {
		if b.Pending() == 0 {
			select {
			case <-b.wake:
			case <-ctx.Done():
			}
			continue
		}
		now := b.o.Clock.Now()
		if d := b.lim.Wait(now); d > 0 {
			b.sleep(ctx, d)
			continue
		}
		batch := b.pick(now)
		msgs := make([]Message, len(batch))
		for i, it := range batch {
			msgs[i] = it.Msg
		}
		m := Merge(msgs)
		err := b.ch.Send(ctx, m)
		now = b.o.Clock.Now()
		switch {
		case err == nil:
			b.lim.Record(now)
			b.done(ctx, batch)
			b.clearConfig()
			backoff = b.o.TransientRetry
			b.add(ctx, "sent", len(msgs))
			b.log.Debug().Str("id", m.ID).Int("parts", len(msgs)).Msg("notification sent")
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrThrottled):
			b.lim.Block(now.Add(b.o.ThrottledWait))
			b.add(ctx, "throttled", len(msgs))
			b.log.Warn().Err(err).Dur("retry_after", b.o.ThrottledWait).Msg("channel refused a message for rate; it stays queued")
		case errors.Is(err, ErrConfig):
			b.setConfig(err)
			b.add(ctx, "config_error", len(msgs))
			b.sleep(ctx, b.o.ConfigRetry)
		case errors.Is(err, ErrTooLarge) || errors.Is(err, ErrRejected):
			b.lim.Record(now)
			b.add(ctx, "rejected", len(msgs))
			if len(batch) > 1 {
				b.mu.Lock()
				for _, it := range batch {
					it.single = true
				}
				b.mu.Unlock()
				b.log.Warn().Err(err).Int("parts", len(batch)).Msg("merged notification refused; sending the parts one by one")
				continue
			}
			b.log.Error().Err(err).Str("id", m.ID).Msg("channel will never accept this notification; dropped")
			b.done(ctx, batch)
		default:
			b.lim.Record(now) // it may have counted on the other side
			b.add(ctx, "error", len(msgs))
			b.log.Warn().Err(err).Dur("retry_after", backoff).Msg("notification not delivered; will retry")
			b.sleep(ctx, backoff)
			backoff = min(2*backoff, b.o.ConfigRetry)
		}
	}
	return nil
}

// pick returns the head of the queue, merged with the following messages
// of its class when more are waiting than the window still allows.
func (b *Outbox) pick(now time.Time) []*item {
	avail := b.lim.Available(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	head := b.queue[0]
	batch := []*item{head}
	if head.single || len(b.queue) <= avail {
		return batch
	}
	msgs := []Message{head.Msg}
	for _, it := range b.queue[1:] {
		if it.Msg.Class != head.Msg.Class || it.single {
			break
		}
		if !b.ch.Fits(Merge(append(msgs, it.Msg))) {
			break
		}
		msgs = append(msgs, it.Msg)
		batch = append(batch, it)
	}
	return batch
}

func (b *Outbox) done(ctx context.Context, batch []*item) {
	b.mu.Lock()
	for _, it := range batch {
		delete(b.ids, it.Msg.ID)
		b.queue = slices.DeleteFunc(b.queue, func(q *item) bool { return q == it })
	}
	b.mu.Unlock()
	b.unstore(ctx, batch, "sent notification not removed from the store; it may be sent again after a restart")
}

func (b *Outbox) setConfig(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfgErr = err
	if err.Error() != b.lastErr {
		b.lastErr = err.Error()
		b.log.Error().Err(err).Int("queued", len(b.queue)).Msg("notification channel misconfigured; messages stay queued until it is fixed")
	}
}

func (b *Outbox) clearConfig() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfgErr != nil {
		b.log.Info().Msg("notification channel delivers again")
	}
	b.cfgErr, b.lastErr = nil, ""
}

func (b *Outbox) add(ctx context.Context, outcome string, n int) {
	b.count.Add(ctx, int64(n), metric.WithAttributes(attribute.String("channel", b.ch.Name()), attribute.String("outcome", outcome)))
}

func (b *Outbox) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-b.o.Clock.After(d):
	case <-ctx.Done():
	}
}
