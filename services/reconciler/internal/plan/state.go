package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// ScopeKey is the identity of a scope: provider/account-id/region (the
// display name is not part of it). It is used as a map key in state, never
// in a subject or a KV key (the caller encodes it there).
func ScopeKey(s events.Scope) string { return s.String() }

// PassStats is what VerifyPass remembers of the last usable pass of a scope.
type PassStats struct {
	PassID          string    `json:"pass_id"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	InstanceCount   int       `json:"instance_count"`
	AccountIdentity string    `json:"account_identity"`
	FencingToken    uint64    `json:"fencing_token"`
	Digest          string    `json:"digest"`
}

// Trouble is the scope's current failed or suspicious condition; an alert
// is raised when it starts or changes reason, not for every pass.
type Trouble struct {
	Kind   events.AlertKind `json:"kind"`   // pass_failed or pass_suspicious
	Reason string           `json:"reason"` // snake_case code
	PassID string           `json:"pass_id"`
	Since  time.Time        `json:"since"`
}

// Absence tracks one identity of the scope missing from usable passes.
type Absence struct {
	Passes   int    `json:"passes"`    // consecutive usable passes without it
	LastPass string `json:"last_pass"` // the pass id counted last
	// ReachedAt is when Passes reached Policy.AbsentPasses: the grace
	// period runs from here.
	ReachedAt time.Time `json:"reached_at,omitzero"`
	// DeactivateGen is the generation of the deactivate intent issued for
	// the absence; once the mirror has it and shows the asset active again,
	// a human re-activated it and jms-sync leaves it alone.
	DeactivateGen uint64 `json:"deactivate_gen,omitempty"`
}

// Plan is a set of deletions held because they exceed the scope's budget.
// It is applied only by a confirm naming its ID, and then only to what is
// still absent.
type Plan struct {
	ID         string       `json:"id"` // deterministic from the scope and the sorted identities
	Scope      events.Scope `json:"scope"`
	Identities []asset.ID   `json:"identities"` // sorted by key
	Budget     int          `json:"budget"`     // the limit at hold time
	InWindow   int          `json:"in_window"`  // deletions already in the rolling window
	CreatedAt  time.Time    `json:"created_at"`
}

// PlanID derives the id of the plan deleting ids in scope: "plan-" and 20
// hex digits of a SHA-256, so the same set held twice has the same id and a
// different set never reuses one (a stale confirm is refused).
func PlanID(scope events.Scope, ids []asset.ID) string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = id.Key()
	}
	slices.Sort(keys)
	h := sha256.New()
	h.Write([]byte(ScopeKey(scope)))
	for _, k := range keys {
		h.Write([]byte{0})
		h.Write([]byte(k))
	}
	return "plan-" + hex.EncodeToString(h.Sum(nil))[:20]
}

// ScopeState is what the reconciler persists per scope (jmssync_state KV)
// between cycles. VerifyPass maintains the pass part; Diff the rest.
type ScopeState struct {
	Scope events.Scope `json:"scope"`
	// Verified is the last usable pass (VerifyPass).
	Verified *PassStats `json:"verified,omitempty"`
	// Rebaseline, set by an operator, accepts the next complete pass even if
	// suspicious or under a new account identity; VerifyPass clears it. The
	// gradual deletion and the delete budget still apply to what follows.
	Rebaseline bool     `json:"rebaseline,omitempty"`
	Trouble    *Trouble `json:"trouble,omitempty"`
	// Counted is the pass whose absences Diff counted last: a pass is
	// counted once however many cycles decide from it.
	Counted string `json:"counted,omitempty"`
	// Absent holds the identities (by asset.ID.Key) missing from the
	// latest counted passes.
	Absent map[string]Absence `json:"absent,omitempty"`
	// Deletions are the deletions issued in the rolling window, by identity
	// key; a re-issued deletion is counted once.
	Deletions map[string]time.Time `json:"deletions,omitempty"`
	// Held is the plan waiting for confirm, if any.
	Held *Plan `json:"held,omitempty"`
}

// clone returns a copy that Diff may change without touching its input.
func (s ScopeState) clone() ScopeState {
	s.Absent = maps.Clone(s.Absent)
	s.Deletions = maps.Clone(s.Deletions)
	return s
}

// OrphanState is the org-wide part of the state: which scopes were alerted
// as orphaned and which orphan intents are in flight, so both happen once.
type OrphanState struct {
	// Alerted holds the scope keys whose scope_orphaned alert was raised.
	Alerted map[string]bool `json:"alerted,omitempty"`
	// Issued holds the generation of the orphan intent issued per identity
	// key until the mirror shows it applied.
	Issued map[string]uint64 `json:"issued,omitempty"`
}
