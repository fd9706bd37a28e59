package reconciler

import "github.com/jmssync/jmssync/services/reconciler/internal/plan"

// stampObserved sets each intent's ObservedAt to the finish time of the
// pass it was decided from, so the applier can measure the lag from the
// cloud listing to the JumpServer write. Intents of an older pass (a held
// plan confirmed later) or of none are left without it: their lag would
// measure the wait for a person, not the pipeline.
func stampObserved(out *plan.Output) {
	finished := map[string]*plan.PassStats{}
	for i := range out.Scopes {
		if v := out.Scopes[i].State.Verified; v != nil {
			finished[plan.ScopeKey(out.Scopes[i].Scope)] = v
		}
	}
	for i := range out.Intents {
		in := &out.Intents[i]
		if v := finished[plan.ScopeKey(in.Scope)]; v != nil && in.PassID != "" && in.PassID == v.PassID && !v.FinishedAt.IsZero() {
			in.ObservedAt = v.FinishedAt.UTC()
		}
	}
}
