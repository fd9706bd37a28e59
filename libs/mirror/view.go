package mirror

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// View is a live copy of every entry, kept by one watch of the bucket, for
// a reader that needs the whole mirror often (the reconciler, every
// cycle): reading 10,000 entries again each time costs more than the
// decision itself.
type View struct {
	s *Store

	mu      sync.Mutex
	changed *sync.Cond
	entries map[string]*Entry
	seq     uint64 // revision of the last update applied
	loaded  bool
	err     error // the watch ended with this; Snapshot falls back to All
}

// NewView starts watching the bucket until ctx ends.
func (s *Store) NewView(ctx context.Context) (*View, error) {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("mirror: watch: %w", err)
	}
	v := &View{s: s, entries: map[string]*Entry{}}
	v.changed = sync.NewCond(&v.mu)
	go v.follow(ctx, w)
	return v, nil
}

func (v *View) follow(ctx context.Context, w jetstream.KeyWatcher) {
	defer func() { _ = w.Stop() }()
	end := func(err error) {
		v.mu.Lock()
		v.err = err
		v.changed.Broadcast()
		v.mu.Unlock()
	}
	for {
		select {
		case <-ctx.Done():
			end(ctx.Err())
			return
		case kve, ok := <-w.Updates():
			if !ok {
				end(errors.New("mirror: watch closed"))
				return
			}
			v.mu.Lock()
			if kve == nil {
				v.loaded = true
			} else {
				v.apply(kve)
			}
			v.changed.Broadcast()
			v.mu.Unlock()
		}
	}
}

// apply records one update; callers hold mu. An entry that cannot be
// decoded is left out, as All would refuse it: Snapshot then reads All and
// reports the problem.
func (v *View) apply(kve jetstream.KeyValueEntry) {
	v.seq = max(v.seq, kve.Revision())
	if kve.Operation() != jetstream.KeyValuePut {
		delete(v.entries, kve.Key())
		return
	}
	e, err := decode(kve.Value())
	if err != nil {
		v.err = fmt.Errorf("mirror: entry %s: %w", kve.Key(), err)
		return
	}
	v.entries[kve.Key()] = e
}

// viewCatchUp bounds the wait for the watch to reach the bucket's last
// revision.
const viewCatchUp = 5 * time.Second

// Snapshot returns every entry as of now, like All: it waits until the
// watch has applied every update the bucket held when it was called. The
// map is the caller's; the entries are shared and must not be modified.
func (v *View) Snapshot(ctx context.Context) (map[string]*Entry, error) {
	info, err := v.s.kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("mirror: status: %w", err)
	}
	var last uint64
	if si, ok := info.(*jetstream.KeyValueBucketStatus); ok {
		last = si.StreamInfo().State.LastSeq
	}
	deadline := time.Now().Add(viewCatchUp)
	v.mu.Lock()
	defer v.mu.Unlock()
	for v.err == nil && (!v.loaded || v.seq < last) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		// Cond has no timeout: a timer wakes the waiter at the deadline.
		t := time.AfterFunc(time.Until(deadline), func() {
			v.mu.Lock()
			v.changed.Broadcast()
			v.mu.Unlock()
		})
		v.changed.Wait()
		t.Stop()
	}
	if v.err != nil || !v.loaded || v.seq < last {
		v.mu.Unlock()
		m, err := v.s.All(ctx)
		v.mu.Lock()
		return m, err
	}
	return maps.Clone(v.entries), nil
}
