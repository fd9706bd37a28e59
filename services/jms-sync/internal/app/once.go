package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/services/jms-sync/internal/cli"
)

// OnceResult is what one `once` did.
type OnceResult struct {
	Passes       []*events.PassClose
	RunID        string
	Intents      map[events.Op]int
	IntentsTotal int
	Skipped      map[string]string // scope → why the reconciler decided nothing for it
	Held         []HeldPlan
	Drain        drainResult
	DeadLetters  []string
	Run          *events.RunRecord // the notifier's closed record, if it closed the run in time
	Elapsed      time.Duration
	Err          error // what stopped the run early, if anything
}

// HeldPlan is a deletion plan waiting for `confirm`.
type HeldPlan struct {
	ID        string
	Scope     string
	Deletions int
}

// ExitCode is once's exit status: 0 when every pass completed and every
// intent was applied; 1 when a pass failed (or was not usable), an intent
// was dead-lettered, the run did not finish or intents wait behind a pause
// of the applier (breaker, auth…); 3 when all that went well but deletions
// are held or creates wait under the asset cap.
func (r *OnceResult) ExitCode() int {
	switch {
	case r.Err != nil, len(r.DeadLetters) > 0, r.failedPasses() > 0, len(r.Skipped) > 0,
		r.Run != nil && r.Run.Summary != nil && r.Run.Summary.Failed > 0,
		r.Drain.Left > 0 && r.Drain.Paused != "":
		return ExitFailed
	case len(r.Held) > 0, r.Drain.CapPaused:
		return ExitHeld
	}
	return ExitOK
}

func (r *OnceResult) failedPasses() int {
	n := 0
	for _, c := range r.Passes {
		if c.Status != events.PassComplete {
			n++
		}
	}
	return n
}

// Once runs one full cycle, as a cron job would: every configured
// account's regions are listed once, the reconciler decides once, the
// applier applies everything, then the process stops. It holds the run
// lock for the whole time, so it never runs beside `serve` (ErrLocked).
func Once(ctx context.Context, o CommandOptions) (*OnceResult, error) {
	o.defaults()
	started := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	s, err := openSession(ctx, &o, "once")
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	defer o.Progress.Done()
	res := &OnceResult{Intents: map[events.Op]int{}, Skipped: map[string]string{}}
	res.Err = runOnce(ctx, s, res)
	res.DeadLetters, _ = s.seen()
	res.Elapsed = time.Since(started)
	return res, nil
}

func runOnce(ctx context.Context, s *session, res *OnceResult) error {
	o := s.o
	// 1. one pass per account and region
	res.Passes = runPasses(ctx, s.svcs.Collectors, o.Progress)
	for _, c := range res.Passes {
		if c.Status == events.PassComplete {
			o.Progress.Step("listed %-40s %6d instances", c.Scope.String(), c.InstanceCount)
		} else {
			o.Progress.Step("FAILED %-40s %s: %s", c.Scope.String(), c.Reason, c.Detail)
		}
	}
	// 2. the reconciler has verified every close record
	if err := waitVerified(ctx, s); err != nil {
		return err
	}
	// 3. one decision
	o.Progress.Update("deciding")
	out, err := decide(ctx, s, func(ctx context.Context) (*onceDecision, error) {
		out, err := s.svcs.Reconciler.Cycle(ctx, "once")
		if err != nil || out == nil {
			return nil, err
		}
		d := &onceDecision{runID: out.Run.RunID, intents: map[events.Op]int{}, total: len(out.Intents), skipped: map[string]string{}}
		for i := range out.Intents {
			d.intents[out.Intents[i].Op]++
		}
		for _, sc := range out.Run.Scopes {
			if sc.Skipped != "" {
				d.skipped[sc.Scope.String()] = sc.Skipped
			}
		}
		for i := range out.Scopes {
			if h := out.Scopes[i].Held; h != nil {
				d.held = append(d.held, HeldPlan{ID: h.ID, Scope: h.Scope.String(), Deletions: len(h.Identities)})
			}
		}
		return d, nil
	})
	if err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	res.RunID, res.Intents, res.IntentsTotal, res.Skipped, res.Held = out.runID, out.intents, out.total, out.skipped, out.held
	o.Progress.Step("decided: %s", opsLine(res.Intents))
	// 4. the applier takes every intent
	if res.Drain, err = s.drain(ctx, res.IntentsTotal); err != nil {
		return err
	}
	res.Run = s.waitClosed(ctx, res.RunID, 20*time.Second)
	return s.failure()
}

type onceDecision struct {
	runID   string
	intents map[events.Op]int
	total   int
	skipped map[string]string
	held    []HeldPlan
}

// runPasses runs one cycle of every collector (RunCycle), then a pass of
// each target RunCycle left out (its lease was still held, e.g. by a
// replica that just stopped) once the lease lapses. A target that gets no
// pass at all is reported as a failed close with reason "lease_held".
func runPasses(ctx context.Context, cols []*CollectorRun, p *cli.Progress) []*events.PassClose {
	var (
		mu     sync.Mutex
		closes []*events.PassClose
		wg     sync.WaitGroup
	)
	total := 0
	for _, c := range cols {
		total += len(c.Targets)
	}
	p.Update("listing %d regions", total)
	for _, c := range cols {
		wg.Go(func() {
			got := c.Runner.RunCycle(ctx, c.Targets)
			done := map[string]bool{}
			for _, cl := range got {
				done[cl.Scope.String()] = true
			}
			for _, t := range c.Targets {
				if done[t.Scope.String()] {
					continue
				}
				if cl := passWhenFree(ctx, c, t); cl != nil {
					got = append(got, cl)
				}
			}
			mu.Lock()
			closes = append(closes, got...)
			p.Update("listing: %d of %d regions done", len(closes), total)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.SortFunc(closes, func(a, b *events.PassClose) int { return strings.Compare(a.Scope.String(), b.Scope.String()) })
	return closes
}

func passWhenFree(ctx context.Context, c *CollectorRun, t collector.Target) *events.PassClose {
	deadline := time.Now().Add(collector.DefaultLeaseTTL + 5*time.Second)
	for {
		cl, err := c.Runner.RunPass(ctx, t)
		if cl != nil {
			return cl
		}
		if !errors.Is(err, collector.ErrLeaseHeld) || time.Now().After(deadline) || ctx.Err() != nil {
			reason := "lease_held"
			if !errors.Is(err, collector.ErrLeaseHeld) {
				reason = events.ReasonAPIError
			}
			detail := "no pass ran"
			if err != nil {
				detail = err.Error()
			}
			return &events.PassClose{Scope: t.Scope, Status: events.PassFailed, Reason: reason, Detail: detail}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// waitVerified waits until the reconciler's consumer has processed every
// close record on SNAPSHOTS (none pending, none awaiting an ack).
func waitVerified(ctx context.Context, s *session) error {
	for {
		st, err := s.bus.JS.Stream(ctx, "SNAPSHOTS")
		if err != nil {
			return err
		}
		cons, err := st.Consumer(ctx, "reconciler")
		if err == nil {
			info, ierr := cons.Info(ctx)
			if ierr == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return nil
			}
		}
		if ferr := s.failure(); ferr != nil {
			return ferr
		}
		s.o.Progress.Update("verifying the passes")
		select {
		case <-ctx.Done():
			return fmt.Errorf("the reconciler did not verify the passes: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func opsLine(m map[events.Op]int) string {
	var parts []string
	for _, op := range events.Ops() {
		if n := m[op]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, op))
		}
	}
	if len(parts) == 0 {
		return "nothing to change"
	}
	return strings.Join(parts, ", ")
}

// Print writes once's report for a person (or a cron mail).
func (r *OnceResult) Print(w io.Writer) {
	instances := 0
	for _, c := range r.Passes {
		instances += c.InstanceCount
	}
	fmt.Fprintf(w, "jms-sync once: %s listed (%d instances), %d failed; run %s in %s\n",
		cli.Plural(len(r.Passes), "pass", "passes"), instances, r.failedPasses(), orDash(r.RunID), r.Elapsed.Round(100*time.Millisecond))
	for _, c := range r.Passes {
		if c.Status != events.PassComplete {
			fmt.Fprintf(w, "  pass failed   %s: %s %s\n", c.Scope.String(), c.Reason, c.Detail)
		}
	}
	for sc, why := range r.Skipped {
		fmt.Fprintf(w, "  not decided   %s: %s\n", sc, why)
	}
	fmt.Fprintf(w, "  intents       %s\n", opsLine(r.Intents))
	if r.Drain.Left > 0 {
		fmt.Fprintf(w, "  not applied   %d intents%s\n", r.Drain.Left, r.Drain.note())
	} else if n := r.Drain.note(); n != "" {
		fmt.Fprintf(w, "  applied       every intent%s\n", n)
	}
	for _, h := range r.Held {
		fmt.Fprintf(w, "  HELD          %s: %s; review with `jms-sync plan`, apply with `jms-sync confirm %s`\n",
			h.Scope, cli.Plural(h.Deletions, "deletion", "deletions"), h.ID)
	}
	for _, d := range r.DeadLetters {
		fmt.Fprintf(w, "  dead letter   %s\n", d)
	}
	if r.Run != nil && r.Run.Summary != nil {
		fmt.Fprintf(w, "  run closed    %d failed, %d pending\n", r.Run.Summary.Failed, r.Run.Summary.Pending)
	}
	if r.Err != nil {
		fmt.Fprintf(w, "  error         %v\n", r.Err)
	}
	fmt.Fprintf(w, "exit status %d\n", r.ExitCode())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
