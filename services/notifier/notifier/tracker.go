package notifier

import (
	"slices"
	"time"

	"github.com/jmssync/jmssync/libs/events"
)

// maxSummaryFailures bounds RunSummary.Failures ("at most a few dozen").
const maxSummaryFailures = 50

type scopeKey struct{ provider, account, region string }

type accountKey struct{ provider, account string }

type accountAgg struct {
	provider, id, name string
	counts             map[events.AppliedOp]int
	rows               map[events.AppliedOp][]Row
	failed             int
	failures           []events.RunFailure
}

type runAgg struct {
	id        string
	open      *events.RunRecord
	firstSeen time.Time
	results   map[scopeKey]int
	total     int // results of any scope
	accounts  map[accountKey]*accountAgg
	order     []accountKey
}

// Closing is a run the Tracker has closed: its cards and closing record.
type Closing struct {
	RunID string
	// Open is nil when the opening record never arrived.
	Open     *events.RunRecord
	Accounts []AccountRun
	Summary  events.RunSummary
}

// Tracker aggregates the results of runs until each is complete or times
// out. It keeps counts and the first maxRows rows per kind and account, so
// its memory does not grow with the size of a run. Not safe for concurrent
// use; pure (time is passed in).
type Tracker struct {
	maxRows int
	timeout time.Duration
	runs    map[string]*runAgg
	done    map[string]time.Time // closed runs, by when
}

// NewTracker keeps maxRows rows per kind and closes a run timeout after it
// started (its cycle time, or when its first record arrived if earlier).
func NewTracker(maxRows int, timeout time.Duration) *Tracker {
	return &Tracker{maxRows: max(maxRows, 1), timeout: timeout, runs: map[string]*runAgg{}, done: map[string]time.Time{}}
}

func (t *Tracker) run(id string, now time.Time) *runAgg {
	if _, ok := t.done[id]; ok {
		return nil
	}
	r := t.runs[id]
	if r == nil {
		r = &runAgg{id: id, firstSeen: now, results: map[scopeKey]int{}, accounts: map[accountKey]*accountAgg{}}
		t.runs[id] = r
	}
	return r
}

func (r *runAgg) account(provider, id, name string) *accountAgg {
	k := accountKey{provider, id}
	a := r.accounts[k]
	if a == nil {
		a = &accountAgg{provider: provider, id: id, counts: map[events.AppliedOp]int{}, rows: map[events.AppliedOp][]Row{}}
		r.accounts[k] = a
		r.order = append(r.order, k)
	}
	if a.name == "" {
		a.name = name
	}
	return a
}

// Open records a run's opening record.
func (t *Tracker) Open(rec *events.RunRecord, now time.Time) {
	r := t.run(rec.RunID, now)
	if r == nil || r.open != nil {
		return
	}
	r.open = rec
	for _, s := range rec.Scopes {
		r.account(string(s.Scope.Provider), s.Scope.AccountID, s.Scope.AccountName)
	}
}

// Closed marks a run closed (its closing record was seen): it is dropped
// and later results for it are ignored.
func (t *Tracker) Closed(runID string, now time.Time) {
	delete(t.runs, runID)
	t.done[runID] = now
}

// IsDone reports whether a run was closed.
func (t *Tracker) IsDone(runID string) bool {
	_, ok := t.done[runID]
	return ok
}

// Fact counts one applied fact.
func (t *Tracker) Fact(f *events.AppliedFact, now time.Time) {
	r := t.run(f.RunID, now)
	if r == nil {
		return
	}
	r.results[scopeKey{string(f.Provider), f.AccountID, f.Region}]++
	r.total++
	a := r.account(string(f.Provider), f.AccountID, "")
	a.counts[f.Op]++
	if len(a.rows[f.Op]) < t.maxRows {
		a.rows[f.Op] = append(a.rows[f.Op], rowOf(f))
	}
}

func rowOf(f *events.AppliedFact) Row {
	st := f.After
	if st == nil {
		st = f.Before
	}
	if st == nil {
		return Row{Name: f.Identity.Key()}
	}
	row := Row{Name: st.Name, Address: st.Address, Platform: st.Platform}
	if b, a := f.Before, f.After; b != nil && a != nil {
		if b.Name != a.Name {
			row.Name = b.Name + " → " + a.Name
		}
		if b.Address != a.Address {
			row.Address = b.Address + " → " + a.Address
		}
		if b.Platform != a.Platform {
			row.Platform = b.Platform + " → " + a.Platform
		}
	}
	return row
}

// Failure counts one intent that could not be applied.
func (t *Tracker) Failure(runID string, scope events.Scope, f events.RunFailure, now time.Time) {
	r := t.run(runID, now)
	if r == nil {
		return
	}
	r.results[scopeKey{string(scope.Provider), scope.AccountID, scope.Region}]++
	r.total++
	a := r.account(string(scope.Provider), scope.AccountID, scope.AccountName)
	a.failed++
	if len(a.failures) < t.maxRows {
		a.failures = append(a.failures, f)
	}
}

// Pending is the number of runs not closed yet.
func (t *Tracker) Pending() int { return len(t.runs) }

// Due closes and returns the runs that are complete or timed out at now,
// oldest first.
func (t *Tracker) Due(now time.Time) []Closing {
	var out []Closing
	for id, r := range t.runs {
		complete := r.open != nil && r.total >= r.open.ExpectedIntents()
		start := r.firstSeen
		if r.open != nil && r.open.CycleAt.Before(start) {
			start = r.open.CycleAt
		}
		timedOut := !complete && !now.Before(start.Add(t.timeout))
		if !complete && !timedOut {
			continue
		}
		out = append(out, t.close(r, now, timedOut))
		delete(t.runs, id)
		t.done[id] = now
	}
	slices.SortFunc(out, func(a, b Closing) int {
		if c := a.startedAt().Compare(b.startedAt()); c != 0 {
			return c
		}
		return compareStrings(a.RunID, b.RunID)
	})
	return out
}

// Forget drops the memory of runs closed before t.
func (t *Tracker) Forget(before time.Time) {
	for id, at := range t.done {
		if at.Before(before) {
			delete(t.done, id)
		}
	}
}

func (c Closing) startedAt() time.Time {
	if c.Open != nil {
		return c.Open.CycleAt
	}
	if len(c.Accounts) > 0 {
		return c.Accounts[0].CycleAt
	}
	return time.Time{}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (t *Tracker) close(r *runAgg, now time.Time, timedOut bool) Closing {
	c := Closing{RunID: r.id, Open: r.open}
	sum := events.RunSummary{ClosedAt: now, TimedOut: timedOut, Applied: map[events.AppliedOp]int{}}
	cycle := r.firstSeen
	expected := map[accountKey][]events.RunScope{}
	if r.open != nil {
		cycle = r.open.CycleAt
		for _, s := range r.open.Scopes {
			k := accountKey{string(s.Scope.Provider), s.Scope.AccountID}
			expected[k] = append(expected[k], s)
			sum.Held += s.HeldDeletions
			if timedOut {
				sum.Pending += max(s.ExpectedIntents-r.results[scopeKey{k.provider, k.account, s.Scope.Region}], 0)
			}
		}
	}
	for _, k := range r.order {
		a := r.accounts[k]
		ar := AccountRun{
			RunID: r.id, Provider: a.provider, AccountID: a.id, AccountName: a.name,
			CycleAt: cycle, ClosedAt: now, Counts: a.counts, Rows: a.rows,
			Failed: a.failed, Failures: a.failures, TimedOut: timedOut, Unopened: r.open == nil,
		}
		for _, s := range expected[k] {
			ar.Held += s.HeldDeletions
			if s.Skipped != "" {
				ar.Skipped = append(ar.Skipped, ScopeSkip{Region: s.Scope.Region, Reason: s.Skipped})
			}
			if got := r.results[scopeKey{k.provider, k.account, s.Scope.Region}]; timedOut && got < s.ExpectedIntents {
				ar.Gaps = append(ar.Gaps, ScopeGap{Region: s.Scope.Region, Expected: s.ExpectedIntents, Missing: s.ExpectedIntents - got})
			}
		}
		for op, n := range a.counts {
			sum.Applied[op] += n
		}
		sum.Failed += a.failed
		for _, f := range a.failures {
			if len(sum.Failures) < maxSummaryFailures {
				sum.Failures = append(sum.Failures, f)
			}
		}
		c.Accounts = append(c.Accounts, ar)
	}
	c.Summary = sum
	return c
}
