package applier

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

func fastRedelivery(c *Config) {
	c.AckWait = time.Second
	c.LockTTL = time.Second
}

// crashOnce returns a hook that fails the first time it runs.
func crashOnce() (func() error, *atomic.Bool) {
	var fired atomic.Bool
	return func() error {
		if fired.CompareAndSwap(false, true) {
			return errors.New("killed")
		}
		return nil
	}, &fired
}

// TestKillPoints: the applier killed before the write, after the write and
// before the mirror, after the mirror and before the fact, after the fact
// and before the ack, and the simulator committing a write then dropping
// the response: every change is applied exactly once, no duplicate host.
func TestKillPoints(t *testing.T) {
	const n = 30
	points := []struct {
		name string
		set  func(*testHooks, func() error)
		drop bool
	}{
		{name: "before_write", set: func(h *testHooks, f func() error) { h.beforeWrite = f }},
		{name: "after_write", set: func(h *testHooks, f func() error) { h.afterWrite = f }},
		{name: "after_mirror", set: func(h *testHooks, f func() error) { h.afterMirror = f }},
		{name: "after_fact", set: func(h *testHooks, f func() error) { h.afterFact = f }},
		{name: "commit_then_drop", drop: true},
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{Licensed: true, DropAction: "close"}}, fastRedelivery)
			phase := func(ins []*events.Intent, wantFacts int) {
				t.Helper()
				var hooks testHooks
				var fired *atomic.Bool
				if p.set != nil {
					var f func() error
					f, fired = crashOnce()
					p.set(&hooks, f)
				} else {
					e.sim.DropNextWrites(1)
				}
				r := e.start(hooks)
				e.publish(ins, "")
				if fired != nil {
					waitFor(t, 20*time.Second, "the kill point", fired.Load)
					select {
					case err := <-r.done:
						r.done <- err
					case <-time.After(10 * time.Second):
						t.Fatal("the killed applier did not stop")
					}
					r.stop()
					r = e.start(testHooks{}) // a fresh applier
				}
				waitFor(t, 30*time.Second, "every intent settled", func() bool {
					return e.pendingIntents() == 0 && e.factCount() >= wantFacts
				})
				if got := e.factCount(); got != wantFacts {
					t.Fatalf("%d facts, want %d", got, wantFacts)
				}
				if d := e.dlq(); len(d) != 0 {
					t.Fatalf("dead letters: %d (%s)", len(d), d[0].Header.Get("jmssync-dlq-error"))
				}
				r.stop()
			}

			phase(creates(e, 0, n, 1), n)
			e.checkOnePerIdentity(n)
			if c := e.sim.Counters(); c.AssetsCreated != n || (p.drop && c.Dropped != 1) {
				t.Fatalf("%d assets created (want %d), %d responses dropped", c.AssetsCreated, n, c.Dropped)
			}
			e.sim.ResetCounters()

			ups := make([]*events.Intent, n)
			for i := range ups {
				d := desired(i)
				d.Address = fmt.Sprintf("192.168.%d.%d", i/200, i%200+1)
				ups[i] = intent(e, events.OpUpdate, i, 2, d)
			}
			phase(ups, 2*n)
			hs := e.checkOnePerIdentity(n)
			for i := range n {
				if h := hs[assetIDOf(e, i).String()]; h.Address != ups[i].Desired.Address {
					t.Fatalf("host %d address %s, want %s", i, h.Address, ups[i].Desired.Address)
				}
			}
			if c := e.sim.Counters(); c.AssetsCreated != 0 || (!p.drop && c.AssetsUpdated != n) {
				t.Fatalf("updates: created %d, updated %d; want 0 and %d", c.AssetsCreated, c.AssetsUpdated, n)
			}
			for _, f := range e.facts() {
				// after a crash between the write and the mirror, the start-up
				// rebuild reads the new state before the intent is redelivered:
				// that fact's before equals its after (documented limitation)
				sameOK := p.name == "after_write" || p.drop
				if f.Op == events.Updated && (f.Before == nil || f.After == nil || (!sameOK && f.After.Address == f.Before.Address)) {
					t.Fatalf("fact %+v", f)
				}
			}
		})
	}
}

// TestTwoAppliersStaleIntent: two appliers on the same stream, newer and
// older intents of the same assets arriving together and a stale intent
// after a newer one: no duplicate, the newest state wins.
func TestTwoAppliersStaleIntent(t *testing.T) {
	const n = 60
	e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{Licensed: true, PerItemCost: time.Millisecond}}, fastRedelivery)
	e.cfg.FetchBatch = 25
	e.start(testHooks{})
	e.start(testHooks{})
	e.publish(creates(e, 0, n, 1), "")
	waitFor(t, 30*time.Second, "creates", func() bool { return e.factCount() >= n && e.pendingIntents() == 0 })

	var mixed []*events.Intent
	for i := range n {
		d3, d2 := desired(i), desired(i)
		d3.Address, d2.Address = fmt.Sprintf("172.16.0.%d", i+1), fmt.Sprintf("172.31.0.%d", i+1)
		mixed = append(mixed, intent(e, events.OpUpdate, i, 3, d3), intent(e, events.OpUpdate, i, 2, d2))
	}
	e.publish(mixed, "")
	e.publish(creates(e, 0, n, 1), "-stale") // the oldest, after the newer ones
	waitFor(t, 30*time.Second, "updates", func() bool { return e.pendingIntents() == 0 })
	time.Sleep(300 * time.Millisecond)
	hs := e.checkOnePerIdentity(n)
	if len(hs) != n {
		t.Fatalf("%d hosts", len(hs))
	}
	for i := range n {
		if h := hs[assetIDOf(e, i).String()]; h.Address != fmt.Sprintf("172.16.0.%d", i+1) {
			t.Fatalf("host %d: address %s, the newest intent (gen 3) lost", i, h.Address)
		}
	}
	r := e.start(testHooks{})
	for i := range n {
		en, _, err := r.a.mirror.Get(t.Context(), ident(i))
		if err != nil || en.Generation != 3 {
			t.Fatalf("mirror %d: %+v %v", i, en, err)
		}
	}
	if d := e.dlq(); len(d) != 0 {
		t.Fatalf("dead letters: %d", len(d))
	}
}
