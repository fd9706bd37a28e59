package reconciler

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// A complete pass gives one create per instance on INTENTS, after an open
// run record that expects them; a second cycle over the mirror the applier
// updated gives none.
func TestCompletePassCreatesAfterRunRecord(t *testing.T) {
	e := newEnv(t)
	s, _ := e.start(loadConfig(t, baseEnv()))
	e.mirrorReady("Default")
	ins := vms(scopeA, 0, 5)
	id := e.pass(scopeA, ins)
	e.wait("first cycle", func() bool { return s.Cycles() >= 1 && len(e.intents(1)) == 5 })

	got := e.intents(1)
	if ops := opsOf(got); ops[events.OpCreate] != 5 {
		t.Fatalf("ops %v", ops)
	}
	for _, in := range got {
		if in.PassID != id || in.Scope.AccountID != "prod" || in.Desired.NodePath != "/Default/阿里云/生产" {
			t.Fatalf("intent %+v (root node from the applier's record, account name from the config)", in)
		}
	}
	runs := e.runs()
	if len(runs) != 1 || runs[0].Kind != events.RunOpen || runs[0].ExpectedIntents() != 5 || runs[0].RunID != got[0].RunID {
		t.Fatalf("runs %+v", runs)
	}
	for _, rs := range runs[0].Scopes {
		switch {
		case sameScope(rs.Scope, scopeA) && (rs.ExpectedIntents != 5 || rs.PassID != id):
			t.Fatalf("scope A in run: %+v", rs)
		case sameScope(rs.Scope, scopeB) && rs.Skipped != "no_usable_pass":
			t.Fatalf("scope B in run: %+v", rs)
		}
	}
	// Order of publication as a subscriber sees it: the run record first.
	e.alertsMu.Lock()
	order := slices.Clone(e.order)
	e.alertsMu.Unlock()
	if len(order) != 6 || !strings.HasPrefix(order[0], "jmssync.run.") {
		t.Fatalf("publish order %v", order)
	}
	for _, subj := range order[1:] {
		if subj != natsx.IntentSubject(natsScope(scopeA)) {
			t.Fatalf("intent on %s", subj)
		}
	}

	// The applier applies; the next pass of the same instances decides nothing.
	if n := e.apply(); n != 5 {
		t.Fatalf("applied %d", n)
	}
	seq := e.lastSeq(natsx.StreamIntents)
	e.pass(scopeA, ins)
	e.wait("second cycle", func() bool { return s.Cycles() >= 2 })
	if got := e.intents(seq + 1); len(got) != 0 {
		t.Fatalf("second cycle issued %d intents: %+v", len(got), got[0])
	}
	if runs := e.runs(); len(runs) != 2 || runs[1].ExpectedIntents() != 0 {
		t.Fatalf("second run %+v", runs[len(runs)-1])
	}

	// The plan command is a dry run too: a summary, nothing published.
	e.pass(scopeB, vms(scopeB, 0, 2)) // not decided yet: the dry run verifies it in memory
	r := e.request(SubjectPlan, struct{}{})
	if !r.OK || r.Plan == nil || r.Plan.Intents[events.OpCreate] < 2 {
		t.Fatalf("plan reply %+v", r)
	}
}

// Rule 8: a malformed close and a malformed chunk are dead-lettered with
// their reason; the pass with the bad chunk fails (no decision from it) and
// later passes are still processed.
func TestMalformedCloseAndChunkDeadLettered(t *testing.T) {
	e := newEnv(t)
	s, _ := e.start(loadConfig(t, baseEnv()))
	e.mirrorReady("")

	e.publishRaw(natsx.PassSubject(natsScope(scopeA)), []byte("{not json"), "garbage-close")
	// A pass of three chunks whose middle one is garbage.
	id := events.NewPassID()
	ins := vms(scopeA, 0, 3)
	chunks, err := events.SplitPass(id, scopeA, ins, 600)
	if err != nil || len(chunks) != 3 {
		t.Fatalf("chunks %d %v", len(chunks), err)
	}
	subj := natsx.SnapshotSubject(natsScope(scopeA), id)
	e.publish(subj, chunks[0])
	e.publishRaw(subj, []byte(`{"schema":"jmssync.snapshot.chunk/v1","pass_id":7}`), id+".1")
	e.publish(subj, chunks[2])
	digest, _ := asset.Digest(ins)
	e.close(scopeA, events.NewPassComplete(id, scopeA, 3, 3, digest, "acct-1", e.fence(), e.tick(), e.tick(), "c1"))

	e.wait("two dead letters", func() bool { return len(e.msgs(natsx.StreamDLQ, natsx.DLQSubject(Name), 1)) == 2 })
	dlq := e.msgs(natsx.StreamDLQ, natsx.DLQSubject(Name), 1)
	reasons := map[string]string{}
	for _, m := range dlq {
		reasons[m.Header.Get(natsx.HeaderDLQSubject)] = m.Header.Get(natsx.HeaderDLQReason)
		if m.Header.Get(natsx.HeaderDLQError) == "" {
			t.Errorf("dead letter without the error text: %v", m.Header)
		}
	}
	if reasons[natsx.PassSubject(natsScope(scopeA))] != natsx.ReasonMalformed || reasons[subj] != natsx.ReasonMalformed {
		t.Fatalf("dead letters by subject: %v", reasons)
	}
	e.wait("failed-pass alert", func() bool { return len(e.alertsOf(events.AlertPassFailed)) == 1 })
	if a := e.alertsOf(events.AlertPassFailed)[0]; a.Details["reason"] != plan.ReasonChunksMissing {
		t.Fatalf("alert %+v", a)
	}
	e.wait("trouble recorded", func() bool { return e.scopeState(scopeA).Trouble != nil })
	if st := e.scopeState(scopeA); st.Verified != nil || st.Trouble.Reason != plan.ReasonChunksMissing {
		t.Fatalf("state after the bad pass: %+v", st)
	}

	// The stream goes on: the next pass is verified and decided.
	good := e.pass(scopeA, ins)
	e.verified(scopeA, good)
	e.wait("creates", func() bool { return len(e.intents(1)) == 3 })
	if st := e.scopeState(scopeA); st.Trouble != nil {
		t.Fatalf("trouble not cleared: %+v", st.Trouble)
	}
	_ = s
}

// Rule 2: after a failed pass nothing is deleted, even an asset whose
// grace period is over; the next usable pass deletes it.
func TestFailedPassNeverDeletes(t *testing.T) {
	e := newEnv(t)
	env := baseEnv()
	env["JMSSYNC_SYNC_DELETE_GRACE"] = "1h"
	s, _ := e.start(loadConfig(t, env))
	e.mirrorReady("")
	ins := vms(scopeA, 0, 10)
	e.pass(scopeA, ins)
	e.wait("creates", func() bool { return len(e.intents(1)) == 10 })
	e.apply()
	seq := e.lastSeq(natsx.StreamIntents)
	e.pass(scopeA, ins[1:])
	e.wait("deactivation", func() bool { return len(e.intents(seq+1)) == 1 })
	if in := e.intents(seq + 1)[0]; in.Op != events.OpDeactivate || in.Identity != ins[0].ID() {
		t.Fatalf("intent %+v", in)
	}
	e.apply()
	seq = e.lastSeq(natsx.StreamIntents)
	cycles := s.Cycles()

	e.close(scopeA, events.NewPassFailed(events.NewPassID(), scopeA, events.ReasonThrottled, "exhausted", 2, e.fence(), e.tick(), e.tick(), "c1"))
	e.wait("trouble", func() bool { return e.scopeState(scopeA).Trouble != nil })
	e.advance(2 * time.Hour) // the grace period is over
	out, err := s.Cycle(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.intents(seq + 1); len(got) != 0 {
		t.Fatalf("intents after a failed pass: %v", opsOf(got))
	}
	if d := out.Explain(ins[0].ID()); len(d) != 1 || d[0].Cause != plan.CauseLatestRejected {
		t.Fatalf("decision %+v", d)
	}
	if s.Cycles() != cycles+1 {
		t.Fatal("a failed pass must not trigger a cycle of its own")
	}
	if n := len(e.alertsOf(events.AlertPassFailed)); n != 1 {
		t.Fatalf("%d pass_failed alerts", n)
	}

	// A usable pass again: the deletion goes ahead.
	e.pass(scopeA, ins[1:])
	e.wait("deletion", func() bool { return len(e.intents(seq+1)) == 1 })
	if in := e.intents(seq + 1)[0]; in.Op != events.OpDelete || in.Cause != plan.CauseGraceElapsed {
		t.Fatalf("intent %+v", in)
	}
}

// No decision is taken before the applier has rebuilt the mirror.
func TestNoCycleBeforeMirrorReady(t *testing.T) {
	e := newEnv(t)
	s, _ := e.start(loadConfig(t, baseEnv()))
	id := e.pass(scopeA, vms(scopeA, 0, 2))
	e.verified(scopeA, id)
	time.Sleep(150 * time.Millisecond) // several debounces
	if s.Cycles() != 0 || len(e.runs()) != 0 || len(e.intents(1)) != 0 {
		t.Fatalf("decided before the mirror was ready: cycles %d", s.Cycles())
	}
	if _, err := s.Cycle(t.Context(), "test"); !errors.Is(err, ErrMirrorNotReady) {
		t.Fatalf("cycle before ready: %v", err)
	}
	if r := e.request(SubjectConfirm, ConfirmRequest{PlanID: "plan-0123"}); r.OK || r.Error != ErrCodeMirrorNotReady {
		t.Fatalf("confirm before ready: %+v", r)
	}
	e.mirrorReady("")
	e.wait("cycle once ready", func() bool { return s.Cycles() == 1 && len(e.intents(1)) == 2 })
}

// Rule 3: a held plan survives a restart and is alerted once; confirm over
// NATS deletes only what is still absent; a stale confirm is refused.
func TestHeldPlanRestartAndConfirm(t *testing.T) {
	e := newEnv(t)
	env := baseEnv()
	env["JMSSYNC_RECONCILE_DEBOUNCE"] = "1h" // cycles only when the test says
	cfg := loadConfig(t, env)
	s, stop := e.start(cfg)
	e.mirrorReady("")
	ins := vms(scopeA, 0, 10)
	p0 := e.pass(scopeA, ins)
	e.verified(scopeA, p0)
	cycle := func(s *Service) *plan.Output {
		t.Helper()
		out, err := s.Cycle(t.Context(), "test")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	e.wait("ready", func() bool { return s.ready.Load() != nil })
	if out := cycle(s); len(out.Intents) != 10 {
		t.Fatalf("seed: %d intents", len(out.Intents))
	}
	e.apply()

	// Three disappear: over the budget of a scope of 10 (1 per 24 h).
	e.verified(scopeA, e.pass(scopeA, ins[3:]))
	out := cycle(s)
	held := e.scopeState(scopeA).Held
	if len(out.Intents) != 0 || held == nil || len(held.Identities) != 3 {
		t.Fatalf("want 3 held: %d intents, held %+v", len(out.Intents), held)
	}
	e.wait("held alert", func() bool { return len(e.alertsOf(events.AlertDeletionsHeld)) == 1 })
	if s.Held() != 3 {
		t.Fatalf("held gauge %d", s.Held())
	}

	// A new reconciler on the same server: still held, not alerted again.
	stop()
	s2, _ := e.start(cfg)
	e.wait("ready after restart", func() bool { return s2.ready.Load() != nil })
	if out := cycle(s2); len(out.Intents) != 0 || len(out.Alerts) != 0 || e.scopeState(scopeA).Held.ID != held.ID {
		t.Fatalf("after restart: intents %d alerts %d", len(out.Intents), len(out.Alerts))
	}
	if n := len(e.alertsOf(events.AlertDeletionsHeld)); n != 1 {
		t.Fatalf("held plan alerted %d times", n)
	}

	// A fourth disappears: another plan is held, the first one is stale.
	e.verified(scopeA, e.pass(scopeA, ins[4:]))
	cycle(s2)
	held2 := e.scopeState(scopeA).Held
	if held2 == nil || held2.ID == held.ID || len(held2.Identities) != 4 {
		t.Fatalf("second plan %+v", held2)
	}
	if r := e.request(SubjectConfirm, ConfirmRequest{PlanID: held.ID}); !r.OK || r.Confirm == nil || r.Confirm.Refused != "plan_stale" {
		t.Fatalf("stale confirm: %+v", r)
	}

	// ins[0] is listed again before the confirm: only the three still absent go.
	seq := e.lastSeq(natsx.StreamIntents)
	e.verified(scopeA, e.pass(scopeA, append([]asset.Instance{ins[0]}, ins[4:]...)))
	r := e.request(SubjectConfirm, ConfirmRequest{PlanID: held2.ID})
	if !r.OK || r.Confirm == nil || r.Confirm.Refused != "" || r.Confirm.Deleted != 3 || r.Confirm.Dropped != 1 || r.RunID == "" {
		t.Fatalf("confirm: %+v %+v", r, r.Confirm)
	}
	got := e.intents(seq + 1)
	if ops := opsOf(got); ops[events.OpDelete] != 3 || len(got) != 3 {
		t.Fatalf("confirm intents %v", ops)
	}
	for _, in := range got {
		if in.Cause != plan.CausePlanConfirmed || in.Identity == ins[0].ID() || in.RunID != r.RunID {
			t.Fatalf("confirm intent %+v", in)
		}
	}
	if e.scopeState(scopeA).Held != nil {
		t.Fatal("plan still held after confirm")
	}
	if r := e.request(SubjectConfirm, ConfirmRequest{PlanID: held2.ID}); !r.OK || r.Confirm.Refused != "no_plan_held" {
		t.Fatalf("repeated confirm: %+v", r.Confirm)
	}
	if r := e.request(SubjectConfirm, map[string]string{"plan": "x"}); r.OK || r.Error != ErrCodeBadRequest {
		t.Fatalf("bad request: %+v", r)
	}
}

// Rule 4: assets of a scope no longer configured are orphaned; prune
// deletes them; a configured scope cannot be pruned.
func TestOrphanAndPrune(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	// Two assets of scope C, which the config does not list (any more).
	for _, in := range vms(scopeC, 0, 2) {
		ent := &mirror.Entry{AssetID: in.ID().AssetID("test", DefaultOrgID), Identity: in.ID(), Scope: scopeC, Generation: 1,
			State: events.AssetState{Name: in.Name, Address: in.PrivateIPs[0], Platform: "Linux", IsActive: true,
				Nodes: []string{"/DEFAULT/阿里云/生产"}, Protocols: []events.Protocol{{Name: "ssh", Port: 22}}}}
		if _, err := e.mirror.Put(ctx, ent, 0); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := e.start(loadConfig(t, baseEnv()))
	e.mirrorReady("")
	e.wait("orphans", func() bool { return opsOf(e.intents(1))[events.OpOrphan] == 2 })
	e.wait("orphan alert", func() bool { return len(e.alertsOf(events.AlertScopeOrphaned)) == 1 })
	e.apply()

	if r := e.request(SubjectPrune, PruneRequest{ScopeRef{Provider: asset.Aliyun, AccountID: "prod", Region: scopeA.Region}}); !r.OK || r.Prune.Refused != "scope_active" {
		t.Fatalf("prune of a configured scope: %+v", r)
	}
	seq := e.lastSeq(natsx.StreamIntents)
	r := e.request(SubjectPrune, PruneRequest{ScopeRef{Provider: "aliyun", AccountID: "prod", Region: scopeC.Region}})
	if !r.OK || r.Prune == nil || r.Prune.Deleted != 2 || r.Prune.Refused != "" {
		t.Fatalf("prune: %+v", r)
	}
	got := e.intents(seq + 1)
	if ops := opsOf(got); ops[events.OpDelete] != 2 || len(got) != 2 || got[0].Cause != plan.CausePruned {
		t.Fatalf("prune intents %v", ops)
	}
	if r := e.request(SubjectPrune, map[string]string{"provider": "gcp"}); r.OK || r.Error != ErrCodeBadRequest {
		t.Fatalf("bad prune: %+v", r)
	}
	_ = s
}

// A suspicious pass (emptied) is not usable until an operator asks for a
// rebaseline; then the next complete pass is.
func TestRebaseline(t *testing.T) {
	e := newEnv(t)
	s, _ := e.start(loadConfig(t, baseEnv()))
	e.mirrorReady("")
	ins := vms(scopeA, 0, 10)
	e.verified(scopeA, e.pass(scopeA, ins))
	e.pass(scopeA, ins[:2]) // shrunk by 80 %
	e.wait("suspicious", func() bool { return len(e.alertsOf(events.AlertPassSuspicious)) == 1 })
	if r := e.request(SubjectRebaseline, RebaselineRequest{Scope: ScopeRef{Provider: "aliyun", AccountID: "prod", Region: scopeC.Region}}); r.OK || r.Error != ErrCodeNotConfigured {
		t.Fatalf("rebaseline of an unknown scope: %+v", r)
	}
	if r := e.request(SubjectRebaseline, RebaselineRequest{Scope: ScopeRef{Provider: "aliyun", AccountID: "prod", Region: scopeA.Region}}); !r.OK {
		t.Fatalf("rebaseline: %+v", r)
	}
	id := e.pass(scopeA, ins[:2])
	e.verified(scopeA, id)
	_ = s
}

// The dry run reads passes (verifying one the service never saw), the
// mirror and the state, and publishes and writes nothing; it works with an
// empty mirror and no mirror-ready record.
func TestPlanIsADryRun(t *testing.T) {
	e := newEnv(t)
	cfg := loadConfig(t, baseEnv())
	e.pass(scopeA, vms(scopeA, 0, 4))
	e.publishRaw(natsx.PassSubject(natsScope(scopeB)), []byte("garbage"), "garbage-b")

	counts := func() map[string]uint64 {
		m := map[string]uint64{}
		for _, name := range []string{natsx.StreamSnapshots, natsx.StreamIntents, natsx.StreamRuns, natsx.StreamAlerts, natsx.StreamDLQ,
			"KV_" + natsx.BucketState, "KV_" + natsx.BucketAssets} {
			st, err := e.js.Stream(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := st.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			m[name] = info.State.Msgs
			m[name+"/consumers"] = uint64(info.State.Consumers)
		}
		return m
	}
	before := counts()
	out, err := Plan(t.Context(), e.js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ops := opsOf(ptrs(out.Intents)); ops[events.OpCreate] != 4 || out.Run.ExpectedIntents() != 4 {
		t.Fatalf("plan: %v", ops)
	}
	if got := out.Intents[0].Desired.NodePath; got != "/DEFAULT/阿里云/生产" {
		t.Fatalf("node path %q (root node from JUMPSERVER_ROOT_NODE)", got)
	}
	time.Sleep(50 * time.Millisecond)
	after := counts()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %d before the dry run, %d after", k, v, after[k])
		}
	}
	e.alertsMu.Lock()
	defer e.alertsMu.Unlock()
	if len(e.order) != 0 || len(e.alerts) != 0 {
		t.Fatalf("the dry run published %v %d alerts", e.order, len(e.alerts))
	}
}

func ptrs(ins []events.Intent) []*events.Intent {
	out := make([]*events.Intent, len(ins))
	for i := range ins {
		out[i] = &ins[i]
	}
	return out
}
