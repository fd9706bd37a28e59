package events

import "time"

// RunKind tells an opening record from a closing one.
type RunKind string

const (
	// RunOpen is published by the reconciler when a cycle has decided: which
	// scopes it covered and how many intents each one expects.
	RunOpen RunKind = "open"
	// RunClosed is published by the notifier when every expected result is in
	// or the run timed out; it carries the summary.
	RunClosed RunKind = "closed"
)

// RunScope is one scope of a run.
type RunScope struct {
	Scope           Scope  `json:"scope"`
	PassID          string `json:"pass_id,omitempty"` // the pass decided from; empty if none was usable
	ExpectedIntents int    `json:"expected_intents"`
	// Skipped says why a scope produced no decision (a snake_case code such as
	// "pass_failed", "pass_suspicious", "mirror_not_ready"); empty otherwise.
	Skipped       string `json:"skipped,omitempty"`
	HeldDeletions int    `json:"held_deletions,omitempty"`
}

// RunFailure is one intent that could not be applied.
type RunFailure struct {
	AssetID string `json:"asset_id,omitempty"`
	Key     string `json:"key"` // asset.ID.Key()
	Op      Op     `json:"op"`
	Error   string `json:"error"` // never a secret
}

// RunSummary is what a closed run reports.
type RunSummary struct {
	ClosedAt time.Time `json:"closed_at"`
	TimedOut bool      `json:"timed_out"`
	// Counts of applied facts by op (created, updated…), keys as AppliedOp.
	Applied map[AppliedOp]int `json:"applied"`
	Failed  int               `json:"failed"`
	// Pending counts intents with no result when the run closed on timeout.
	Pending  int          `json:"pending"`
	Held     int          `json:"held"`
	Failures []RunFailure `json:"failures,omitempty"` // at most a few dozen, for the card
}

// RunRecord opens or closes one reconciler cycle. Both kinds go on
// jmssync.run.<run id>.
type RunRecord struct {
	Schema  string     `json:"schema"`
	RunID   string     `json:"run_id"`
	Kind    RunKind    `json:"kind"`
	CycleAt time.Time  `json:"cycle_at"` // when the cycle started
	Trigger string     `json:"trigger,omitempty"`
	Scopes  []RunScope `json:"scopes"`
	// Summary is required when Kind is closed, absent when open.
	Summary *RunSummary `json:"summary,omitempty"`
}

// NewRunOpen builds the opening record of a run.
func NewRunOpen(runID string, cycleAt time.Time, trigger string, scopes []RunScope) *RunRecord {
	if scopes == nil {
		scopes = []RunScope{}
	}
	return &RunRecord{Schema: SchemaRunRecord, RunID: runID, Kind: RunOpen, CycleAt: cycleAt.UTC(), Trigger: trigger, Scopes: scopes}
}

// NewRunClosed builds the closing record of a run from its opening record.
func NewRunClosed(open *RunRecord, summary RunSummary) *RunRecord {
	summary.ClosedAt = summary.ClosedAt.UTC()
	if summary.Applied == nil {
		summary.Applied = map[AppliedOp]int{}
	}
	return &RunRecord{
		Schema: SchemaRunRecord, RunID: open.RunID, Kind: RunClosed, CycleAt: open.CycleAt,
		Trigger: open.Trigger, Scopes: open.Scopes, Summary: &summary,
	}
}

// ExpectedIntents is the sum over the run's scopes.
func (r *RunRecord) ExpectedIntents() int {
	n := 0
	for _, s := range r.Scopes {
		n += s.ExpectedIntents
	}
	return n
}

func (*RunRecord) SchemaID() string { return SchemaRunRecord }

// MsgID is "<run id>.<kind>".
func (r *RunRecord) MsgID() string { return r.RunID + "." + string(r.Kind) }

func (r *RunRecord) Validate() error {
	p := problems{schema: SchemaRunRecord}
	p.schemaField(r.Schema)
	p.token("run_id", r.RunID)
	switch r.Kind {
	case RunOpen:
		if r.Summary != nil {
			p.add("summary", "must be absent when open")
		}
	case RunClosed:
		if r.Summary == nil {
			p.add("summary", "required when closed")
		}
	default:
		p.add("kind", "must be open or closed, not %q", r.Kind)
	}
	p.time("cycle_at", r.CycleAt)
	if r.Trigger != "" && !codeRE.MatchString(r.Trigger) {
		p.add("trigger", "a snake_case code, not %q", r.Trigger)
	}
	if r.Scopes == nil {
		p.add("scopes", "required (may be empty)")
	}
	for i, s := range r.Scopes {
		f := "scopes[" + itoa(i) + "]"
		p.scope(f+".scope", s.Scope)
		if s.PassID != "" {
			p.token(f+".pass_id", s.PassID)
		}
		if s.ExpectedIntents < 0 {
			p.add(f+".expected_intents", "must be >= 0")
		}
		if s.Skipped != "" && !codeRE.MatchString(s.Skipped) {
			p.add(f+".skipped", "a snake_case code, not %q", s.Skipped)
		}
		if s.HeldDeletions < 0 {
			p.add(f+".held_deletions", "must be >= 0")
		}
	}
	if s := r.Summary; s != nil {
		p.time("summary.closed_at", s.ClosedAt)
		if s.Applied == nil {
			p.add("summary.applied", "required (may be empty)")
		}
		for op, n := range s.Applied {
			if !codeRE.MatchString(string(op)) || n < 0 {
				p.add("summary.applied", "bad entry %q: %d", op, n)
			}
		}
		if s.Failed < 0 || s.Pending < 0 || s.Held < 0 {
			p.add("summary", "counts must be >= 0")
		}
		for i, f := range s.Failures {
			fld := "summary.failures[" + itoa(i) + "]"
			p.text(fld+".key", f.Key, true)
			if !f.Op.Valid() {
				p.add(fld+".op", "unknown op %q", f.Op)
			}
			p.text(fld+".error", f.Error, true)
		}
	}
	return p.err()
}
