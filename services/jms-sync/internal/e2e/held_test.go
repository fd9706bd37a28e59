package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// confirm sends `confirm <plan>` on the command subject, as the CLI does.
func (s *Stack) confirm(t *testing.T, planID string) reconciler.Reply {
	t.Helper()
	// An operator confirms what the reconciler has seen: the passes
	// published so far are verified first.
	s.verified()
	b, _ := json.Marshal(reconciler.ConfirmRequest{PlanID: planID})
	msg, err := s.Bus.NC.Request(reconciler.SubjectConfirm, b, 30*time.Second)
	if err != nil {
		t.Fatalf("confirm %s: %v", planID, err)
	}
	var r reconciler.Reply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		t.Fatalf("confirm reply %s: %v", msg.Data, err)
	}
	if !r.OK || r.Confirm == nil {
		t.Fatalf("confirm %s failed: %s", planID, msg.Data)
	}
	s.Settle()
	return r
}

// cards counts the DingTalk messages that mention text.
func (w *World) cards(text string) int {
	n := 0
	for _, m := range w.Ding.Accepted(robotToken) {
		if strings.Contains(m.Text, text) || strings.Contains(m.Title, text) {
			n++
		}
	}
	return n
}

// heldAlerts returns the plan ids of the deletions_held alerts of out.
func heldAlerts(out *planOutput) []string {
	var ids []string
	for _, a := range out.Alerts {
		if a.Kind == events.AlertDeletionsHeld {
			ids = append(ids, a.Details["plan"])
		}
	}
	return ids
}

// TestHeldDeletions: removing 30% of a region holds the deletions; after a
// restart the plan is still held and alerted only once; a confirm applies
// only what is still absent; a stale confirm is refused.
//
// Cycles are run by the test: the debounce is longer than the test and
// only the region under test is listed on demand (a cycle starts at once
// only when every scope has reported), so that a confirm can meet a pass
// no cycle has decided from yet.
func TestHeldDeletions(t *testing.T) {
	t.Parallel()
	w := NewWorld(t, WorldOptions{PerRegion: 20, Seed: 31, DingTalk: true})
	env := with(w.Env(),
		"JMSSYNC_RECONCILE_DEBOUNCE", "10m",
		"JMSSYNC_SYNC_ABSENT_PASSES", "1",
		"JMSSYNC_SYNC_DELETE_GRACE", "0s",
		// the default budget: 20 per 24 h, at most 10% of the scope
	)
	s := w.Start(t, env, "")
	s.Decide()
	w.CheckHosts(t, s.Expect(nil))
	inv, region := w.AliInv, "cn-hangzhou"
	hz := events.Scope{Provider: asset.Aliyun, AccountID: aliAccountID, AccountName: aliAccountName, Region: region}
	scope := hz.String()
	if n := inv.Count(region); n != 20 {
		t.Fatalf("%s lists %d instances, want 20", region, n)
	}
	id := func(in *cloudinv.Instance) string { return AssetID(asset.Aliyun, in.ID) }

	// 30% of the region is released.
	gone := pickMapped(t, inv, region, 0, 6)
	for _, in := range gone {
		inv.Release(in.ID)
	}
	before := w.counters()
	closes := s.CollectScope(hz)
	if c := closes[scope]; c.Status != events.PassComplete {
		t.Fatalf("pass of %s: %s %s; 30%% less must still be a usable pass", scope, c.Status, c.Reason)
	}
	out := s.Decide()
	p1 := out.Held[scope]
	if p1 == "" {
		t.Fatalf("no plan held for %s after removing 30%%: %+v", scope, out.Held)
	}
	if got := heldAlerts(out); len(got) != 1 || got[0] != p1 {
		t.Fatalf("deletions_held alerts %v, want one for %s", got, p1)
	}
	if d := w.counters().sub(before); d.deleted != 0 {
		t.Fatalf("%d deletions while the plan is held", d.deleted)
	}
	for _, in := range gone {
		if _, ok := w.Hosts()[id(in)]; !ok {
			t.Fatalf("host of %s deleted while held", in.ID)
		}
	}
	waitFor(t, 20*time.Second, "the held-deletions card on DingTalk", func() bool { return w.cards(p1) >= 1 })

	t.Run("restart: still held, alerted once", func(t *testing.T) {
		s.Restart(nil)
		out := s.Decide()
		if got := out.Held[scope]; got != p1 {
			t.Fatalf("after a restart the held plan is %q, want %q", got, p1)
		}
		if got := heldAlerts(out); len(got) != 0 {
			t.Fatalf("the held plan was alerted again after a restart: %v", got)
		}
		if n := len(s.Alerts(events.AlertDeletionsHeld)); n != 1 {
			t.Fatalf("%d deletions_held alerts on ALERTS, want 1", n)
		}
		time.Sleep(2 * time.Second) // give the notifier the time to send a second card
		if n := w.cards(p1); n != 1 {
			t.Fatalf("%d DingTalk cards for %s, want 1", n, p1)
		}
		if d := w.counters().sub(before); d.deleted != 0 {
			t.Fatalf("%d deletions while the plan is held", d.deleted)
		}
	})

	t.Run("confirm applies only what is still absent", func(t *testing.T) {
		back := gone[0]
		inv.Put(*back) // listed again before the confirm
		s.CollectScope(hz)
		before := w.counters()
		r := s.confirm(t, p1)
		if r.Confirm.Refused != "" || r.Confirm.Deleted != 5 || r.Confirm.Dropped != 1 {
			t.Fatalf("confirm %s: %+v; want 5 deleted, 1 dropped", p1, r.Confirm)
		}
		if d := w.counters().sub(before); d.deleted != 5 {
			t.Fatalf("confirm made %s; want 5 deletions", d)
		}
		hosts := w.Hosts()
		if _, ok := hosts[id(back)]; !ok {
			t.Fatal("the instance listed again was deleted by the confirm")
		}
		for _, in := range gone[1:] {
			if _, ok := hosts[id(in)]; ok {
				t.Fatalf("host of released %s not deleted by the confirm", in.ID)
			}
		}
		w.CheckHosts(t, s.Expect(w.Names()))
	})

	t.Run("a stale confirm is refused", func(t *testing.T) {
		more := pickMapped(t, inv, region, 0, 3)
		for _, in := range more {
			inv.Release(in.ID)
		}
		s.CollectScope(hz)
		out := s.Decide()
		p2 := out.Held[scope]
		if p2 == "" || p2 == p1 {
			t.Fatalf("held plan %q after 3 more releases (the window holds 5 deletions)", p2)
		}
		inv.Put(*more[0])
		s.CollectScope(hz)
		out = s.Decide()
		p3 := out.Held[scope]
		if p3 == "" || p3 == p2 {
			t.Fatalf("held plan %q after one instance came back; want a new plan", p3)
		}
		if got := heldAlerts(out); len(got) != 1 || got[0] != p3 {
			t.Fatalf("deletions_held alerts %v, want one for the new plan %s", got, p3)
		}
		before := w.counters()
		r := s.confirm(t, p2)
		if r.Confirm.Refused != "plan_stale" || r.Confirm.Deleted != 0 {
			t.Fatalf("confirm of the stale %s: %+v; want refused plan_stale", p2, r.Confirm)
		}
		if d := w.counters().sub(before); d.writes != 0 {
			t.Fatalf("a refused confirm made %s", d)
		}
		r = s.confirm(t, p3)
		if r.Confirm.Refused != "" || r.Confirm.Deleted != 2 {
			t.Fatalf("confirm %s: %+v; want 2 deleted", p3, r.Confirm)
		}
		if _, ok := w.Hosts()[id(more[0])]; !ok {
			t.Fatal("the instance listed again was deleted")
		}
		w.CheckHosts(t, s.Expect(w.Names()))
	})
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
