package plan

import (
	"strconv"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// Cause codes: why an intent was issued (Intent.Cause) or why nothing was
// done (Decision.Cause). All are snake_case; explain and the notifier show
// them.
const (
	// Intent causes.
	CauseNewInstance     = "new_instance"     // create
	CauseRecreated       = "recreated"        // create over a tombstone: the instance is listed again
	CauseAddressChanged  = "address_changed"  // update
	CausePlatformChanged = "platform_changed" // update
	CauseNodeMissing     = "node_missing"     // update: not a member of our node
	CauseLabelsMissing   = "labels_missing"   // update: one of our labels absent
	CauseLabelsChanged   = "labels_changed"   // update: one of our labels has another value
	CauseZoneChanged     = "zone_changed"     // update
	CauseRescoped        = "scope_changed"    // update: listed under another account or region
	CauseScopeRestored   = "scope_restored"   // update: an orphan is in a configured scope again
	CauseReappeared      = "reappeared"       // activate: listed again after absence
	CauseRunning         = "instance_running" // activate: runs again (StoppedDeactivate)
	CauseStopped         = "instance_stopped" // deactivate (StoppedDeactivate)
	CauseGraceElapsed    = "grace_elapsed"    // delete
	CauseScopeRemoved    = "scope_removed"    // orphan
	CausePruned          = "pruned"           // delete by prune --scope
	CausePlanConfirmed   = "plan_confirmed"   // delete by confirm <plan>
	// CauseAbsent is "absent_<N>_passes" (deactivate, or delete with Grace 0).

	// Decisions without an intent.
	CauseProtected        = "protected_ip"          // absent, but its address is protected
	CauseNoDelete         = "no_delete"             // absent and deactivated; no_delete keeps it
	CauseGracePending     = "grace_pending"         // absent and deactivated; grace not over
	CauseHeld             = "deletion_held"         // in a held plan
	CauseInFlight         = "intent_in_flight"      // the same intent is queued for the applier
	CauseLatestRejected   = "latest_pass_rejected"  // destructive steps wait for a usable latest pass
	CauseHumanDeactivated = "human_deactivated"     // inactive by hand: left inactive
	CauseHumanReactivated = "human_reactivated"     // re-activated by hand after jms-sync deactivated it
	CauseOrphanPending    = "orphan_pending"        // orphan intent issued, not applied yet
	CausePlanItemDropped  = "plan_item_dropped"     // confirmed plan item no longer absent or deletable
	CausePruneRefused     = "prune_refused"         // see Detail
	CauseListedElsewhere  = "listed_in_other_scope" // one instance in two passes: the other scope decides
)

// CauseAbsent is the cause of acting on an identity absent from n passes.
func CauseAbsent(n int) string { return "absent_" + strconv.Itoa(n) + "_passes" }

// causeAbsentCount is the decision while the counter is below N.
func causeAbsentCount(k, n int) string {
	return "absent_" + strconv.Itoa(k) + "_of_" + strconv.Itoa(n)
}

// Decision is one entry of the trace: what was decided about an identity
// in this cycle and why. Unchanged identities have none.
type Decision struct {
	Identity asset.ID     `json:"identity"`
	Scope    events.Scope `json:"scope"`
	Op       events.Op    `json:"op,omitempty"` // empty: no intent
	Cause    string       `json:"cause"`
	Causes   []string     `json:"causes,omitempty"` // every cause, when more than one
	Detail   string       `json:"detail,omitempty"`
}

// Explain returns the decisions about one identity, for `explain <instance>`.
func (o *Output) Explain(id asset.ID) []Decision {
	var out []Decision
	for _, d := range o.Decisions {
		if d.Identity == id {
			out = append(out, d)
		}
	}
	return out
}
