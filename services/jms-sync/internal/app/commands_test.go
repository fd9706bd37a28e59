package app

import (
	"bytes"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"io"
)

func (s *simStack) reconfigure(t *testing.T, overrides map[string]string) {
	t.Helper()
	for k, v := range overrides {
		s.vars[k] = v
	}
	cfgs, err := LoadConfigs(s.vars)
	if err != nil {
		t.Fatal(err)
	}
	s.cfgs = cfgs
}

func report(r interface{ Print(io.Writer) }) string {
	var b bytes.Buffer
	r.Print(&b)
	return b.String()
}

// TestHeldDeletionsThenConfirm: deletions beyond the budget make `once`
// exit 3 (not success) and `plan` show the held plan; `confirm <plan>`
// (in-process, no serve running) deletes them; the next once exits 0.
func TestHeldDeletionsThenConfirm(t *testing.T) {
	st := startSimStack(t, 20)
	st.reconfigure(t, map[string]string{
		"JMSSYNC_SYNC_ABSENT_PASSES": "1", "JMSSYNC_SYNC_DELETE_GRACE": "0s", "JMSSYNC_SYNC_DELETE_BUDGET": "2",
	})
	dir := t.TempDir()
	if r, err := Once(t.Context(), st.options(dir, nil)); err != nil || r.ExitCode() != ExitOK {
		t.Fatalf("first once: %v %s", err, report(r))
	}
	hosts := st.sims.jms.AssetCount("")
	for i := range 5 {
		id, err := st.sims.aliyunInv.Pick("cn-hangzhou", i)
		if err != nil {
			t.Fatal(err)
		}
		_ = st.sims.aliyunInv.Release(id)
	}
	r, err := Once(t.Context(), st.options(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode() != ExitHeld || len(r.Held) != 1 {
		t.Fatalf("once with held deletions: exit %d, want %d\n%s", r.ExitCode(), ExitHeld, report(r))
	}
	held := r.Held[0]
	p, err := Plan(t.Context(), st.options(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Held) != 1 || p.Held[0].ID != held.ID {
		t.Fatalf("plan does not show the held plan %s: %+v", held.ID, p.Held)
	}

	stale, err := Confirm(t.Context(), st.options(dir, nil), "plan-0000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if stale.ExitCode() != ExitNotFound || stale.Reply.Confirm == nil || stale.Reply.Confirm.Refused != "plan_stale" {
		t.Fatalf("confirm of an unknown plan: exit %d\n%s", stale.ExitCode(), report(stale))
	}
	c, err := Confirm(t.Context(), st.options(dir, nil), held.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.ExitCode() != ExitOK || c.Via != "in-process" || c.Reply.Confirm.Deleted == 0 {
		t.Fatalf("confirm: exit %d via %s\n%s", c.ExitCode(), c.Via, report(c))
	}
	if got := st.sims.jms.AssetCount(""); got != hosts-5 {
		t.Fatalf("JumpServer holds %d hosts after confirm, want %d\n%s", got, hosts-5, report(c))
	}
	if r, err := Once(t.Context(), st.options(dir, nil)); err != nil || r.ExitCode() != ExitOK {
		t.Fatalf("once after confirm: %v\n%s", err, report(r))
	}
}

// TestPruneRemovedScope: a region removed from the configuration is
// orphaned by once, never deleted; `prune -scope` deletes its assets, and
// refuses a scope still configured.
func TestPruneRemovedScope(t *testing.T) {
	st := startSimStack(t, 10)
	dir := t.TempDir()
	if r, err := Once(t.Context(), st.options(dir, nil)); err != nil || r.ExitCode() != ExitOK {
		t.Fatalf("first once: %v", err)
	} else {
		t.Logf("first once:\n%s", report(r))
	}
	hosts := st.sims.jms.AssetCount("")
	t.Logf("hosts %d", hosts)
	active := events.Scope{Provider: "aliyun", AccountID: "demo-aliyun", Region: "cn-hangzhou"}
	if r, err := Prune(t.Context(), st.options(dir, nil), active); err != nil || r.ExitCode() != ExitNotFound {
		t.Fatalf("prune of a configured scope: %v\n%s", err, report(r))
	}
	st.reconfigure(t, map[string]string{"JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS": "cn-hangzhou"})
	if r, err := Once(t.Context(), st.options(dir, nil)); err != nil || r.ExitCode() != ExitOK || r.Intents[events.OpOrphan] != 10 {
		t.Fatalf("once after removing a region: %v\n%s", err, report(r))
	}
	if got := st.sims.jms.AssetCount(""); got != hosts {
		t.Fatalf("removing a region deleted hosts: %d, was %d", got, hosts)
	}
	sc, err := ParseScope("aliyun/demo-aliyun/cn-beijing")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Prune(t.Context(), st.options(dir, nil), sc)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode() != ExitOK || r.Reply.Prune.Deleted != 10 {
		t.Fatalf("prune: exit %d\n%s", r.ExitCode(), report(r))
	}
	if got := st.sims.jms.AssetCount(""); got != hosts-10 {
		t.Fatalf("JumpServer holds %d hosts after prune, want %d", got, hosts-10)
	}
}

// TestConfirmThroughServe: with serve running, confirm is answered by its
// reconciler over NATS.
func TestConfirmThroughServe(t *testing.T) {
	st := startSimStack(t, 5)
	dir := t.TempDir()
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, &Environment{Vars: st.vars}, st.cfgs, dir, logging.New(io.Discard, "error", "test"))
	}()
	var r *CommandResult
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		var err error
		r, err = Confirm(t.Context(), st.options(dir, nil), "plan-0000000000000000")
		if err == nil && r.Via == "serve" {
			break
		}
	}
	if r == nil || r.Via != "serve" {
		t.Fatal("serve's reconciler never answered confirm")
	}
	if r.ExitCode() != ExitNotFound || r.Reply.Confirm == nil || r.Reply.Confirm.Refused != "no_plan_held" {
		t.Fatalf("confirm through serve: exit %d\n%s", r.ExitCode(), report(r))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
