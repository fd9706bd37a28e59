package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// seed creates the assets of ins in scope s and applies them.
func (w *world) seed(s events.Scope, passID string, ins ...asset.Instance) {
	w.t.Helper()
	out := w.cycle(scopePass{scope: s, pass: pass(passID, ins...)})
	if ops(out)[events.OpCreate] != len(ins) {
		w.t.Fatalf("seed: %v", ops(out))
	}
	w.applyAll(out.Intents)
}

// Rule 1: a listed instance that is not desired is never deleted.
func TestSeenButNotDesiredIsNeverDeleted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy func(*Policy)
		change func(*asset.Instance)
		reason string
	}{
		{"no address", nil, func(in *asset.Instance) { in.PrivateIPs = nil }, SkipNoAddress},
		{"outside whitelist", func(p *Policy) { p.Whitelist, _ = ParsePrefixes([]string{"192.168.0.0/16"}) }, nil, SkipWhitelist},
		{"transitional", nil, func(in *asset.Instance) { in.State = asset.Transitional }, SkipTransitional},
		{"unmappable os", func(p *Policy) { delete(p.OS, asset.UnknownOS) }, func(in *asset.Instance) { in.OSType = asset.UnknownOS }, SkipUnknownOS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			p.Grace = 0
			w := newWorld(t, p)
			a, b := vm(scopeA, "i-a", "a", "10.0.0.1"), vm(scopeA, "i-b", "b", "10.0.0.2")
			w.seed(scopeA, "p0", a, b)
			if tc.policy != nil {
				tc.policy(&w.p)
			}
			if tc.change != nil {
				tc.change(&b)
			}
			for i := 1; i <= 5; i++ {
				w.now = w.now.Add(48 * time.Hour)
				out := w.cycle(scopePass{scope: scopeA, pass: pass("p"+string(rune('0'+i)), a, b)})
				if n := destructive(out); n != 0 {
					t.Fatalf("pass %d: %d destructive intents for a listed instance: %+v", i, n, out.Intents)
				}
				if ex := out.Explain(b.ID()); len(ex) != 1 || ex[0].Cause != tc.reason {
					t.Fatalf("explain = %+v, want %s", ex, tc.reason)
				}
				w.applyAll(out.Intents)
			}
			if len(w.states[ScopeKey(scopeA)].Absent) != 0 {
				t.Fatalf("a listed instance counted absent: %+v", w.states[ScopeKey(scopeA)].Absent)
			}
		})
	}
}

// Rule 2: a failed pass counts neither as seen nor absent and never deletes
// or deactivates, whatever the grace period.
func TestFailedPassNeverDeletes(t *testing.T) {
	for _, grace := range []time.Duration{0, time.Hour} {
		t.Run(grace.String(), func(t *testing.T) {
			p := testPolicy()
			p.Grace = grace
			p.AbsentPasses = 1
			w := newWorld(t, p)
			ins := ids(scopeA, 10)
			w.seed(scopeA, "p0", ins...)
			st := w.states[ScopeKey(scopeA)]
			st.Verified = &PassStats{PassID: "p0", StartedAt: t0, FinishedAt: t0, InstanceCount: 10, AccountIdentity: "acct-1", FencingToken: 3}
			// A failed pass arrives: VerifyPass rejects it; Diff keeps deciding from p0.
			fc := events.NewPassFailed("p1", scopeA, events.ReasonThrottled, "exhausted", 1, 3, t0.Add(time.Hour), t0.Add(time.Hour+time.Minute), "c1")
			v := VerifyPass(&w.p, fc, ins[:2], 1, st)
			if v.Usable || v.Ignored || v.Rejected() != events.ReasonThrottled || v.Alert == nil || v.Alert.Kind != events.AlertPassFailed {
				t.Fatalf("verdict %+v", v)
			}
			if v.State.Verified.PassID != "p0" {
				t.Fatal("a failed pass replaced the verified pass")
			}
			w.states[ScopeKey(scopeA)] = v.State
			w.now = t0.Add(2 * time.Hour)
			out := w.cycle(scopePass{scope: scopeA, pass: pass("p0", ins...), rejected: v.Rejected()})
			if len(out.Intents) != 0 {
				t.Fatalf("intents after a failed pass: %+v", out.Intents)
			}
			// Even a usable older pass missing instances cannot remove anything
			// while the latest was rejected.
			for i := range 3 {
				w.now = w.now.Add(48 * time.Hour)
				out = w.cycle(scopePass{scope: scopeA, pass: pass(fmt.Sprintf("old%d", i), ins[:5]...), rejected: v.Rejected()})
				if n := destructive(out); n != 0 {
					t.Fatalf("%d destructive intents while the latest pass is rejected", n)
				}
				for _, d := range out.Decisions {
					if d.Cause != CauseLatestRejected {
						t.Fatalf("decision %+v", d)
					}
				}
			}
		})
	}
}

// Rule 2: a populated scope listed as empty is suspicious and deletes nothing.
func TestEmptyPassIsSuspicious(t *testing.T) {
	p := testPolicy()
	p.Grace, p.AbsentPasses = 0, 1
	w := newWorld(t, p)
	ins := ids(scopeA, 8)
	w.seed(scopeA, "p0", ins...)
	st := w.states[ScopeKey(scopeA)]
	st.Verified = &PassStats{PassID: "p0", StartedAt: t0, FinishedAt: t0, InstanceCount: 8, AccountIdentity: "acct-1", FencingToken: 1}
	empty, _ := asset.Digest(nil)
	c := events.NewPassComplete("p1", scopeA, 0, 0, empty, "acct-1", 1, t0.Add(time.Hour), t0.Add(time.Hour), "c1")
	v := VerifyPass(&w.p, c, nil, 0, st)
	if v.Usable || v.Reason != ReasonEmptied || v.Alert == nil || v.Alert.Kind != events.AlertPassSuspicious {
		t.Fatalf("verdict %+v", v)
	}
	w.states[ScopeKey(scopeA)] = v.State
	out := w.cycle(scopePass{scope: scopeA, pass: pass("p0", ins...), rejected: v.Rejected()})
	if len(out.Intents) != 0 {
		t.Fatalf("intents: %+v", out.Intents)
	}
	// The same suspicion again: no second alert.
	c2 := events.NewPassComplete("p2", scopeA, 0, 0, empty, "acct-1", 1, t0.Add(2*time.Hour), t0.Add(2*time.Hour), "c1")
	if v2 := VerifyPass(&w.p, c2, nil, 0, v.State); v2.Usable || v2.Alert != nil {
		t.Fatalf("second verdict %+v", v2)
	}
}

// Rule 5: stopped is not released.
func TestStoppedIsKeptOrDeactivated(t *testing.T) {
	for _, pol := range []StoppedPolicy{StoppedKeep, StoppedDeactivate} {
		t.Run(string(pol), func(t *testing.T) {
			p := testPolicy()
			p.Stopped, p.Grace, p.AbsentPasses = pol, 0, 1
			w := newWorld(t, p)
			a := vm(scopeA, "i-a", "a", "10.0.0.1")
			w.seed(scopeA, "p0", a)
			stopped := with(a, func(in *asset.Instance) { in.State, in.Status = asset.Stopped, "Stopped" })
			for i, id := range []string{"p1", "p2", "p3"} {
				w.now = w.now.Add(48 * time.Hour)
				out := w.cycle(scopePass{scope: scopeA, pass: pass(id, stopped)})
				if ops(out)[events.OpDelete] != 0 {
					t.Fatal("a stopped instance was deleted")
				}
				want := 0
				if pol == StoppedDeactivate && i == 0 {
					want = 1
				}
				if got := ops(out)[events.OpDeactivate]; got != want {
					t.Fatalf("pass %s: %d deactivations, want %d", id, got, want)
				}
				if want == 1 && out.Intents[0].Cause != CauseStopped {
					t.Fatalf("cause %s", out.Intents[0].Cause)
				}
				w.applyAll(out.Intents)
			}
			out := w.cycle(scopePass{scope: scopeA, pass: pass("p4", a)})
			if pol == StoppedDeactivate && (ops(out)[events.OpActivate] != 1 || out.Intents[0].Cause != CauseRunning) {
				t.Fatalf("running again: %+v", out.Intents)
			}
			if pol == StoppedKeep && len(out.Intents) != 0 {
				t.Fatalf("running again: %+v", out.Intents)
			}
		})
	}
}

// Rule 5: protected_ips are never deactivated nor deleted; no_delete never deletes.
func TestProtectedAndNoDelete(t *testing.T) {
	p := testPolicy()
	p.Grace = time.Hour
	p.ProtectedIPs, _ = ParsePrefixes([]string{"10.0.0.1", "10.9.0.0/16"})
	p.NoDelete = true
	w := newWorld(t, p)
	a, b, c := vm(scopeA, "i-a", "a", "10.0.0.1"), vm(scopeA, "i-b", "b", "10.0.0.2"), vm(scopeA, "i-c", "c", "10.9.3.3")
	w.seed(scopeA, "p0", a, b, c)
	var deact int
	for i := 1; i <= 6; i++ {
		w.now = w.now.Add(24 * time.Hour)
		out := w.cycle(scopePass{scope: scopeA, pass: pass("p" + string(rune('0'+i)))})
		for _, in := range out.Intents {
			if in.Identity.InstanceID != "i-b" || in.Op != events.OpDeactivate {
				t.Fatalf("pass %d: unexpected %s %s (%s)", i, in.Op, in.Identity, in.Cause)
			}
			deact++
		}
		w.applyAll(out.Intents)
	}
	if deact != 1 {
		t.Fatalf("%d deactivations of the unprotected asset, want 1", deact)
	}
	out := w.cycle(scopePass{scope: scopeA, pass: pass("p9")})
	causes := map[string]string{}
	for _, d := range out.Decisions {
		causes[d.Identity.InstanceID] = d.Cause
	}
	if causes["i-a"] != CauseProtected || causes["i-c"] != CauseProtected || causes["i-b"] != CauseNoDelete {
		t.Fatalf("causes %v", causes)
	}
}

// Rule 5: a human's deactivation is never undone; a human's re-activation is not fought.
func TestHumanActiveFlagRespected(t *testing.T) {
	p := testPolicy()
	w := newWorld(t, p)
	a := vm(scopeA, "i-a", "a", "10.0.0.1")
	w.seed(scopeA, "p0", a)
	e := w.mirror[a.ID().Key()]
	e.State.IsActive = false // by hand
	moved := with(a, func(in *asset.Instance) { in.PrivateIPs = []string{"10.0.0.9"} })
	out := w.cycle(scopePass{scope: scopeA, pass: pass("p1", moved)})
	if len(out.Intents) != 1 || out.Intents[0].Op != events.OpUpdate || out.Intents[0].Desired.IsActive {
		t.Fatalf("want one update keeping is_active false: %+v", out.Intents)
	}
	w.applyAll(out.Intents)
	if out := w.cycle(scopePass{scope: scopeA, pass: pass("p2", moved)}); len(out.Intents) != 0 {
		t.Fatalf("re-activated a human's deactivation: %+v", out.Intents)
	}

	// jms-sync deactivates for absence; a human turns it back on: left alone.
	w2 := newWorld(t, p)
	w2.seed(scopeA, "p0", a)
	w2.cycle(scopePass{scope: scopeA, pass: pass("p1")})
	out = w2.cycle(scopePass{scope: scopeA, pass: pass("p2")})
	if ops(out)[events.OpDeactivate] != 1 {
		t.Fatalf("want a deactivation: %+v", out.Intents)
	}
	w2.applyAll(out.Intents)
	w2.mirror[a.ID().Key()].State.IsActive = true // by hand
	for i := 3; i < 6; i++ {
		w2.now = w2.now.Add(48 * time.Hour)
		if out := w2.cycle(scopePass{scope: scopeA, pass: pass("p" + string(rune('0'+i)))}); len(out.Intents) != 0 {
			t.Fatalf("fought a human's re-activation: %+v", out.Intents)
		}
	}
}

// Rule 3: the gradual timeline: N passes, deactivate, grace, delete.
func TestGradualDeletionTimeline(t *testing.T) {
	p := testPolicy()
	w := newWorld(t, p)
	keep, gone := vm(scopeA, "i-keep", "keep", "10.0.0.1"), vm(scopeA, "i-gone", "gone", "10.0.0.2")
	w.seed(scopeA, "p0", keep, gone)
	step := func(passID string, after time.Duration, want events.Op, cause string) {
		t.Helper()
		w.now = w.now.Add(after)
		out := w.cycle(scopePass{scope: scopeA, pass: pass(passID, keep)})
		ex := out.Explain(gone.ID())
		if len(ex) != 1 || ex[0].Op != want || ex[0].Cause != cause {
			t.Fatalf("%s: explain %+v, want %q %s", passID, ex, want, cause)
		}
		if len(out.Intents) != map[bool]int{true: 0, false: 1}[want == ""] {
			t.Fatalf("%s: intents %+v", passID, out.Intents)
		}
		w.applyAll(out.Intents)
	}
	step("p1", time.Hour, "", "absent_1_of_2")
	step("p1", time.Hour, "", "absent_1_of_2") // the same pass again counts nothing
	step("p2", time.Hour, events.OpDeactivate, CauseAbsent(2))
	step("p3", time.Hour, "", CauseGracePending)
	step("p4", 22*time.Hour, "", CauseGracePending)
	step("p5", time.Hour, events.OpDelete, CauseGraceElapsed)
	if out := w.cycle(scopePass{scope: scopeA, pass: pass("p6", keep)}); len(out.Intents) != 0 || len(w.states[ScopeKey(scopeA)].Absent) != 0 {
		t.Fatalf("after delete: %+v %+v", out.Intents, w.states[ScopeKey(scopeA)].Absent)
	}

	// Grace 0: delete at the Nth pass without deactivating (old behaviour with N=1).
	p.Grace, p.AbsentPasses = 0, 1
	w = newWorld(t, p)
	w.seed(scopeA, "p0", keep, gone)
	out := w.cycle(scopePass{scope: scopeA, pass: pass("p1", keep)})
	if len(out.Intents) != 1 || out.Intents[0].Op != events.OpDelete || out.Intents[0].Cause != CauseAbsent(1) {
		t.Fatalf("grace 0: %+v", out.Intents)
	}
}

// Reappearing before the deletion: counters reset, jms-sync's deactivation undone.
func TestReappearedIsActivated(t *testing.T) {
	w := newWorld(t, testPolicy())
	a, b := vm(scopeA, "i-a", "a", "10.0.0.1"), vm(scopeA, "i-b", "b", "10.0.0.2")
	w.seed(scopeA, "p0", a, b)
	w.cycle(scopePass{scope: scopeA, pass: pass("p1", a)})
	out := w.cycle(scopePass{scope: scopeA, pass: pass("p2", a)})
	w.applyAll(out.Intents)
	out = w.cycle(scopePass{scope: scopeA, pass: pass("p3", a, b)})
	if len(out.Intents) != 1 || out.Intents[0].Op != events.OpActivate || out.Intents[0].Cause != CauseReappeared {
		t.Fatalf("%+v", out.Intents)
	}
	if len(w.states[ScopeKey(scopeA)].Absent) != 0 {
		t.Fatal("counter not reset")
	}
}

// Rule 3: deletions beyond the budget are held, alerted once, confirmed
// only for what is still absent; a stale confirm is refused.
func TestHeldPlanAndConfirm(t *testing.T) {
	p := testPolicy()
	p.Grace, p.AbsentPasses = 0, 1
	w := newWorld(t, p)
	ins := ids(scopeA, 10)
	w.seed(scopeA, "p0", ins...)
	rest := ins[3:] // 30 % removed
	out := w.cycle(scopePass{scope: scopeA, pass: pass("p1", rest...)})
	st := w.states[ScopeKey(scopeA)]
	if len(out.Intents) != 0 || st.Held == nil || len(st.Held.Identities) != 3 || out.Scopes[0].Run.HeldDeletions != 3 {
		t.Fatalf("want 3 held: intents %+v held %+v", out.Intents, st.Held)
	}
	if len(out.Alerts) != 1 || out.Alerts[0].Kind != events.AlertDeletionsHeld || out.Alerts[0].Details["plan"] != st.Held.ID {
		t.Fatalf("alerts %+v", out.Alerts)
	}
	planID := st.Held.ID
	if !events.ValidToken(planID) || planID != PlanID(scopeA, []asset.ID{ins[2].ID(), ins[0].ID(), ins[1].ID()}) {
		t.Fatalf("plan id %q not deterministic", planID)
	}
	// The next pass: same plan, no second alert, still nothing deleted.
	out = w.cycle(scopePass{scope: scopeA, pass: pass("p2", rest...)})
	if len(out.Alerts) != 0 || len(out.Intents) != 0 || w.states[ScopeKey(scopeA)].Held.ID != planID {
		t.Fatalf("second cycle: alerts %+v intents %+v", out.Alerts, out.Intents)
	}
	// A stale id is refused.
	out = w.cycle(scopePass{scope: scopeA, pass: pass("p2", rest...), confirm: "plan-0000"})
	if c := out.Scopes[0].Confirm; c == nil || c.Refused != "plan_stale" || len(out.Intents) != 0 {
		t.Fatalf("stale confirm: %+v %+v", c, out.Intents)
	}
	// ins[0] is listed again before the confirm: only the two still absent go.
	back := append([]asset.Instance{ins[0]}, rest...)
	out = w.cycle(scopePass{scope: scopeA, pass: pass("p3", back...), confirm: planID})
	c := out.Scopes[0].Confirm
	if c == nil || c.Refused != "" || c.Deleted != 2 || c.Dropped != 1 || ops(out)[events.OpDelete] != 2 || intentOf(out, ins[0].InstanceID) != nil {
		t.Fatalf("confirm: %+v %+v", c, out.Intents)
	}
	for _, in := range out.Intents {
		if in.Cause != CausePlanConfirmed {
			t.Fatalf("cause %s", in.Cause)
		}
	}
	if w.states[ScopeKey(scopeA)].Held != nil {
		t.Fatal("plan still held after confirm")
	}
	w.applyAll(out.Intents)
	// Confirming again: nothing held any more.
	out = w.cycle(scopePass{scope: scopeA, pass: pass("p4", back...), confirm: planID})
	if c := out.Scopes[0].Confirm; c == nil || c.Refused != "no_plan_held" || len(out.Intents) != 0 {
		t.Fatalf("repeated confirm: %+v %+v", c, out.Intents)
	}
}

// Tiny scopes may lose one within the budget; the window is rolling.
func TestBudgetWindow(t *testing.T) {
	p := testPolicy()
	p.Grace, p.AbsentPasses = 0, 1
	w := newWorld(t, p)
	ins := ids(scopeA, 5)
	w.seed(scopeA, "p0", ins...)
	out := w.cycle(scopePass{scope: scopeA, pass: pass("p1", ins[1:]...)})
	if ops(out)[events.OpDelete] != 1 {
		t.Fatalf("a scope of 5 may lose 1: %+v", out.Intents)
	}
	w.applyAll(out.Intents)
	w.now = w.now.Add(time.Hour)
	out = w.cycle(scopePass{scope: scopeA, pass: pass("p2", ins[2:]...)})
	if len(out.Intents) != 0 || w.states[ScopeKey(scopeA)].Held == nil {
		t.Fatalf("second deletion in the window must be held: %+v", out.Intents)
	}
	w.now = w.now.Add(24 * time.Hour)
	out = w.cycle(scopePass{scope: scopeA, pass: pass("p3", ins[2:]...)})
	if ops(out)[events.OpDelete] != 1 || w.states[ScopeKey(scopeA)].Held != nil {
		t.Fatalf("after the window: %+v", out.Intents)
	}
}

func TestDeleteBudgetLimit(t *testing.T) {
	b := DeleteBudget{Count: 20, Percent: 0.10, Floor: 1}
	for n, want := range map[int]int{0: 1, 1: 1, 5: 1, 10: 1, 20: 2, 50: 5, 199: 19, 1000: 20} {
		if got := b.Limit(n); got != want {
			t.Errorf("Limit(%d) = %d, want %d", n, got, want)
		}
	}
	if got := (DeleteBudget{}).Limit(1000); got != 0 {
		t.Errorf("zero budget allows %d", got)
	}
}

// Rule 4: removed regions and disabled accounts are orphaned once, never
// deleted, until prune --scope.
func TestOrphanedScopeAndPrune(t *testing.T) {
	p := testPolicy()
	p.Grace, p.AbsentPasses = 0, 1
	w := newWorld(t, p)
	out := w.cycle(scopePass{scope: scopeA, pass: pass("a0", ids(scopeA, 2)...)}, scopePass{scope: scopeB, pass: pass("b0", ids(scopeB, 3)...)})
	w.applyAll(out.Intents)
	// scopeB is removed from the config.
	out = w.cycle(scopePass{scope: scopeA, pass: pass("a1", ids(scopeA, 2)...)})
	orphans := out.Intents
	if ops(out)[events.OpOrphan] != 3 || len(out.Intents) != 3 || destructive(out) != 0 {
		t.Fatalf("want 3 orphans: %+v", out.Intents)
	}
	if len(out.Alerts) != 1 || out.Alerts[0].Kind != events.AlertScopeOrphaned || *out.Alerts[0].Scope != scopeB {
		t.Fatalf("alerts %+v", out.Alerts)
	}
	if rs := out.Run.Scopes; len(rs) != 2 || rs[1].Scope != scopeB || rs[1].ExpectedIntents != 3 {
		t.Fatalf("run scopes %+v", rs)
	}
	// Not applied yet: no second intent, no second alert.
	out = w.cycle(scopePass{scope: scopeA, pass: pass("a2", ids(scopeA, 2)...)})
	if len(out.Intents) != 0 || len(out.Alerts) != 0 {
		t.Fatalf("second cycle: %+v %+v", out.Intents, out.Alerts)
	}
	w.applyAll(orphans)
	for i := 0; i < 3; i++ {
		w.now = w.now.Add(72 * time.Hour)
		if out := w.cycle(scopePass{scope: scopeA, pass: pass("a3", ids(scopeA, 2)...)}); len(out.Intents) != 0 || len(out.Alerts) != 0 {
			t.Fatalf("orphans touched again: %+v %+v", out.Intents, out.Alerts)
		}
	}
	// prune of a configured scope is refused; of the removed one deletes.
	out = w.cycleWith([]events.Scope{scopeA, scopeB}, scopePass{scope: scopeA, pass: pass("a3", ids(scopeA, 2)...)})
	if len(out.Pruned) != 2 || out.Pruned[0].Refused != "scope_active" || out.Pruned[1].Deleted != 3 || ops(out)[events.OpDelete] != 3 {
		t.Fatalf("prune: %+v %+v", out.Pruned, out.Intents)
	}
	for _, in := range out.Intents {
		if in.Scope != scopeB || in.Cause != CausePruned {
			t.Fatalf("pruned %+v", in)
		}
	}
}

// An instance that moves to another account or region keeps its asset.
func TestRescopedInstanceIsUpdatedNotDuplicated(t *testing.T) {
	p := testPolicy()
	p.Grace, p.AbsentPasses = 0, 1
	w := newWorld(t, p)
	a := vm(scopeA, "i-a", "a", "10.0.0.1")
	w.seed(scopeA, "a0", a)
	moved := with(a, func(in *asset.Instance) { in.Region = scopeB.Region })
	out := w.cycle(scopePass{scope: scopeA, pass: pass("a1")}, scopePass{scope: scopeB, pass: pass("b1", moved)})
	if len(out.Intents) != 1 || out.Intents[0].Op != events.OpUpdate || out.Intents[0].Cause != CauseRescoped || out.Intents[0].Scope != scopeB {
		t.Fatalf("%+v", out.Intents)
	}
	w.applyAll(out.Intents)
	if out := w.cycle(scopePass{scope: scopeA, pass: pass("a2")}, scopePass{scope: scopeB, pass: pass("b2", moved)}); len(out.Intents) != 0 {
		t.Fatalf("not converged: %+v", out.Intents)
	}
}

// Only owned fields are compared; operator labels, extra nodes and custom
// ports never cause a write.
func TestUpdateOwnedFieldsOnly(t *testing.T) {
	w := newWorld(t, testPolicy())
	a := vm(scopeA, "i-a", "a", "10.0.0.1")
	w.seed(scopeA, "p0", a)
	e := w.mirror[a.ID().Key()]
	e.State.Labels = append(e.State.Labels, events.Label{Name: "env", Value: "prod"})
	e.State.Nodes = append(e.State.Nodes, "/DEFAULT/ops")
	e.State.Protocols = []events.Protocol{{Name: "ssh", Port: 2222}}
	e.State.Comment = "edited by hand"
	e.State.Name = "renamed-by-hand"
	if out := w.cycle(scopePass{scope: scopeA, pass: pass("p1", with(a, func(in *asset.Instance) { in.Name = "cloud-rename" }))}); len(out.Intents) != 0 {
		t.Fatalf("human edits caused writes: %+v", out.Intents)
	}
	for _, tc := range []struct {
		name  string
		edit  func()
		cause string
	}{
		{"address", func() { e.State.Address = "10.0.0.7" }, CauseAddressChanged},
		{"platform", func() { e.State.Platform = "Unix" }, CausePlatformChanged},
		{"node", func() { e.State.Nodes = []string{"/DEFAULT/ops"} }, CauseNodeMissing},
		{"label missing", func() { e.State.Labels = e.State.Labels[1:] }, CauseLabelsMissing},
		{"label changed", func() { e.State.Labels[0].Value = "other" }, CauseLabelsChanged},
		{"zone", func() { e.State.Zone = "" }, CauseZoneChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := *e
			saved.State.Labels = append([]events.Label(nil), e.State.Labels...)
			saved.State.Nodes = append([]string(nil), e.State.Nodes...)
			defer func() { *e = saved }()
			tc.edit()
			out := w.cycle(scopePass{scope: scopeA, pass: pass("p1", a)})
			if len(out.Intents) != 1 || out.Intents[0].Op != events.OpUpdate || out.Intents[0].Cause != tc.cause {
				t.Fatalf("%+v", out.Intents)
			}
			in := out.Intents[0]
			if in.Generation <= e.Generation || in.Desired.Name != "renamed-by-hand" || in.Desired.Protocols[0].Port != 2222 {
				t.Fatalf("update must keep sticky name/ports and a newer generation: %+v", in)
			}
		})
	}
}

func TestGenerationAboveMirror(t *testing.T) {
	w := newWorld(t, testPolicy())
	a := vm(scopeA, "i-a", "a", "10.0.0.1")
	w.seed(scopeA, "p0", a)
	e := w.mirror[a.ID().Key()]
	e.Generation = uint64(t0.Add(time.Hour).UnixNano()) // a clock ahead, earlier
	e.State.Address = "10.0.0.2"
	out := w.cycle(scopePass{scope: scopeA, pass: pass("p1", a)})
	if len(out.Intents) != 1 || out.Intents[0].Generation != e.Generation+1 {
		t.Fatalf("%+v", out.Intents)
	}
}

// Feeding back what the applier writes makes the next cycle silent.
func TestIdempotentAfterApply(t *testing.T) {
	w := newWorld(t, testPolicy())
	w.p.Stopped = StoppedDeactivate
	passA := pass("a0", scenario(scopeA)...)
	passH := pass("h0", scenario(scopeH)...)
	out := w.cycle(scopePass{scope: scopeA, pass: passA}, scopePass{scope: scopeH, pass: passH})
	if len(out.Intents) == 0 {
		t.Fatal("no intents")
	}
	w.applyAll(out.Intents)
	w.now = w.now.Add(time.Minute)
	out = w.cycle(scopePass{scope: scopeA, pass: passA}, scopePass{scope: scopeH, pass: passH})
	if len(out.Intents) != 0 {
		t.Fatalf("unchanged instances produced %d intents: %+v", len(out.Intents), out.Intents[0])
	}
	out = w.cycle(scopePass{scope: scopeA, pass: pass("a1", scenario(scopeA)...)}, scopePass{scope: scopeH, pass: pass("h1", scenario(scopeH)...)})
	if len(out.Intents) != 0 {
		t.Fatalf("a new identical pass produced %d intents", len(out.Intents))
	}
}

// Names are unique across scopes, deterministic whatever the input order.
func TestDuplicateNamesDeterministic(t *testing.T) {
	mk := func() []asset.Instance {
		return []asset.Instance{
			vm(scopeA, "i-bp1aaaaaa111111", "web", "10.0.0.1"),
			vm(scopeA, "i-bp1aaaaaa222222", "WEB", "10.0.0.2"),
			vm(scopeA, "i-bp1aaaaaa333333", " web ", "10.0.0.3"),
		}
	}
	hw := vm(scopeH, "0f6d2d9e-1111-2222-3333-444455556666", "web", "192.168.0.1")
	names := func(ins []asset.Instance, swap bool) map[string]string {
		w := newWorld(t, testPolicy())
		sp := []scopePass{{scope: scopeA, pass: pass("a0", ins...)}, {scope: scopeH, pass: pass("h0", hw)}}
		if swap {
			sp[0], sp[1] = sp[1], sp[0]
		}
		out := w.cycle(sp...)
		m := map[string]string{}
		for _, in := range out.Intents {
			m[in.Identity.InstanceID] = in.Desired.Name
		}
		return m
	}
	want := names(mk(), false)
	ins := mk()
	ins[0], ins[2] = ins[2], ins[0]
	got := names(ins, true)
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("order changed names: %v vs %v", want, got)
		}
	}
	seen := map[string]bool{}
	for _, v := range want {
		if seen[NameKey(v)] {
			t.Fatalf("duplicate name in %v", want)
		}
		seen[NameKey(v)] = true
	}
	// Sorted by (provider, instance id): aliyun's lowest id keeps the plain name.
	if want["i-bp1aaaaaa111111"] != "web" || want["i-bp1aaaaaa222222"] != "WEB-222222" ||
		want["i-bp1aaaaaa333333"] != "web-333333" || want["0f6d2d9e-1111-2222-3333-444455556666"] != "web-556666" {
		t.Fatalf("names %v", want)
	}
}

func TestDiffRejectsBadInput(t *testing.T) {
	p := testPolicy()
	for name, in := range map[string]Input{
		"no time":    {RunID: "r", Policy: p},
		"bad run id": {Now: t0, RunID: "a b", Policy: p},
		"dup scope":  {Now: t0, RunID: "r", Policy: p, Scopes: []ScopeInput{{Scope: scopeA}, {Scope: scopeA}}},
		"bad policy": {Now: t0, RunID: "r", Policy: Policy{}},
	} {
		if _, err := Diff(in); !errors.Is(err, ErrInvalidInput) && !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	if err := (&Policy{}).Validate(); err == nil || !strings.Contains(err.Error(), "install_id") {
		t.Errorf("zero policy: %v", err)
	}
}

// A confirm waits for a usable latest pass; prune honours no_delete.
func TestConfirmAndPruneRefusals(t *testing.T) {
	p := testPolicy()
	p.Grace, p.AbsentPasses = 0, 1
	w := newWorld(t, p)
	ins := ids(scopeA, 10)
	w.seed(scopeA, "p0", ins...)
	w.cycle(scopePass{scope: scopeA, pass: pass("p1", ins[4:]...)})
	plan := w.states[ScopeKey(scopeA)].Held
	if plan == nil {
		t.Fatal("no plan")
	}
	out := w.cycle(scopePass{scope: scopeA, pass: pass("p1", ins[4:]...), rejected: events.ReasonTimeout, confirm: plan.ID})
	if c := out.Scopes[0].Confirm; c == nil || c.Refused != "no_usable_pass" || len(out.Intents) != 0 || w.states[ScopeKey(scopeA)].Held == nil {
		t.Fatalf("confirm while rejected: %+v %+v", c, out.Intents)
	}
	w.p.NoDelete = true
	out = w.cycleWith([]events.Scope{scopeB}, scopePass{scope: scopeA, pass: pass("p1", ins[4:]...)})
	if len(out.Pruned) != 1 || out.Pruned[0].Refused != "no_delete" || ops(out)[events.OpDelete] != 0 {
		t.Fatalf("prune under no_delete: %+v", out.Pruned)
	}
}

// One instance in two passes (moving between regions) is decided once.
func TestListedInTwoScopes(t *testing.T) {
	w := newWorld(t, testPolicy())
	a := vm(scopeA, "i-a", "a", "10.0.0.1")
	w.seed(scopeA, "a0", a)
	twin := with(a, func(in *asset.Instance) { in.Region = scopeB.Region })
	out := w.cycle(scopePass{scope: scopeB, pass: pass("b1", twin)}, scopePass{scope: scopeA, pass: pass("a1", a)})
	if len(out.Intents) != 0 {
		t.Fatalf("%+v", out.Intents)
	}
	ex := out.Explain(a.ID())
	if len(ex) != 1 || ex[0].Cause != CauseListedElsewhere || ex[0].Scope != scopeB {
		t.Fatalf("explain %+v", ex)
	}
}
