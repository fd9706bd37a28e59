package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/services/jms-sync/internal/cli"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// Exit codes of the operator commands (documented in main's usage).
const (
	ExitOK       = 0
	ExitFailed   = 1 // a pass failed, an intent was dead-lettered, an error
	ExitUsage    = 2 // bad flags or an invalid configuration
	ExitHeld     = 3 // everything ran, but deletions are held or creates are paused at the cap
	ExitLocked   = 4 // another jms-sync (serve, once…) holds the run lock
	ExitNotFound = 5 // confirm/prune refused: no such plan, or the scope is still configured
)

// CommandOptions are what every pipeline command shares.
type CommandOptions struct {
	Env     map[string]string // JMSSYNC_* (JMSSYNC_NATS_URL picks an external server)
	Configs *Configs
	DataDir string
	// Timeout bounds the whole command (30m when 0).
	Timeout  time.Duration
	Progress *cli.Progress
	Log      zerolog.Logger
}

func (o *CommandOptions) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.DataDir == "" {
		o.DataDir = "data"
	}
}

// session runs the applier, the reconciler and the notifier (no collector
// loops) in this process under the run lock, for once and the in-process
// confirm and prune. Its reconciler decides only when asked (Manual).
type session struct {
	o    *CommandOptions
	bus  *SharedBus
	lock *RunLock
	svcs *Services

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errMu  sync.Mutex
	err    error

	// Seen on the bus while the session runs.
	watchMu   sync.Mutex
	deadLetts []string
	alerts    []events.Alert
	closed    map[string]*events.RunRecord
	subs      []*nats.Subscription
}

func openSession(ctx context.Context, o *CommandOptions, command string) (_ *session, err error) {
	s := &session{o: o, closed: map[string]*events.RunRecord{}}
	defer func() {
		if err != nil {
			s.close(ctx)
		}
	}()
	o.Progress.Update("opening the JetStream store")
	ext, err := natsConfig(o.Env)
	if err != nil {
		return nil, err
	}
	if s.bus, err = OpenSharedConfig(ctx, ext, o.DataDir, true, 10*time.Second, o.Log); err != nil {
		return nil, err
	}
	if s.lock, err = AcquireRunLock(ctx, s.bus.JS, command, 0, o.Log); err != nil {
		return nil, err
	}
	if s.svcs, err = Build(ctx, o.Configs, s.bus.Bus, o.Log); err != nil {
		return nil, err
	}
	// This session's reconciler decides only when asked.
	if s.svcs.Reconciler, err = reconciler.New(ctx, o.Configs.Reconciler,
		reconciler.Deps{JS: s.bus.JS, Logger: o.Log, Manual: true}); err != nil {
		return nil, err
	}
	if err := s.watch(); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	start := func(name string, f func(context.Context) error) {
		s.wg.Go(func() {
			if err := f(rctx); err != nil && !errors.Is(err, context.Canceled) {
				s.errMu.Lock()
				s.err = errors.Join(s.err, fmt.Errorf("%s: %w", name, err))
				s.errMu.Unlock()
			}
		})
	}
	start("applier", s.svcs.Applier.Run)
	start("reconciler", s.svcs.Reconciler.Run)
	if s.svcs.Notifier != nil {
		start("notifier", s.svcs.Notifier.Run)
	}
	return s, nil
}

// failure is the first error a service stopped with, if any.
func (s *session) failure() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// watch records dead letters, alerts and closed runs published while the
// session runs (core subscriptions: every JetStream publish is seen).
func (s *session) watch() error {
	nc := s.bus.NC
	for subject, h := range map[string]nats.MsgHandler{
		natsx.SubjectsDLQ: func(m *nats.Msg) {
			s.watchMu.Lock()
			s.deadLetts = append(s.deadLetts, m.Subject+": "+m.Header.Get(natsx.HeaderDLQReason))
			s.watchMu.Unlock()
		},
		natsx.SubjectsAlerts: func(m *nats.Msg) {
			if a, err := events.DecodeAs[*events.Alert](m.Data); err == nil {
				s.watchMu.Lock()
				s.alerts = append(s.alerts, *a)
				s.watchMu.Unlock()
			}
		},
		natsx.SubjectsRuns: func(m *nats.Msg) {
			if r, err := events.DecodeAs[*events.RunRecord](m.Data); err == nil && r.Kind == events.RunClosed {
				s.watchMu.Lock()
				s.closed[r.RunID] = r
				s.watchMu.Unlock()
			}
		},
	} {
		sub, err := nc.Subscribe(subject, h)
		if err != nil {
			return err
		}
		s.subs = append(s.subs, sub)
	}
	return nc.Flush()
}

// decide runs one reconciler decision through f (Cycle, Confirm, Prune),
// retrying while the applier has not rebuilt the mirror yet.
func decide[T any](ctx context.Context, s *session, f func(context.Context) (T, error)) (T, error) {
	for {
		v, err := f(ctx)
		if !errors.Is(err, reconciler.ErrMirrorNotReady) {
			return v, err
		}
		if ferr := s.failure(); ferr != nil {
			return v, ferr
		}
		s.o.Progress.Update("waiting for the applier to read JumpServer's managed assets")
		select {
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("the applier did not rebuild the mirror: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// drainResult is how the applier's work ended.
type drainResult struct {
	Left      uint64 // intents still queued
	CapPaused bool   // creates wait for room under the Community Edition cap
	Paused    string // the applier is paused (breaker, auth…): why, every reason, comma-separated
	// Cleared are the pause reasons that held while draining but no longer
	// at its end (a breaker that opened, then closed), comma-separated.
	Cleared string
}

// note is the pause reasons for a report, "" when none held.
func (d drainResult) note() string {
	n := pausedNote(d.Paused, d.CapPaused)
	if d.Cleared == "" {
		return n
	}
	was := "applier was paused: " + d.Cleared + " (cleared)"
	if n == "" {
		return " (" + was + ")"
	}
	return strings.TrimSuffix(n, ")") + "; " + was + ")"
}

// pauseTracker gathers every pause reason seen while draining: the
// applier's pause flags, sampled, and its applier_paused alerts, so a
// pause shorter than a sample (or started just before the drain ended) is
// reported too.
type pauseTracker struct {
	s    *session
	seen map[string]bool
}

// result is the drain's outcome with the reasons holding now (paused).
func (p *pauseTracker) result(left uint64, capNow bool, paused string) drainResult {
	_, alerts := p.s.seen()
	for _, a := range alerts {
		if a.Kind == events.AlertApplierPaused && a.Details["reason"] != "" {
			p.seen[a.Details["reason"]] = true
		}
	}
	holding := map[string]bool{}
	for _, r := range strings.Split(paused, ",") {
		if r != "" {
			holding[r], p.seen[r] = true, true
		}
	}
	var cleared []string
	for r := range p.seen {
		if !holding[r] {
			cleared = append(cleared, r)
		}
	}
	slices.Sort(cleared)
	return drainResult{Left: left, CapPaused: capNow, Paused: paused, Cleared: strings.Join(cleared, ",")}
}

// drain waits until the applier has taken every intent off INTENTS (each
// applied, found stale, or dead-lettered). It returns early when creates
// wait under the asset cap and nothing else moves.
func (s *session) drain(ctx context.Context, total int) (drainResult, error) {
	var last uint64
	stuckSince := time.Now()
	kv, err := s.bus.JS.KeyValue(ctx, natsx.BucketState)
	if err != nil {
		return drainResult{}, err
	}
	pt := &pauseTracker{s: s, seen: map[string]bool{}}
	for {
		left, err := pendingIntents(ctx, s.bus.Bus)
		if err != nil {
			return drainResult{}, err
		}
		if left == 0 {
			return pt.result(0, false, pauseReasons(ctx, kv)), nil
		}
		if left != last {
			last, stuckSince = left, time.Now()
		}
		paused := pauseReasons(ctx, kv)
		_, capErr := kv.Get(ctx, "applier.cap")
		capNow := capErr == nil
		for _, r := range strings.Split(paused, ",") {
			if r != "" {
				pt.seen[r] = true
			}
		}
		s.o.Progress.Update("applying: %d of %d intents left%s", left, total, pausedNote(paused, capNow))
		if capNow && time.Since(stuckSince) > 3*time.Second {
			return pt.result(left, true, paused), nil
		}
		if ferr := s.failure(); ferr != nil {
			return pt.result(left, capNow, paused), ferr
		}
		select {
		case <-ctx.Done():
			return pt.result(left, capNow, paused), fmt.Errorf("%d intents not applied: %w", left, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func pausedNote(paused string, capNow bool) string {
	var parts []string
	if paused != "" {
		parts = append(parts, "applier paused: "+paused)
	}
	if capNow {
		parts = append(parts, "asset cap reached: creates wait")
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// pauseReasons lists the applier's pause keys (applier.paused.<reason>).
func pauseReasons(ctx context.Context, kv jetstream.KeyValue) string {
	l, err := kv.ListKeysFiltered(ctx, "applier.paused.>")
	if err != nil {
		return ""
	}
	var out []string
	for k := range l.Keys() {
		out = append(out, strings.TrimPrefix(k, "applier.paused."))
	}
	_ = l.Stop()
	slices.Sort(out)
	return strings.Join(out, ",")
}

// waitClosed waits up to d for the notifier to close run id (so its card is
// sent before the process exits); nil without a notifier or on timeout.
func (s *session) waitClosed(ctx context.Context, id string, d time.Duration) *events.RunRecord {
	if s.svcs.Notifier == nil || id == "" {
		return nil
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		s.watchMu.Lock()
		r := s.closed[id]
		s.watchMu.Unlock()
		if r != nil {
			return r
		}
		s.o.Progress.Update("waiting for the notifier to close run %s", id)
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

func (s *session) seen() (deadLetters []string, alerts []events.Alert) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	return append([]string(nil), s.deadLetts...), append([]events.Alert(nil), s.alerts...)
}

// close stops the services, releases the collectors' leases and the run
// lock, and closes the bus.
func (s *session) close(ctx context.Context) {
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
	}
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	if s.svcs != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		for _, c := range s.svcs.Collectors {
			if err := c.Runner.Release(rctx); err != nil {
				s.o.Log.Warn().Err(err).Msg("lease release failed; the leases expire by themselves")
			}
		}
		cancel()
	}
	s.lock.Release(ctx)
	s.bus.Close()
}
