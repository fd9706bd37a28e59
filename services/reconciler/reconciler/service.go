package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/ops"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// Name is the service name on the bus (durable consumer, DLQ subject,
// command queue group) and in telemetry.
const Name = "reconciler"

const instrumentation = "github.com/jmssync/jmssync/services/reconciler/reconciler"

// Deps are the service's dependencies, built by Run (or the all-in-one, or
// a test).
type Deps struct {
	// JS is required; its connection also serves the commands.
	JS     jetstream.JetStream
	Logger zerolog.Logger
	// Now is the decision clock (time.Now when nil).
	Now func() time.Time
	// NewRunID names each cycle (events.NewRunID when nil).
	NewRunID func() string
	// FetchWait bounds one pull of close records (5s when 0); shorter in
	// tests so shutdown is quick.
	FetchWait time.Duration
	// Manual: cycles run only when asked (Cycle, Confirm, Prune, the
	// commands), never on passes or the interval. The all-in-one's `once`
	// decides exactly once, after every pass is verified.
	Manual bool
}

// Service is one reconciler. New builds it, Run serves it.
type Service struct {
	*decider
	d   Deps
	log zerolog.Logger
	// verify is the policy VerifyPass uses (the root node plays no part).
	verify plan.Policy

	// mu serialises every decision: pass verification, cycles, commands.
	mu    sync.Mutex
	cache map[string]*plan.Pass // latest usable pass by scope key
	// inflight holds the intents issued by this process and not yet seen
	// in the mirror, so a cycle deciding while the applier is still busy
	// with an earlier one (a cold sync's scopes arriving apart) does not
	// queue the same work again. Memory only: after a restart the next
	// cycle issues them again, which is harmless.
	inflight map[string]inFlight
	// traces holds the span context of each scope's latest usable pass,
	// which a cycle's reconciler.decide span continues (trace.go).
	traces passTraces

	ready     atomic.Pointer[MirrorReady]
	readyFlag ops.Flag
	consuming ops.Flag
	dirty     chan struct{}
	// arrived holds the configured scopes whose pass came in since the last
	// cycle; when all have, the cycle runs at once instead of after the
	// debounce (allIn).
	// catchUp bounds a confirm's wait for pending passes (confirmCatchUp).
	catchUp time.Duration

	arrivedMu sync.Mutex
	arrived   map[string]bool
	allIn     chan struct{}
	cycles    atomic.Int64
	m         *metrics
}

// New builds the service; the jmssync_state and jumpserver_assets buckets
// must exist (natsx.EnsureTopology).
func New(ctx context.Context, cfg Config, d Deps) (*Service, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.NewRunID == nil {
		d.NewRunID = events.NewRunID
	}
	log := d.Logger.With().Str("component", Name).Logger()
	dc, err := newDecider(ctx, cfg, d.JS, log)
	if err != nil {
		return nil, err
	}
	pol, err := cfg.Policy(cfg.RootNode)
	if err != nil {
		return nil, err
	}
	s := &Service{decider: dc, d: d, log: log, verify: pol, cache: map[string]*plan.Pass{}, dirty: make(chan struct{}, 1),
		arrived: map[string]bool{}, allIn: make(chan struct{}, 1), catchUp: confirmCatchUp}
	s.readyFlag.Clear("waiting for the applier to rebuild the mirror (" + KeyMirrorReady + ")")
	s.consuming.Clear("not consuming close records yet")
	s.m = newMetrics(s)
	return s, nil
}

// Checks are the service's readiness checks: close records consumed and the
// mirror rebuilt by the applier.
func (s *Service) Checks() []ops.Check {
	return []ops.Check{s.consuming.Check("passes"), s.readyFlag.Check("mirror")}
}

// Cycles is the number of cycles completed (for tests and /metrics).
func (s *Service) Cycles() int64 { return s.cycles.Load() }

// Run serves until ctx ends: it consumes close records with the durable
// consumer "reconciler", watches the applier's mirror-ready record, answers
// commands and runs cycles after passes (debounced) and on the interval.
func (s *Service) Run(ctx context.Context) error {
	cons, err := natsx.EnsureConsumer(ctx, s.js, natsx.StreamSnapshots, natsx.DefaultConsumer(Name, natsx.SubjectsPasses))
	if err != nil {
		return err
	}
	subs, err := s.subscribeCommands(ctx)
	if err != nil {
		return err
	}
	defer func() {
		for _, sub := range subs {
			_ = sub.Unsubscribe()
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A live view of the mirror: a cycle then reads it in memory instead of
	// the whole bucket (without one, load reads the bucket).
	if v, err := s.mirror.NewView(ctx); err == nil {
		s.mu.Lock()
		s.view = v
		s.mu.Unlock()
	} else {
		s.log.Warn().Err(err).Msg("mirror view unavailable; every cycle reads the whole mirror")
	}
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Go(func() { s.watchMirror(ctx) })
	wg.Go(func() {
		s.consuming.Set()
		if err := natsx.Consume(ctx, cons, s.handleClose, natsx.ConsumeOptions{
			Service: Name, JS: s.js, Logger: s.log, FetchWait: s.d.FetchWait,
		}); err != nil {
			s.consuming.Clear(err.Error())
			errc <- err
		}
	})
	wg.Go(func() { s.loop(ctx) })
	select {
	case <-ctx.Done():
		err = nil
	case err = <-errc:
	}
	cancel()
	wg.Wait()
	return err
}

// markDirty asks for a cycle after the debounce.
func (s *Service) markDirty() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// loop runs cycles: after a usable pass once RECONCILE_DEBOUNCE passed
// without another (at most 10 debounces after the first), and on the
// interval.
func (s *Service) loop(ctx context.Context) {
	if s.d.Manual {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var fire <-chan time.Time
	var first time.Time
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-s.dirty:
			now := time.Now()
			if fire == nil {
				first = now
			}
			wait := s.cfg.Debounce
			if limit := first.Add(10 * s.cfg.Debounce); now.Add(wait).After(limit) {
				wait = max(0, limit.Sub(now))
			}
			if s.allArrived() { // every configured scope reported: no reason to wait
				wait = 0
			}
			timer.Reset(wait)
			fire = timer.C
		case <-s.allIn:
			if fire != nil { // every configured scope has reported: no reason to wait
				timer.Stop()
				fire = nil
				s.runCycle(ctx, "pass")
			}
		case <-fire:
			fire = nil
			s.runCycle(ctx, "pass")
		case <-tick.C:
			s.runCycle(ctx, "interval")
		}
	}
}

func (s *Service) runCycle(ctx context.Context, trigger string) {
	s.resetArrived()
	_, err := s.cycle(ctx, trigger, nil)
	switch {
	case err == nil, ctx.Err() != nil:
	case errors.Is(err, ErrMirrorNotReady): // the watcher asks for a cycle once it is
		s.log.Info().Str("trigger", trigger).Msg("cycle postponed: the applier has not rebuilt the mirror yet")
	default:
		s.log.Error().Err(err).Str("trigger", trigger).Msg("cycle failed; the next one decides again from the same inputs")
	}
}

// watchMirror follows the applier's mirror-ready record: present means
// ready (and names the root node), deleted means a rebuild is under way.
func (s *Service) watchMirror(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := s.store.kv.Watch(ctx, KeyMirrorReady)
		if err != nil {
			s.log.Warn().Err(err).Msg("watch of the mirror-ready record failed; retrying")
			sleep(ctx, 2*time.Second)
			continue
		}
		for e := range w.Updates() {
			if e == nil {
				continue // initial value done
			}
			if e.Operation() != jetstream.KeyValuePut {
				s.ready.Store(nil)
				s.readyFlag.Clear("the applier is rebuilding the mirror")
				continue
			}
			var r MirrorReady
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				s.log.Error().Err(err).Msg("mirror-ready record unreadable; still waiting")
				continue
			}
			first := s.ready.Swap(&r) == nil
			s.readyFlag.Set()
			if first {
				s.log.Info().Int("entries", r.Entries).Str("root_node", s.rootNode(&r)).Msg("mirror rebuilt by the applier")
				s.markDirty()
			}
		}
		_ = w.Stop()
		sleep(ctx, 200*time.Millisecond)
	}
}

// handleClose verifies one closed pass and stores the verdict.
func (s *Service) handleClose(ctx context.Context, msg jetstream.Msg) error {
	log := logging.Ctx(ctx)
	c, err := events.DecodeAs[*events.PassClose](msg.Data())
	if err != nil {
		return natsx.Poison(decodeReason(err), err)
	}
	subj, err := natsx.ParsePassSubject(msg.Subject())
	if err != nil || subj != natsScope(c.Scope) {
		return natsx.Poison(ReasonWrongSubject, fmt.Errorf("close of %s on %s", c.Scope, msg.Subject()))
	}
	if !s.configured(c.Scope) {
		log.Info().Str("scope", c.Scope.String()).Str("pass_id", c.PassID).Msg("pass of a scope not configured here: ignored")
		s.m.verified(ctx, "unconfigured")
		return nil
	}
	md, err := msg.Metadata()
	if err != nil {
		return err
	}
	var set chunkSet
	if c.Status == events.PassComplete {
		if set, err = s.reader.readChunks(ctx, c.Scope, c.PassID, md.Sequence.Stream, true); err != nil {
			return err // transient: redelivered with backoff
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	prev, rev, err := s.store.loadScope(ctx, c.Scope)
	if err != nil {
		return err
	}
	v := plan.VerifyPass(&s.verify, c, set.instances, set.chunks, prev)
	verdict := "usable"
	switch {
	case v.Ignored:
		verdict = "ignored"
	case !v.Usable && v.State.Trouble != nil && v.State.Trouble.Kind == events.AlertPassSuspicious:
		verdict = "suspicious"
	case !v.Usable:
		verdict = "failed"
	}
	ev := log.Info()
	if !v.Usable && !v.Ignored {
		ev = log.Warn()
	}
	ev.Str("scope", c.Scope.String()).Str("pass_id", c.PassID).Str("verdict", verdict).Str("reason", v.Reason).
		Int("instances", len(set.instances)).Int("bad_chunks", set.bad).Msg("pass verified")
	if v.Ignored {
		s.m.verified(ctx, verdict)
		return nil
	}
	// The alert first: a crash before the state is written verifies the
	// pass again and raises the same alert (same msg id); the other way
	// round the alert could be lost.
	if v.Alert != nil {
		if err := publish(ctx, s.js, natsx.AlertSubject(string(v.Alert.Kind)), v.Alert); err != nil {
			return err
		}
	}
	if _, err := s.store.saveScope(ctx, c.Scope, v.State, rev); err != nil {
		return err // a conflict is retried from a fresh read
	}
	s.m.verified(ctx, verdict)
	// Arrival first: the loop looks at it when the dirty signal comes in.
	s.passArrived(c.Scope)
	if v.Usable {
		s.cache[plan.ScopeKey(c.Scope)] = &plan.Pass{ID: c.PassID, Instances: set.instances}
		s.rememberPass(ctx, c.Scope, c.PassID)
		s.markDirty()
	}
	return nil
}

// passArrived notes that a configured scope reported (usable or not) and
// signals allIn once every configured scope has since the last cycle.
func (s *Service) passArrived(sc events.Scope) {
	if !s.configured(sc) {
		return
	}
	s.arrivedMu.Lock()
	defer s.arrivedMu.Unlock()
	s.arrived[plan.ScopeKey(sc)] = true
	if len(s.arrived) >= len(s.scopes) {
		select {
		case s.allIn <- struct{}{}:
		default:
		}
	}
}

// allArrived reports whether every configured scope reported since the last cycle.
func (s *Service) allArrived() bool {
	s.arrivedMu.Lock()
	defer s.arrivedMu.Unlock()
	return len(s.scopes) > 0 && len(s.arrived) >= len(s.scopes)
}

// resetArrived starts counting reports for the next cycle.
func (s *Service) resetArrived() {
	s.arrivedMu.Lock()
	defer s.arrivedMu.Unlock()
	clear(s.arrived)
}

func (s *Service) configured(sc events.Scope) bool {
	for _, c := range s.scopes {
		if sameScope(c, sc) {
			return true
		}
	}
	return false
}

// Cycle decides once now and carries the decision out, as the interval
// does; trigger is a snake_case word recorded in the run record. It fails
// with ErrMirrorNotReady before the applier has rebuilt the mirror.
func (s *Service) Cycle(ctx context.Context, trigger string) (*plan.Output, error) {
	return s.cycle(ctx, trigger, nil)
}

// cycle decides once and carries the decision out: the run record, the
// intents, the alerts, then the new state. prepare, when given, adjusts the
// input (confirm, prune) and may cancel the cycle by returning false.
//
// If the process dies after publishing and before the state is written,
// the next cycle decides again from the same state: the intents it issues
// carry newer generations and the applier's writes are idempotent (a
// create finds its deterministic id taken, a delete finds the tombstone),
// absences of a pass are counted once (State.Counted was not written
// either), and a held plan keeps its id, so its alert has the same msg id
// and state change id and is not sent twice.
func (s *Service) cycle(ctx context.Context, trigger string, prepare func(*plan.Input) bool) (_ *plan.Output, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ready := s.ready.Load()
	if ready == nil {
		return nil, ErrMirrorNotReady
	}
	start := time.Now()
	ctx, span := s.startDecide(ctx, trigger, prepare != nil)
	defer func() { endDecide(span, err) }()
	l, err := s.load(ctx, ready, s.cache, false)
	if err != nil {
		return nil, err
	}
	l.in.Now, l.in.RunID, l.in.Trigger = s.d.Now(), s.d.NewRunID(), trigger
	if prepare != nil && !prepare(&l.in) {
		return nil, nil
	}
	l.in.InFlight = s.inFlight(l.in.Mirror, time.Now())
	out, err := plan.Diff(l.in)
	if err != nil {
		return nil, err
	}
	stampObserved(&out)
	decided(span, &out)
	if err := s.publish(ctx, &out); err != nil {
		s.m.cycle(ctx, trigger, "publish_failed", time.Since(start))
		return nil, err
	}
	if err := s.save(ctx, l, &out); err != nil {
		s.m.cycle(ctx, trigger, "save_failed", time.Since(start))
		return nil, err
	}
	s.issued(out.Intents, time.Now())
	s.cycles.Add(1)
	s.m.decided(ctx, &out)
	s.m.cycle(ctx, trigger, "ok", time.Since(start))
	s.log.Info().Str("run_id", out.Run.RunID).Str("trigger", trigger).Int("intents", len(out.Intents)).
		Int("alerts", len(out.Alerts)).Dur("took", time.Since(start)).Msg("cycle decided")
	return &out, nil
}

// publish sends the opening run record, then the intents, then the alerts.
// The run record goes first: the notifier counts results against it.
func (s *Service) publish(ctx context.Context, out *plan.Output) error {
	if err := publish(ctx, s.js, natsx.RunSubject(out.Run.RunID), out.Run); err != nil {
		return err
	}
	// Intents in one pipelined batch: one round trip each would hold a
	// large first cycle back by seconds. Each is encoded as it is sent.
	err := natsx.PublishEach(ctx, s.js, len(out.Intents), func(i int) (natsx.Outgoing, error) {
		in := &out.Intents[i]
		b, err := events.Encode(in)
		if err != nil {
			return natsx.Outgoing{}, fmt.Errorf("publish intent: %w", err)
		}
		return natsx.Outgoing{Subject: natsx.IntentSubject(natsScope(in.Scope)), Payload: b, MsgID: in.MsgID(), Header: jsonHeader}, nil
	}, 0)
	if err != nil {
		return err
	}
	for i := range out.Alerts {
		a := &out.Alerts[i]
		if err := publish(ctx, s.js, natsx.AlertSubject(string(a.Kind)), a); err != nil {
			return err
		}
	}
	return nil
}

// save writes every scope's next state and the orphan state, each by
// compare-and-set against what the cycle read.
func (s *Service) save(ctx context.Context, l *loaded, out *plan.Output) error {
	var errs []error
	for i := range out.Scopes {
		r := &out.Scopes[i]
		if _, err := s.store.saveScope(ctx, r.Scope, r.State, l.revs[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := s.store.save(ctx, keyOrphans, out.Orphans, l.orphansRev); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

var jsonHeader = nats.Header{natsx.HeaderContentType: {"application/json"}}

// publish validates m and stores it on subject with its deterministic msg id.
func publish(ctx context.Context, js jetstream.JetStream, subject string, m events.Message) error {
	b, err := events.Encode(m)
	if err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	_, err = natsx.Publish(ctx, js, subject, b, m.MsgID(), jsonHeader)
	return err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
