package e2e

import (
	"strings"
	"testing"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

// hairTrigger is a deletion policy that deletes at once: absent from one
// pass, no grace period, no budget. Under it any wrong absence shows as a
// deletion.
func hairTrigger(env map[string]string) map[string]string {
	return with(env,
		"JMSSYNC_SYNC_ABSENT_PASSES", "1",
		"JMSSYNC_SYNC_DELETE_GRACE", "0s",
		"JMSSYNC_SYNC_DELETE_BUDGET", "100000",
		"JMSSYNC_SYNC_DELETE_BUDGET_PERCENT", "100",
	)
}

// noLoss checks that since before nothing was deleted or deactivated, and
// that every host of want is still there.
func noLoss(t *testing.T, w *World, before counters, hostsBefore map[string]bool) {
	t.Helper()
	if d := w.counters().sub(before); d.deleted != 0 {
		t.Fatalf("%d deletions; want none (%s)", d.deleted, d)
	}
	have := w.Managed()
	for id, active := range hostsBefore {
		h, ok := have[id]
		switch {
		case !ok:
			t.Errorf("host %s is gone", id)
		case active && !h.IsActive:
			t.Errorf("host %s %q was deactivated", id, h.Name)
		}
	}
}

func activeHosts(w *World) map[string]bool {
	out := map[string]bool{}
	for id, h := range w.Managed() {
		out[id] = h.IsActive
	}
	return out
}

// TestZeroDeletions: each of these makes zero deletions — a failed pass for
// one region (the others sync normally), a key without list permission
// (an empty list), an instance listed without a usable address, a stopped
// instance, renaming an account in the config, removing a region from the
// config (its assets orphaned and reported). The deletion policy is set to
// delete at the first absence, without grace or budget.
func TestZeroDeletions(t *testing.T) {
	t.Parallel()
	const emptyAK, emptySK = "HWE2EEMPTYKEY001", "e2e-huawei-empty-key-secret"
	w := NewWorld(t, WorldOptions{PerRegion: 12, Seed: 21, HuaweiKeys: []cloudinv.Key{
		{ID: emptyAK, Secret: emptySK, Account: hwDomain, Permission: cloudinv.ListEmpty}}})
	env := hairTrigger(w.Env())
	s := w.Start(t, env, "")
	w.CheckHosts(t, s.Expect(nil))

	t.Run("failed pass for one region", func(t *testing.T) {
		hosts, before := activeHosts(w), w.counters()
		w.AliInv.SetFaults(cloudinv.Faults{FailRegions: map[string]bool{"cn-beijing": true}})
		// Changes elsewhere still sync.
		a := pickMapped(t, w.AliInv, "cn-hangzhou", 0, 1)[0]
		ipA, _ := w.AliInv.ReIP(a.ID, "")
		h := pickMapped(t, w.HWInv, "cn-east-3", 0, 1)[0]
		ipH, _ := w.HWInv.ReIP(h.ID, "")
		sticky := w.Names()
		closes := s.Sync()
		failed := 0
		for sc, c := range closes {
			if strings.HasSuffix(sc, "/cn-beijing") {
				if c.Status != events.PassFailed {
					t.Errorf("pass of %s: %s, want failed", sc, c.Status)
				}
				failed++
			} else if c.Status != events.PassComplete {
				t.Errorf("pass of %s: %s %s, want complete", sc, c.Status, c.Reason)
			}
		}
		if failed != 1 {
			t.Fatalf("%d failed passes, want 1", failed)
		}
		noLoss(t, w, before, hosts)
		if d := w.counters().sub(before); d.updated != 2 || d.created != 0 {
			t.Errorf("JumpServer changed by %s; want the 2 re-IPs", d)
		}
		got := w.Hosts()
		if got[AssetID(asset.Aliyun, a.ID)].Address != ipA || got[AssetID(asset.HuaweiCloud, h.ID)].Address != ipH {
			t.Error("a change in a region that listed normally was not applied")
		}
		if len(s.Alerts(events.AlertPassFailed)) == 0 {
			t.Error("no pass_failed alert")
		}
		w.AliInv.SetFaults(cloudinv.Faults{})
		s.Sync()
		w.CheckHosts(t, s.Expect(sticky))
	})

	t.Run("key without list permission", func(t *testing.T) {
		hosts, before := activeHosts(w), w.counters()
		// The Aliyun key loses its permission: DescribeInstances answers an
		// empty list (and a DryRun probe is refused).
		w.Ali.AddKey(cloudinv.Key{ID: aliKey, Secret: aliSecret, Account: aliAccount, Permission: cloudinv.ListEmpty})
		closes := s.Sync()
		for sc, c := range closes {
			// The empty answer is not trusted: the DryRun probe is refused.
			if strings.HasPrefix(sc, "aliyun/") && c.Status != events.PassFailed {
				t.Errorf("pass of %s with an empty-list key: %s (%d instances), want failed", sc, c.Status, c.InstanceCount)
			}
		}
		noLoss(t, w, before, hosts)
		w.Ali.AddKey(cloudinv.Key{ID: aliKey, Secret: aliSecret, Account: aliAccount})

		// The Huawei account is configured with a key that lists nothing:
		// a complete pass of zero instances where there were some.
		s.Restart(with(env, "JMSSYNC_HUAWEI_ACCOUNTS_0_ACCESS_KEY_ID", emptyAK, "JMSSYNC_HUAWEI_ACCOUNTS_0_SECRET_ACCESS_KEY", emptySK))
		s.Sync()
		noLoss(t, w, before, hosts)
		if len(s.Alerts(events.AlertPassSuspicious)) == 0 {
			t.Error("no pass_suspicious alert for a populated scope listing nothing")
		}
		s.Restart(env)
		if d := w.counters().sub(before); d.writes != 0 {
			t.Errorf("JumpServer changed by %s; want nothing", d)
		}
		w.CheckHosts(t, s.Expect(w.Names()))
	})

	t.Run("instance listed without a usable address", func(t *testing.T) {
		hosts, before := activeHosts(w), w.counters()
		in := pickMapped(t, w.HWInv, "cn-north-4", 1, 1)[0]
		w.HWInv.Update(in.ID, func(x *cloudinv.Instance) {
			for i := range x.NICs {
				x.NICs[i].PrivateIPs = nil
			}
			x.PublicIPs, x.EIP = nil, ""
		})
		s.Sync()
		noLoss(t, w, before, hosts)
		if d := w.counters().sub(before); d.writes != 0 {
			t.Errorf("JumpServer changed by %s; want nothing", d)
		}
		w.HWInv.Update(in.ID, func(x *cloudinv.Instance) { *x = *in })
	})

	t.Run("stopped instance is kept", func(t *testing.T) {
		hosts, before := activeHosts(w), w.counters()
		in := pickMapped(t, w.AliInv, "cn-beijing", 2, 1)[0]
		w.AliInv.SetState(in.ID, cloudinv.Stopped)
		s.Sync()
		noLoss(t, w, before, hosts)
		if d := w.counters().sub(before); d.writes != 0 {
			t.Errorf("JumpServer changed by %s; want nothing (SYNC_STOPPED=keep)", d)
		}
		w.CheckHosts(t, s.Expect(w.Names()))
	})

	t.Run("account renamed in the config", func(t *testing.T) {
		hosts, before := activeHosts(w), w.counters()
		sticky := w.Names()
		env = with(env, "JMSSYNC_ALIYUN_ACCOUNTS_0_NAME", "改名后的阿里云")
		s.Restart(env)
		noLoss(t, w, before, hosts)
		d := w.counters().sub(before)
		if d.created != 0 {
			t.Errorf("%d hosts created: the rename duplicated assets", d.created)
		}
		aliyun := 0
		for _, wt := range s.Expect(sticky) {
			if strings.HasPrefix(wt.Node, "/DEFAULT/阿里云/") {
				aliyun++
			}
		}
		if int(d.updated) != aliyun {
			t.Errorf("%d hosts updated; want the %d Aliyun hosts moved into the renamed account's node", d.updated, aliyun)
		}
		if got := len(w.Managed()); got != len(hosts) {
			t.Errorf("%d managed hosts, want %d", got, len(hosts))
		}
		w.CheckHosts(t, s.Expect(sticky))
	})

	t.Run("region removed from the config", func(t *testing.T) {
		hosts, before := activeHosts(w), w.counters()
		removed := map[string]bool{}
		managed := w.Managed()
		for _, in := range w.HWInv.All("cn-east-3") {
			if id := AssetID(asset.HuaweiCloud, in.ID); managed[id].ID != "" {
				removed[id] = true
			}
		}
		env = with(env, "JMSSYNC_HUAWEI_ACCOUNTS_0_REGIONS", "cn-north-4")
		s.Restart(env)
		// The region's instances disappear from the cloud too: still nothing
		// may be deleted, the scope is not configured.
		gone := pickMapped(t, w.HWInv, "cn-east-3", 0, 2)
		for _, in := range gone {
			w.HWInv.Release(in.ID)
		}
		s.Sync()
		noLoss(t, w, before, hosts)
		if d := w.counters().sub(before); d.writes != 0 {
			t.Errorf("JumpServer changed by %s; want nothing (orphaning is recorded in the mirror only)", d)
		}
		orphaned := 0
		for _, e := range s.Mirror() {
			if removed[e.AssetID.String()] {
				if !e.Orphaned || e.Deleted {
					t.Errorf("mirror entry of %s: orphaned %v deleted %v; want orphaned", e.Identity, e.Orphaned, e.Deleted)
				}
				orphaned++
			} else if e.Orphaned {
				t.Errorf("%s orphaned, but its scope is configured", e.Identity)
			}
		}
		if orphaned != len(removed) || orphaned == 0 {
			t.Errorf("%d mirror entries orphaned, want %d", orphaned, len(removed))
		}
		alerts := s.Alerts(events.AlertScopeOrphaned)
		if len(alerts) != 1 || alerts[0].Scope == nil || alerts[0].Scope.Region != "cn-east-3" {
			t.Fatalf("scope_orphaned alerts %+v; want one for cn-east-3", alerts)
		}
		if !strings.Contains(alerts[0].Message, "prune") {
			t.Errorf("the orphan alert does not say how to delete: %q", alerts[0].Message)
		}
		// A restart does not report it again.
		s.Restart(env)
		if n := len(s.Alerts(events.AlertScopeOrphaned)); n != 1 {
			t.Errorf("%d scope_orphaned alerts after a restart, want 1", n)
		}
		noLoss(t, w, before, hosts)
	})
}
