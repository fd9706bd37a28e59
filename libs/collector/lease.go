package collector

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
)

// Region leases and replica presence, in the jmssync_state bucket.
//
// A lease key (natsx.LeaseKey) holds a leaseValue. A replica acquires it with
// Create when the key does not exist (with a per-key TTL, so a lease that is
// never renewed vanishes), or with a compare-and-set Update on the revision it
// read when the lease is expired (by its Expires field) or already names this
// replica. Every write is a CAS on the previous revision, so between two
// successful writes of one replica nobody else wrote the key: correctness
// rests on CAS and the Expires field, never on TTL timing. The revision a
// write returns is a stream sequence, hence monotonic across holders: it is
// the fencing token a pass carries.
//
// A presence key (natsx.ReplicaKey) holds a presenceValue; replicas count the
// live ones (Expires in the future) to split the scopes between them.

// leaseValue is the JSON value of a lease key.
type leaseValue struct {
	Holder   string    `json:"holder"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// presenceValue is the JSON value of a replica's presence key.
type presenceValue struct {
	Replica string `json:"replica"`
	// Regions the replica is pinned to; empty means every region.
	Regions []string  `json:"regions,omitempty"`
	Seen    time.Time `json:"seen"`
	Expires time.Time `json:"expires"`
}

// lease is a lease this replica holds.
type lease struct {
	key   string
	scope events.Scope

	mu       sync.Mutex // serialises the writes of this lease
	rev      uint64     // revision of our last write
	acquired time.Time
	lost     bool
}

// scopeRef is a scope with its lease key.
type scopeRef struct {
	key   string
	scope events.Scope
}

// leaseSet is the lease and presence state of one replica.
type leaseSet struct {
	js       jetstream.JetStream
	replica  string
	provider asset.Provider
	regions  []string
	ttl      time.Duration
	now      func() time.Time
	log      zerolog.Logger

	kvMu sync.Mutex
	kv   jetstream.KeyValue

	maintMu sync.Mutex // one maintain at a time

	mu   sync.Mutex
	held map[string]*lease // by key
	busy map[string]bool   // keys with a pass running

	presMu  sync.Mutex
	presRev uint64
}

func newLeaseSet(js jetstream.JetStream, replica string, provider asset.Provider, regions []string,
	ttl time.Duration, now func() time.Time, log zerolog.Logger,
) *leaseSet {
	return &leaseSet{
		js: js, replica: replica, provider: provider, regions: regions, ttl: ttl, now: now, log: log,
		held: map[string]*lease{}, busy: map[string]bool{},
	}
}

func (s *leaseSet) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	s.kvMu.Lock()
	defer s.kvMu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	kv, err := s.js.KeyValue(ctx, natsx.BucketState)
	if err != nil {
		return nil, fmt.Errorf("open kv %s: %w", natsx.BucketState, err)
	}
	s.kv = kv
	return kv, nil
}

// leaseState is a lease key as read from the bucket.
type leaseState struct {
	exists bool
	rev    uint64
	value  *leaseValue // nil when absent or undecodable
}

// holder is the replica holding a valid lease at now, or "".
func (st leaseState) holder(now time.Time) string {
	if !st.exists || st.value == nil || !now.Before(st.value.Expires) {
		return ""
	}
	return st.value.Holder
}

func (s *leaseSet) read(ctx context.Context, kv jetstream.KeyValue, key string) (leaseState, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return leaseState{}, nil
	}
	if err != nil {
		return leaseState{}, fmt.Errorf("read lease %s: %w", key, err)
	}
	st := leaseState{exists: true, rev: e.Revision()}
	var v leaseValue
	if json.Unmarshal(e.Value(), &v) == nil {
		st.value = &v
	} else {
		s.log.Warn().Str("key", key).Uint64("revision", e.Revision()).Msg("undecodable lease value; treating it as expired")
	}
	return st, nil
}

// get returns the lease held for key, or nil.
func (s *leaseSet) get(key string) *lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[key]
}

// heldScopes lists the scopes of the leases held.
func (s *leaseSet) heldScopes() []events.Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]events.Scope, 0, len(s.held))
	for _, l := range s.held {
		out = append(out, l.scope)
	}
	slices.SortFunc(out, func(a, b events.Scope) int { return cmp.Compare(a.String(), b.String()) })
	return out
}

// claim marks a held lease busy for a pass; nil when not held or busy.
func (s *leaseSet) claim(key string) *lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.held[key]
	if l == nil || s.busy[key] {
		return nil
	}
	s.busy[key] = true
	return l
}

func (s *leaseSet) unclaim(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, key)
}

func (s *leaseSet) drop(l *lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[l.key] == l {
		delete(s.held, l.key)
	}
}

// acquire reads the lease of ref and takes it when free; ErrLeaseHeld when
// another replica holds it (or won the race).
func (s *leaseSet) acquire(ctx context.Context, ref scopeRef) (*lease, error) {
	if l := s.get(ref.key); l != nil {
		return l, nil
	}
	kv, err := s.bucket(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.read(ctx, kv, ref.key)
	if err != nil {
		return nil, err
	}
	return s.acquireFrom(ctx, kv, ref, st)
}

// acquireFrom takes the lease of ref from the state st read just before: a
// Create when absent, a CAS Update on st's revision when expired or ours.
func (s *leaseSet) acquireFrom(ctx context.Context, kv jetstream.KeyValue, ref scopeRef, st leaseState) (*lease, error) {
	now := s.now()
	if h := st.holder(now); h != "" && h != s.replica {
		return nil, fmt.Errorf("%w: %s by %s until %s", ErrLeaseHeld, ref.scope, h, st.value.Expires.UTC().Format(time.RFC3339))
	}
	b, err := json.Marshal(leaseValue{Holder: s.replica, Acquired: now.UTC(), Expires: now.Add(s.ttl).UTC()})
	if err != nil {
		return nil, fmt.Errorf("encode lease: %w", err)
	}
	var rev uint64
	if !st.exists {
		rev, err = kv.Create(ctx, ref.key, b, jetstream.KeyTTL(s.keyTTL()))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("%w: %s: another replica created it first", ErrLeaseHeld, ref.scope)
		}
	} else {
		rev, err = kv.Update(ctx, ref.key, b, st.rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("%w: %s: another replica took it first", ErrLeaseHeld, ref.scope)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("acquire lease %s: %w", ref.key, err)
	}
	l := &lease{key: ref.key, scope: ref.scope, rev: rev, acquired: now.UTC()}
	s.mu.Lock()
	s.held[ref.key] = l
	s.mu.Unlock()
	s.log.Info().Str("scope", ref.scope.String()).Uint64("lease_revision", rev).Msg("lease acquired")
	return l, nil
}

// renew extends a held lease with a CAS on our last revision and returns the
// new revision. ErrLeaseLost when someone else wrote the key since (the lease
// is then dropped); other errors are transient (the lease is kept).
func (s *leaseSet) renew(ctx context.Context, l *lease) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost {
		return 0, fmt.Errorf("%w: %s", ErrLeaseLost, l.scope)
	}
	kv, err := s.bucket(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	b, err := json.Marshal(leaseValue{Holder: s.replica, Acquired: l.acquired, Expires: now.Add(s.ttl).UTC()})
	if err != nil {
		return 0, fmt.Errorf("encode lease: %w", err)
	}
	rev, err := kv.Update(ctx, l.key, b, l.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		l.lost = true
		s.drop(l)
		s.log.Warn().Str("scope", l.scope.String()).Uint64("revision", l.rev).Msg("lease lost")
		return 0, fmt.Errorf("%w: %s: the lease changed since revision %d", ErrLeaseLost, l.scope, l.rev)
	}
	if err != nil {
		return 0, fmt.Errorf("renew lease %s: %w", l.key, err)
	}
	l.rev = rev
	return rev, nil
}

// release deletes a held lease if it is still at our last revision.
func (s *leaseSet) release(ctx context.Context, l *lease) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.drop(l)
	if l.lost {
		return nil
	}
	l.lost = true
	kv, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	err = kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil // no longer ours anyway
	}
	if err != nil {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	s.log.Info().Str("scope", l.scope.String()).Msg("lease released")
	return nil
}

// releaseAll releases every lease not in use by a pass and removes the
// presence key.
func (s *leaseSet) releaseAll(ctx context.Context) error {
	s.mu.Lock()
	var ls []*lease
	for k, l := range s.held {
		if !s.busy[k] {
			ls = append(ls, l)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, l := range ls {
		errs = append(errs, s.release(ctx, l))
	}
	s.presMu.Lock()
	defer s.presMu.Unlock()
	if s.presRev != 0 {
		if kv, err := s.bucket(ctx); err == nil {
			err = kv.Delete(ctx, natsx.ReplicaKey(string(s.provider), s.replica), jetstream.LastRevision(s.presRev))
			if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				errs = append(errs, fmt.Errorf("remove presence: %w", err))
			}
		}
		s.presRev = 0
	}
	return errors.Join(errs...)
}

// heartbeat writes this replica's presence key (Create with a TTL the first
// time, CAS Update afterwards).
func (s *leaseSet) heartbeat(ctx context.Context) error {
	kv, err := s.bucket(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	b, err := json.Marshal(presenceValue{Replica: s.replica, Regions: s.regions, Seen: now.UTC(), Expires: now.Add(s.ttl).UTC()})
	if err != nil {
		return fmt.Errorf("encode presence: %w", err)
	}
	key := natsx.ReplicaKey(string(s.provider), s.replica)
	s.presMu.Lock()
	defer s.presMu.Unlock()
	if s.presRev != 0 {
		rev, err := kv.Update(ctx, key, b, s.presRev)
		if err == nil {
			s.presRev = rev
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("heartbeat: %w", err)
		}
		s.presRev = 0 // purged as stale, or expired: write it afresh
	}
	rev, err := kv.Create(ctx, key, b, jetstream.KeyTTL(s.keyTTL()))
	if errors.Is(err, jetstream.ErrKeyExists) { // ours, from an earlier process with this replica id
		var e jetstream.KeyValueEntry
		if e, err = kv.Get(ctx, key); err == nil {
			rev, err = kv.Update(ctx, key, b, e.Revision())
		}
	}
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	s.presRev = rev
	return nil
}

// keyTTL is the per-key TTL set on Create: the lease TTL rounded up to a
// whole second (the server's granularity), so it never ends before the lease.
func (s *leaseSet) keyTTL() time.Duration {
	return max(time.Second, (s.ttl + time.Second - 1).Truncate(time.Second))
}

// presenceGC is how long after its expiry a presence key is deleted by
// whichever replica sees it, so the keys of replicas gone for good (old pod
// names) do not pile up.
func (s *leaseSet) presenceGC() time.Duration { return 3 * s.ttl }

// live lists the live replicas of the provider (this one always included),
// sorted by id.
func (s *leaseSet) live(ctx context.Context) ([]presenceValue, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return nil, err
	}
	lister, err := kv.ListKeysFiltered(ctx, natsx.ReplicaKeyFilter(string(s.provider)))
	if err != nil {
		return nil, fmt.Errorf("list replicas: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	_ = lister.Stop()
	now := s.now()
	out := []presenceValue{{Replica: s.replica, Regions: s.regions}}
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read replica %s: %w", k, err)
		}
		var v presenceValue
		if json.Unmarshal(e.Value(), &v) != nil || v.Replica == "" {
			continue
		}
		if !now.Before(v.Expires) {
			if now.Sub(v.Expires) > s.presenceGC() && v.Replica != s.replica {
				_ = kv.Delete(ctx, k, jetstream.LastRevision(e.Revision()))
			}
			continue
		}
		if v.Replica != s.replica {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b presenceValue) int { return cmp.Compare(a.Replica, b.Replica) })
	return out, nil
}

// maintain heartbeats, then splits the scopes between the live replicas
// (assign), renews the held leases no pass is using, releases those now
// assigned to another replica (or no longer configured) and acquires the
// free ones assigned to this replica. Errors are logged: the leases are the
// truth, a failed step is retried at the next call.
//
// It returns when the view may change next without anyone writing: the
// earliest expiry of another replica's presence or lease among the scopes
// (zero when none), so a dead replica's regions can be taken as soon as
// they lapse.
func (s *leaseSet) maintain(ctx context.Context, scopes []scopeRef) (wake time.Time) {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	if ctx.Err() != nil {
		return
	}
	earliest := func(t time.Time) {
		if wake.IsZero() || t.Before(wake) {
			wake = t
		}
	}
	log := s.log
	if err := s.heartbeat(ctx); err != nil {
		log.Warn().Err(err).Msg("replica heartbeat failed")
	}
	kv, err := s.bucket(ctx)
	if err != nil {
		log.Warn().Err(err).Msg("state bucket unavailable; leases not maintained")
		return
	}
	reps, repErr := s.live(ctx)
	now := s.now()
	for _, r := range reps {
		if r.Replica != s.replica {
			earliest(r.Expires)
		}
	}

	states := make(map[string]leaseState, len(scopes))
	var known []assignScope
	for _, ref := range scopes {
		st, err := s.read(ctx, kv, ref.key)
		if err != nil {
			log.Warn().Err(err).Str("scope", ref.scope.String()).Msg("lease not readable")
			continue
		}
		states[ref.key] = st
		h := st.holder(now)
		if h != "" && h != s.replica {
			earliest(st.value.Expires)
		}
		known = append(known, assignScope{key: ref.key, region: ref.scope.Region, holder: h})
	}
	var owner map[string]string
	if repErr == nil {
		owner = assign(known, reps)
	} else {
		log.Warn().Err(repErr).Msg("replicas not readable; keeping held leases, acquiring none")
	}

	configured := make(map[string]bool, len(scopes))
	for _, ref := range scopes {
		configured[ref.key] = true
	}
	s.mu.Lock()
	held := make([]*lease, 0, len(s.held))
	for _, l := range s.held {
		held = append(held, l)
	}
	s.mu.Unlock()
	for _, l := range held {
		if c := s.claim(l.key); c != l {
			if c != nil { // re-acquired meanwhile: leave it to its next check
				s.unclaim(l.key)
			}
			continue // a pass is using it and renews it
		}
		o, assigned := owner[l.key]
		if !configured[l.key] || (owner != nil && assigned && o != s.replica) {
			if err := s.release(ctx, l); err != nil {
				log.Warn().Err(err).Str("scope", l.scope.String()).Msg("lease release failed")
			}
		} else if _, err := s.renew(ctx, l); err != nil && !errors.Is(err, ErrLeaseLost) {
			log.Warn().Err(err).Str("scope", l.scope.String()).Msg("lease renewal failed")
		}
		s.unclaim(l.key)
	}
	if owner == nil {
		return
	}
	for _, ref := range scopes {
		st, ok := states[ref.key]
		if !ok || owner[ref.key] != s.replica || s.get(ref.key) != nil {
			continue
		}
		if h := st.holder(now); h != "" && h != s.replica {
			continue // still held by its previous owner; taken once it lapses
		}
		if _, err := s.acquireFrom(ctx, kv, ref, st); err != nil && !errors.Is(err, ErrLeaseHeld) {
			log.Warn().Err(err).Str("scope", ref.scope.String()).Msg("lease acquisition failed")
		}
	}
	return wake
}

// assignScope is a scope as assign sees it.
type assignScope struct {
	key    string
	region string
	holder string // replica holding a valid lease, or ""
}

// assign maps every scope to one live replica allowed to scan it (pinned
// regions), balancing the load: the most constrained scopes first, then in a
// fixed pseudo-random order; each goes to the allowed replica with the least
// load, preferring its current holder on a tie (so leases stay put), then the
// highest rendezvous hash of (replica, scope). Every replica computes the same
// map from the same view, so replicas started together split at once.
func assign(scopes []assignScope, replicas []presenceValue) map[string]string {
	allowed := func(r presenceValue, region string) bool {
		return len(r.Regions) == 0 || slices.Contains(r.Regions, region)
	}
	type item struct {
		sc    assignScope
		cands []string
		h     uint64
	}
	items := make([]item, 0, len(scopes))
	for _, sc := range scopes {
		it := item{sc: sc, h: hash64(sc.key)}
		for _, r := range replicas {
			if allowed(r, sc.region) {
				it.cands = append(it.cands, r.Replica)
			}
		}
		if len(it.cands) > 0 {
			items = append(items, it)
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Or(cmp.Compare(len(a.cands), len(b.cands)), cmp.Compare(a.h, b.h), cmp.Compare(a.sc.key, b.sc.key))
	})
	load := map[string]int{}
	out := make(map[string]string, len(items))
	for _, it := range items {
		best := it.cands[0]
		for _, c := range it.cands[1:] {
			switch {
			case load[c] != load[best]:
				if load[c] < load[best] {
					best = c
				}
			case best == it.sc.holder:
			case c == it.sc.holder:
				best = c
			default:
				hc, hb := hash64(c+"\x00"+it.sc.key), hash64(best+"\x00"+it.sc.key)
				if hc > hb || hc == hb && c < best {
					best = c
				}
			}
		}
		out[it.sc.key] = best
		load[best]++
	}
	return out
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}
