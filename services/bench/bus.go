package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
)

// tracker watches the pipeline's records on the bus (core subscriptions see
// every JetStream publish): pass closes, run records, applied facts and
// dead letters, each with the time the harness received it.
type tracker struct {
	nc *nats.Conn

	mu      sync.Mutex
	changed chan struct{}
	passes  []passSeen
	runs    map[string]*runSeen
	applied map[string]int // by subject op
	dlq     []string
	alerts  []string
}

type passSeen struct {
	At       time.Time
	Scope    string
	ID       string
	Status   string
	Reason   string
	Started  time.Time
	Finished time.Time
	Count    int
}

type runSeen struct {
	ID       string
	OpenAt   time.Time
	CloseAt  time.Time
	Expected int
	Passes   map[string]bool // pass ids decided
	Skipped  []string
	Summary  *events.RunSummary
}

func newTracker(nc *nats.Conn) (*tracker, error) {
	t := &tracker{nc: nc, changed: make(chan struct{}, 1), runs: map[string]*runSeen{}, applied: map[string]int{}}
	for _, subj := range []string{natsx.SubjectsPasses, natsx.SubjectsRuns, natsx.SubjectsAssets, natsx.SubjectsDLQ, natsx.SubjectsAlerts} {
		sub, err := nc.Subscribe(subj, t.onMsg)
		if err != nil {
			return nil, err
		}
		_ = sub.SetPendingLimits(-1, -1)
	}
	return t, nc.Flush()
}

func (t *tracker) onMsg(m *nats.Msg) {
	now := time.Now()
	t.mu.Lock()
	defer func() {
		t.mu.Unlock()
		select {
		case t.changed <- struct{}{}:
		default:
		}
	}()
	switch {
	case strings.HasPrefix(m.Subject, "jmssync.pass."):
		var c events.PassClose
		if err := json.Unmarshal(m.Data, &c); err != nil {
			return
		}
		t.passes = append(t.passes, passSeen{At: now, Scope: c.Scope.String(), ID: c.PassID, Status: string(c.Status),
			Reason: c.Reason, Started: c.StartedAt, Finished: c.FinishedAt, Count: c.InstanceCount})
	case strings.HasPrefix(m.Subject, "jmssync.run."):
		var r events.RunRecord
		if err := json.Unmarshal(m.Data, &r); err != nil {
			return
		}
		rs := t.runs[r.RunID]
		if rs == nil {
			rs = &runSeen{ID: r.RunID, Passes: map[string]bool{}}
			t.runs[r.RunID] = rs
		}
		for _, s := range r.Scopes {
			if s.PassID != "" {
				rs.Passes[s.PassID] = true
			}
			if s.Skipped != "" {
				rs.Skipped = append(rs.Skipped, s.Scope.String()+": "+s.Skipped)
			}
		}
		switch r.Kind {
		case events.RunOpen:
			rs.OpenAt, rs.Expected = now, r.ExpectedIntents()
		case events.RunClosed:
			rs.CloseAt, rs.Summary = now, r.Summary
		}
	case strings.HasPrefix(m.Subject, "jmssync.asset."):
		op := strings.Split(m.Subject, ".")[2]
		t.applied[op]++
	case strings.HasPrefix(m.Subject, "jmssync.dlq."):
		if len(t.dlq) < 50 {
			t.dlq = append(t.dlq, m.Subject+" "+truncate(string(m.Data), 300))
		}
	case strings.HasPrefix(m.Subject, "jmssync.alert."):
		if len(t.alerts) < 50 {
			t.alerts = append(t.alerts, m.Subject+" "+truncate(string(m.Data), 300))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// trigger asks both collectors for a cycle (core request/reply).
func (t *tracker) trigger(ctx context.Context) error {
	for _, p := range []asset.Provider{asset.Aliyun, asset.HuaweiCloud} {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		msg, err := t.nc.RequestWithContext(rctx, natsx.TriggerSubject(string(p)), []byte("{}"))
		cancel()
		if err != nil {
			return fmt.Errorf("trigger %s: %w", p, err)
		}
		var r struct {
			Queued bool   `json:"queued"`
			Error  string `json:"error"`
		}
		if err := json.Unmarshal(msg.Data, &r); err != nil || !r.Queued {
			return fmt.Errorf("trigger %s refused: %s", p, msg.Data)
		}
	}
	return nil
}

// cycleResult says when the parts of a cycle ended.
type cycleResult struct {
	PassesDone time.Time // last pass close received
	RunsClosed time.Time // last run covering those passes closed
	Decided    time.Time // last of those runs opened (the reconciler decided)
	Passes     []passSeen
	Runs       []*runSeen
	Expected   int // intents the covering runs expected
}

// waitCycle waits until every scope has a pass closed after since, and the
// runs deciding those passes are closed (the notifier closes a run when
// every expected intent has a result). A failed pass is an error: the
// benchmark only measures working syncs.
func (t *tracker) waitCycle(ctx context.Context, since time.Time, scopes int, timeout time.Duration) (cycleResult, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if res, done, err := t.cycleState(since, scopes); err != nil {
			return res, err
		} else if done {
			return res, nil
		}
		select {
		case <-ctx.Done():
			return cycleResult{}, ctx.Err()
		case <-deadline.C:
			res, _, _ := t.cycleState(since, scopes)
			return res, fmt.Errorf("cycle not finished within %s: %s", timeout, t.describe(since))
		case <-t.changed:
		case <-tick.C:
		}
	}
}

func (t *tracker) cycleState(since time.Time, scopes int) (cycleResult, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var res cycleResult
	latest := map[string]passSeen{}
	for _, p := range t.passes {
		if p.At.Before(since) {
			continue
		}
		if p.Status != string(events.PassComplete) {
			return res, false, fmt.Errorf("pass %s of %s %s: %s", p.ID, p.Scope, p.Status, p.Reason)
		}
		latest[p.Scope] = p
	}
	if len(latest) < scopes {
		return res, false, nil
	}
	covering := map[string]*runSeen{}
	for _, p := range latest {
		res.Passes = append(res.Passes, p)
		if p.At.After(res.PassesDone) {
			res.PassesDone = p.At
		}
		var found *runSeen
		for _, r := range t.runs {
			if r.Passes[p.ID] && !r.OpenAt.IsZero() && (found == nil || r.OpenAt.Before(found.OpenAt)) {
				found = r
			}
		}
		if found == nil || found.CloseAt.IsZero() {
			return res, false, nil
		}
		covering[found.ID] = found
	}
	// Runs opened after the passes (a later debounce of the same cycle)
	// must be closed too.
	for _, r := range t.runs {
		if !r.OpenAt.Before(since) {
			if r.CloseAt.IsZero() {
				return res, false, nil
			}
			covering[r.ID] = r
		}
	}
	for _, r := range covering {
		res.Runs = append(res.Runs, r)
		res.Expected += r.Expected
		if r.CloseAt.After(res.RunsClosed) {
			res.RunsClosed = r.CloseAt
		}
		if r.OpenAt.After(res.Decided) {
			res.Decided = r.OpenAt
		}
	}
	sort.Slice(res.Runs, func(i, j int) bool { return res.Runs[i].OpenAt.Before(res.Runs[j].OpenAt) })
	sort.Slice(res.Passes, func(i, j int) bool { return res.Passes[i].Scope < res.Passes[j].Scope })
	return res, true, nil
}

func (t *tracker) describe(since time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for _, p := range t.passes {
		if !p.At.Before(since) {
			fmt.Fprintf(&b, "pass %s %s %s (%d instances); ", p.Scope, p.ID, p.Status, p.Count)
		}
	}
	for _, r := range t.runs {
		if !r.OpenAt.Before(since) || r.OpenAt.IsZero() {
			fmt.Fprintf(&b, "run %s open=%v closed=%v expected=%d skipped=%v; ", r.ID, !r.OpenAt.IsZero(), !r.CloseAt.IsZero(), r.Expected, r.Skipped)
		}
	}
	if len(t.dlq) > 0 {
		fmt.Fprintf(&b, "dead letters: %v; ", t.dlq)
	}
	if len(t.alerts) > 0 {
		fmt.Fprintf(&b, "alerts: %v", t.alerts)
	}
	return b.String()
}

func (t *tracker) snapshot() (applied map[string]int, dlq, alerts []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	applied = map[string]int{}
	for k, v := range t.applied {
		applied[k] = v
	}
	return applied, append([]string(nil), t.dlq...), append([]string(nil), t.alerts...)
}
