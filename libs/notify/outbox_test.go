package notify_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/notify"
	"github.com/jmssync/jmssync/libs/notify/notifytest"
)

type sent struct {
	at  time.Time
	msg notify.Message
}

// fakeChannel records messages; fail, when set, decides the answer.
type fakeChannel struct {
	clock *notifytest.Clock
	max   int // Fits: len(Markdown) <= max

	mu   sync.Mutex
	fail func(m notify.Message) error
	got  []sent
}

func (f *fakeChannel) Name() string { return "fake" }
func (f *fakeChannel) Fits(m notify.Message) bool {
	return len(m.Markdown) <= f.max
}

func (f *fakeChannel) Send(_ context.Context, m notify.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(m); err != nil {
			return err
		}
	}
	f.got = append(f.got, sent{f.clock.Now(), m})
	return nil
}

func (f *fakeChannel) sent() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.got...)
}

func (f *fakeChannel) setFail(fn func(notify.Message) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
}

func start(t *testing.T, ch notify.Channel, o notify.OutboxOptions) *notify.Outbox {
	t.Helper()
	b := notify.NewOutbox(ch, o)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return b
}

func msg(class notify.Class, id string, size int) notify.Message {
	return notify.Message{ID: id, Class: class, Title: id, Markdown: id + strings.Repeat(".", max(size-len(id), 0))}
}

// drive advances the clock whenever the outbox waits, until cond holds.
func drive(t *testing.T, clock *notifytest.Clock, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		if clock.Waiters() > 0 {
			clock.AdvanceToNext()
		}
		time.Sleep(time.Millisecond)
	}
}

func ids(ss []sent) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.msg.ID)
	}
	return strings.Join(out, ",")
}

func TestAlertsGoFirst(t *testing.T) {
	clock := notifytest.NewClock(time.Unix(1700000000, 0))
	ch := &fakeChannel{clock: clock, max: 100}
	b := notify.NewOutbox(ch, notify.OutboxOptions{Clock: clock, Limit: 10})
	for _, m := range []notify.Message{msg(notify.ClassRun, "r1", 10), msg(notify.ClassRun, "r2", 10), msg(notify.ClassAlert, "a1", 10), msg(notify.ClassAlert, "a2", 10)} {
		if err := b.Enqueue(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = b.Run(ctx) }()
	drive(t, clock, func() bool { return len(ch.sent()) == 4 })
	if got := ids(ch.sent()); got != "a1,a2,r1,r2" {
		t.Fatalf("order %s", got)
	}
}

func TestRateLimitNeverExceededNothingDropped(t *testing.T) {
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprintf("merge=%v", merge), func(t *testing.T) {
			clock := notifytest.NewClock(time.Unix(1700000000, 0))
			ch := &fakeChannel{clock: clock, max: 100} // one message fills it: no merge
			if merge {
				ch.max = 10000
			}
			b := start(t, ch, notify.OutboxOptions{Clock: clock})
			for i := range 30 {
				if err := b.Enqueue(t.Context(), msg(notify.ClassRun, fmt.Sprintf("run%02d", i), 80)); err != nil {
					t.Fatal(err)
				}
			}
			seen := func() int {
				n := 0
				for _, s := range ch.sent() {
					n += max(s.msg.Parts, 1)
				}
				return n
			}
			drive(t, clock, func() bool { return seen() == 30 })
			got := ch.sent()
			for i := range got {
				n := 0
				for _, s := range got {
					if !s.at.Before(got[i].at) && s.at.Before(got[i].at.Add(time.Minute)) {
						n++
					}
				}
				if n > notify.DefaultLimit {
					t.Fatalf("%d messages in the minute from %s", n, got[i].at)
				}
			}
			all := ids(got)
			for i := range 30 {
				if !strings.Contains(all, fmt.Sprintf("run%02d", i)) {
					t.Errorf("run%02d never sent", i)
				}
			}
			if merge && len(got) >= 30 {
				t.Errorf("nothing merged: %d messages", len(got))
			}
			if !merge && len(got) != 30 {
				t.Errorf("%d messages", len(got))
			}
		})
	}
}

func TestThrottledAndMisconfiguredKeepMessages(t *testing.T) {
	clock := notifytest.NewClock(time.Unix(1700000000, 0))
	ch := &fakeChannel{clock: clock, max: 1000}
	ch.setFail(func(notify.Message) error { return fmt.Errorf("x: %w", notify.ErrThrottled) })
	store := &notify.MemStore{}
	b := start(t, ch, notify.OutboxOptions{Clock: clock, Store: store})
	if err := b.Enqueue(t.Context(), msg(notify.ClassAlert, "a1", 5)); err != nil {
		t.Fatal(err)
	}
	for clock.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	cfgErr := fmt.Errorf("bad sign: %w", notify.ErrConfig)
	ch.setFail(func(notify.Message) error { return cfgErr })
	clock.AdvanceToNext()
	drive(t, clock, func() bool { return b.Err() != nil })
	if b.Pending() != 1 || len(store.Keys("")) != 1 {
		t.Fatalf("pending %d, stored %v", b.Pending(), store.Keys(""))
	}
	ch.setFail(nil)
	drive(t, clock, func() bool { return len(ch.sent()) == 1 })
	drive(t, clock, func() bool { return b.Err() == nil && len(store.Keys("")) == 0 })
}

func TestRejectedMergeIsSplitAndLoadResumes(t *testing.T) {
	clock := notifytest.NewClock(time.Unix(1700000000, 0))
	store := &notify.MemStore{}
	first := notify.NewOutbox(&fakeChannel{clock: clock, max: 1000}, notify.OutboxOptions{Clock: clock, Store: store, Limit: 1})
	for i := range 3 {
		if err := first.Enqueue(t.Context(), msg(notify.ClassRun, fmt.Sprintf("r%d", i), 5)); err != nil {
			t.Fatal(err)
		}
	}
	// A new process: same store.
	ch := &fakeChannel{clock: clock, max: 1000}
	ch.setFail(func(m notify.Message) error {
		if m.Parts > 1 {
			return errors.Join(notify.ErrTooLarge)
		}
		return nil
	})
	b := notify.NewOutbox(ch, notify.OutboxOptions{Clock: clock, Store: store, Limit: 1})
	if err := b.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b.Pending() != 3 {
		t.Fatalf("loaded %d", b.Pending())
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = b.Run(ctx) }()
	drive(t, clock, func() bool { return len(ch.sent()) == 3 })
	if got := ids(ch.sent()); got != "r0,r1,r2" {
		t.Fatalf("order %s", got)
	}
}

func TestLimiter(t *testing.T) {
	l := notify.NewLimiter(2, time.Minute)
	t0 := time.Unix(0, 0)
	l.Record(t0)
	l.Record(t0.Add(10 * time.Second))
	if d := l.Wait(t0.Add(20 * time.Second)); d != 40*time.Second {
		t.Fatalf("wait %s", d)
	}
	if d := l.Wait(t0.Add(time.Minute - time.Second)); d != time.Second {
		t.Fatalf("wait %s", d)
	}
	l.Block(t0.Add(5 * time.Minute))
	if l.Available(t0.Add(2*time.Minute)) != 0 || l.Wait(t0.Add(2*time.Minute)) != 3*time.Minute {
		t.Fatal("block ignored")
	}
}

// TestQueueBounded: a channel that stays misconfigured keeps at most
// MaxQueued messages, in memory and in the store; the oldest run cards go
// first, alerts last; a new process loading an oversized store trims it
// the same way; once fixed, what is left is delivered.
func TestQueueBounded(t *testing.T) {
	clock := notifytest.NewClock(time.Unix(1700000000, 0))
	ch := &fakeChannel{clock: clock, max: 1 << 20}
	ch.setFail(func(notify.Message) error { return fmt.Errorf("bad token: %w", notify.ErrConfig) })
	store := &notify.MemStore{}
	b := notify.NewOutbox(ch, notify.OutboxOptions{Clock: clock, Store: store, MaxQueued: 4})
	stored := func(s *notify.MemStore) string {
		k := s.Keys("")
		slices.Sort(k)
		return strings.Join(k, ",")
	}
	enqueue := func(b *notify.Outbox, class notify.Class, id string) {
		t.Helper()
		if err := b.Enqueue(t.Context(), msg(class, id, 5)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		enqueue(b, notify.ClassRun, fmt.Sprintf("r%d", i))
	}
	enqueue(b, notify.ClassAlert, "a0") // drops r0
	enqueue(b, notify.ClassRun, "r4")   // drops r1
	enqueue(b, notify.ClassAlert, "a1") // drops r2
	if got, want := stored(store), "a0,a1,r3,r4"; b.Pending() != 4 || got != want {
		t.Fatalf("pending %d, stored %s; want 4 and %s", b.Pending(), got, want)
	}
	for i := 2; i < 6; i++ {
		enqueue(b, notify.ClassAlert, fmt.Sprintf("a%d", i)) // run cards first, then the oldest alerts
	}
	if got, want := stored(store), "a2,a3,a4,a5"; got != want {
		t.Fatalf("stored %s, want %s", got, want)
	}

	// A store left larger than the bound (an older version, a lower bound).
	big := &notify.MemStore{}
	first := notify.NewOutbox(ch, notify.OutboxOptions{Clock: clock, Store: big, MaxQueued: 10})
	for i := range 6 {
		enqueue(first, notify.ClassRun, fmt.Sprintf("r%d", i))
	}
	ch.setFail(nil)
	b2 := notify.NewOutbox(ch, notify.OutboxOptions{Clock: clock, Store: big, MaxQueued: 3})
	if err := b2.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := stored(big), "r3,r4,r5"; b2.Pending() != 3 || got != want {
		t.Fatalf("loaded %d, stored %s; want 3 and %s", b2.Pending(), got, want)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = b2.Run(ctx) }()
	drive(t, clock, func() bool { return len(big.Keys("")) == 0 })
	var text strings.Builder
	for _, s := range ch.sent() { // one message each or merged: the text tells
		text.WriteString(s.msg.Markdown + "\n")
	}
	for _, id := range []string{"r3", "r4", "r5"} {
		if !strings.Contains(text.String(), id) {
			t.Fatalf("%s not delivered: %q", id, text.String())
		}
	}
	if strings.Contains(text.String(), "r0") {
		t.Fatalf("a dropped card was delivered: %q", text.String())
	}
}
