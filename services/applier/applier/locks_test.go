package applier

import (
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// TestLocksRenewedDuringALongBatch: a batch held up for three lock TTLs
// before its writes keeps its per-asset locks (their Expires moves ahead,
// so no other applier may take them over), then writes every asset once
// and releases the locks.
func TestLocksRenewedDuringALongBatch(t *testing.T) {
	const n = 5
	e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{Licensed: true}}, func(c *Config) {
		c.LockTTL = time.Second
		c.AckWait = 10 * time.Second
	})
	var held, release atomic.Bool
	hooks := testHooks{beforeWrite: func() error {
		if held.CompareAndSwap(false, true) {
			for !release.Load() {
				time.Sleep(10 * time.Millisecond)
			}
		}
		return nil
	}}
	e.start(hooks)
	t.Cleanup(func() { release.Store(true) }) // before the applier stops (cleanups run last first)
	e.publish(creates(e, 0, n, 1), "")
	waitFor(t, 10*time.Second, "the batch held before its writes", held.Load)

	kv, err := e.js.KeyValue(t.Context(), natsx.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	lockOf := func(i int) (lockValue, uint64) {
		t.Helper()
		entry, err := kv.Get(t.Context(), lockPrefix+ident(i).Key())
		if err != nil {
			t.Fatalf("lock of asset %d: %v", i, err)
		}
		var v lockValue
		if err := json.Unmarshal(entry.Value(), &v); err != nil {
			t.Fatal(err)
		}
		return v, entry.Revision()
	}
	_, firstRev := lockOf(0)
	time.Sleep(3 * e.cfg.LockTTL)
	for i := range n {
		v, rev := lockOf(i)
		if !time.Now().Before(v.Expires) {
			t.Fatalf("lock of asset %d expired at %s while its batch still runs", i, v.Expires)
		}
		if i == 0 && rev == firstRev {
			t.Fatalf("lock of asset 0 still at revision %d: never renewed", rev)
		}
	}
	release.Store(true)
	waitFor(t, 20*time.Second, "every intent settled", func() bool {
		return e.pendingIntents() == 0 && e.factCount() >= n
	})
	e.checkOnePerIdentity(n)
	for i := range n {
		if _, err := kv.Get(t.Context(), lockPrefix+ident(i).Key()); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("lock of asset %d after the batch: %v, want it released", i, err)
		}
	}
}
