package collector

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
)

// Trigger is the optional JSON payload of a message on
// natsx.TriggerSubject(provider): it narrows the cycle it causes to one
// account id and/or one region. An empty payload (or {}) runs a full cycle.
type Trigger struct {
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
}

func (t Trigger) matches(sc events.Scope) bool {
	return (t.Account == "" || t.Account == sc.AccountID) && (t.Region == "" || t.Region == sc.Region)
}

// selection narrows a cycle; nil means every target.
type selection []Trigger

func (s selection) matches(sc events.Scope) bool {
	if s == nil {
		return true
	}
	for _, t := range s {
		if t.matches(sc) {
			return true
		}
	}
	return false
}

// triggers collects the triggers received since the last cycle started.
type triggers struct {
	signal chan struct{} // capacity 1: bursts coalesce

	mu      sync.Mutex
	pending bool
	all     bool
	sel     selection
}

func (t *triggers) init() { t.signal = make(chan struct{}, 1) }

func (t *triggers) add(tr Trigger) {
	t.mu.Lock()
	t.pending = true
	if tr == (Trigger{}) {
		t.all = true
	} else if !slices.Contains(t.sel, tr) {
		t.sel = append(t.sel, tr)
	}
	t.mu.Unlock()
	select {
	case t.signal <- struct{}{}:
	default:
	}
}

// take returns what the pending triggers ask for (nil: everything) and
// whether any was pending, and clears them.
func (t *triggers) take() (selection, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pending, all, sel := t.pending, t.all, t.sel
	t.pending, t.all, t.sel = false, false, nil
	if all {
		sel = nil
	}
	return sel, pending
}

// triggerReply answers a trigger sent as a request.
type triggerReply struct {
	Queued bool   `json:"queued"`
	Error  string `json:"error,omitempty"`
}

func (r *Runner) onTrigger(m *nats.Msg) {
	var tr Trigger
	if data := bytes.TrimSpace(m.Data); len(data) > 0 {
		if err := json.Unmarshal(data, &tr); err != nil {
			r.log.Warn().Str("subject", m.Subject).Msg("malformed trigger ignored")
			r.reply(m, triggerReply{Error: "malformed trigger: want {\"account\": …, \"region\": …}"})
			return
		}
	}
	r.log.Info().Str("account", tr.Account).Str("region", tr.Region).Msg("cycle triggered")
	r.trig.add(tr)
	r.reply(m, triggerReply{Queued: true})
}

func (r *Runner) reply(m *nats.Msg, v triggerReply) {
	if m.Reply == "" {
		return
	}
	b, _ := json.Marshal(v)
	if err := m.Respond(b); err != nil {
		r.log.Debug().Err(err).Msg("trigger reply failed")
	}
}

// refs returns the lease references of the targets this replica may scan.
func (r *Runner) refs(targets []Target) []scopeRef {
	out := make([]scopeRef, 0, len(targets))
	for _, t := range targets {
		if r.pinned(t.Scope.Region) {
			out = append(out, scopeRef{key: natsx.LeaseKey(natsScope(t.Scope)), scope: t.Scope})
		}
	}
	return out
}

// RunCycle runs one cycle over targets (which must be valid; see Run): it
// maintains the leases (heartbeat, split with the other replicas, acquire,
// renew, release), then runs a pass for every target whose lease this
// replica holds — the regions of one account at most AccountConcurrency at
// a time, accounts independently — and returns the close records, sorted by
// scope. A pass whose close record could not be stored is returned as failed
// with reason "publish" (it does not exist on the bus). Invalid targets are
// skipped and logged.
func (r *Runner) RunCycle(ctx context.Context, targets []Target) []*events.PassClose {
	if err := validateTargets(r.o.Provider, targets); err != nil {
		r.log.Error().Err(err).Msg("invalid targets; cycle skipped")
		return nil
	}
	return r.runCycle(ctx, targets, nil)
}

func (r *Runner) runCycle(ctx context.Context, targets []Target, sel selection) []*events.PassClose {
	refs := r.refs(targets)
	r.leases.maintain(ctx, refs)

	type job struct {
		t Target
		l *lease
	}
	var accounts []string
	jobs := map[string][]job{}
	for _, t := range targets {
		if !r.pinned(t.Scope.Region) || !sel.matches(t.Scope) {
			continue
		}
		key := natsx.LeaseKey(natsScope(t.Scope))
		l := r.leases.claim(key)
		if l == nil {
			continue
		}
		acct := t.Scope.AccountID
		if _, ok := jobs[acct]; !ok {
			accounts = append(accounts, acct)
		}
		jobs[acct] = append(jobs[acct], job{t: t, l: l})
	}

	var (
		mu      sync.Mutex
		results []*events.PassClose
		wg      sync.WaitGroup
	)
	for _, acct := range accounts {
		wg.Go(func() {
			sem := make(chan struct{}, r.o.AccountConcurrency)
			var awg sync.WaitGroup
			for _, j := range jobs[acct] {
				sem <- struct{}{}
				if ctx.Err() != nil {
					<-sem
					r.leases.unclaim(j.l.key)
					continue
				}
				awg.Go(func() {
					defer func() { <-sem }()
					defer r.leases.unclaim(j.l.key)
					c, err := r.pass(ctx, j.t, j.l)
					if err != nil && c != nil { // not stored: report it as the failure it is
						cp := *c
						cp.Status, cp.Reason = events.PassFailed, events.ReasonPublish
						cp.Digest, cp.InstanceCount = "", 0
						c = &cp
					}
					if c != nil {
						mu.Lock()
						results = append(results, c)
						mu.Unlock()
					}
				})
			}
			awg.Wait()
		})
	}
	wg.Wait()
	slices.SortFunc(results, func(a, b *events.PassClose) int { return cmp.Compare(a.Scope.String(), b.Scope.String()) })
	return results
}

// lapseMargin is how long after another replica's lease expires this one
// looks again.
const lapseMargin = 50 * time.Millisecond

// Run runs cycles over targets until ctx ends: every Interval ± Jitter, and
// at once when a message arrives on natsx.TriggerSubject (bursts coalesce
// into one cycle; a trigger during a cycle runs one more cycle after it).
// Between cycles it keeps heartbeating and renewing its leases every
// LeaseTTL/3, so the regions stay with this replica and a dead replica's
// regions move to the live ones about LeaseTTL after it stopped. When ctx
// ends Run returns nil without releasing the leases (call Release for a
// graceful hand-over). It fails at once on invalid targets, on pinned
// regions that match no target, or when the trigger subscription fails.
// Call Run once per Runner.
func (r *Runner) Run(ctx context.Context, targets []Target) error {
	if err := validateTargets(r.o.Provider, targets); err != nil {
		return err
	}
	refs := r.refs(targets)
	if len(refs) == 0 && len(targets) > 0 {
		return fmt.Errorf("%w: no target is in the pinned regions %v", ErrInvalidTarget, r.o.Regions)
	}
	if r.conn == nil {
		return errors.New("collector: no NATS connection for the trigger subscription")
	}
	sub, err := r.conn.Subscribe(natsx.TriggerSubject(string(r.o.Provider)), r.onTrigger)
	if err != nil {
		return fmt.Errorf("collector: subscribe to triggers: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	r.log.Info().Int("targets", len(refs)).Dur("interval", r.o.Interval).Dur("lease_ttl", r.o.LeaseTTL).
		Strs("pinned_regions", r.o.Regions).Msg("collector running")

	// Announce this replica first and let replicas started together see each
	// other before anyone takes leases, so they split at the first cycle.
	if err := r.leases.heartbeat(ctx); err != nil {
		r.log.Warn().Err(err).Msg("replica heartbeat failed")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		// Every LeaseTTL/3, and just after another replica's lease or
		// presence lapses, so a dead replica's regions move at once.
		period, next := r.o.LeaseTTL/3, r.o.LeaseTTL/3
		for {
			t := time.NewTimer(next)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			next = period
			if wake := r.leases.maintain(ctx, refs); !wake.IsZero() {
				next = min(period, max(wake.Sub(r.o.Now())+lapseMargin, lapseMargin))
			}
		}
	})
	next := time.Now()
	if !r.o.Alone {
		next = next.Add(min(r.o.LeaseTTL/3, 2*time.Second) + randDuration(r.o.Jitter))
	}
	for {
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
			r.trig.take() // a full cycle answers the pending triggers
			r.cycle(ctx, targets, nil)
			next = time.Now().Add(r.nextWait())
		case <-r.trig.signal:
			timer.Stop()
			if sel, ok := r.trig.take(); ok {
				r.cycle(ctx, targets, sel)
			}
		}
	}
}

func (r *Runner) cycle(ctx context.Context, targets []Target, sel selection) {
	start := time.Now()
	closes := r.runCycle(ctx, targets, sel)
	if ctx.Err() == nil {
		r.logCycle(closes, sel != nil, time.Since(start))
	}
}

func (r *Runner) logCycle(closes []*events.PassClose, narrowed bool, d time.Duration) {
	failed := 0
	for _, c := range closes {
		if c.Status != events.PassComplete {
			failed++
		}
	}
	r.log.Info().Int("passes", len(closes)).Int("failed", failed).Bool("narrowed", narrowed).
		Dur("duration", d).Msg("cycle done")
}

// nextWait is Interval shifted by a random amount in [-Jitter, +Jitter].
func (r *Runner) nextWait() time.Duration {
	if r.o.Jitter <= 0 {
		return r.o.Interval
	}
	return max(r.o.Interval-r.o.Jitter+randDuration(2*r.o.Jitter), 0)
}

func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}
