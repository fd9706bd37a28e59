package e2e

import (
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

// TestInstanceLifecycle: rename, re-IP, stop, start and release of
// instances each give exactly the expected change; a released instance is
// deactivated, then deleted only after N passes and the grace period.
func TestInstanceLifecycle(t *testing.T) {
	t.Parallel()
	const grace = 4 * time.Second
	w := NewWorld(t, WorldOptions{PerRegion: 12, Seed: 11})
	s := w.Start(t, with(w.Env(),
		"JMSSYNC_SYNC_STOPPED", "deactivate", // stop and start are visible
		"JMSSYNC_SYNC_ABSENT_PASSES", "2",
		"JMSSYNC_SYNC_DELETE_GRACE", grace.String(),
	), "")
	want := s.Expect(nil)
	w.CheckHosts(t, want)

	inv, region := w.AliInv, "cn-hangzhou"
	picked := pickMapped(t, inv, region, 0, 5)
	renamed, reIPed, stopped, released := picked[0], picked[1], picked[2], picked[3]

	// step applies a change in the cloud, syncs, and checks that
	// JumpServer changed by exactly d and holds exactly the expected hosts.
	step := func(t *testing.T, wantD counters) {
		t.Helper()
		sticky := w.Names()
		before := w.counters()
		s.Sync()
		if d := w.counters().sub(before); d.created != wantD.created || d.updated != wantD.updated || d.deleted != wantD.deleted {
			t.Fatalf("JumpServer changed by %s; want %s", d, wantD)
		}
		w.CheckHosts(t, s.Expect(sticky))
	}
	id := func(in *cloudinv.Instance) string { return AssetID(asset.Aliyun, in.ID) }

	t.Run("rename keeps the sticky name", func(t *testing.T) {
		old := w.Hosts()[id(renamed)].Name
		inv.Rename(renamed.ID, "renamed-in-the-console")
		step(t, counters{}) // the name is set on create only: nothing to write
		if got := w.Hosts()[id(renamed)].Name; got != old {
			t.Fatalf("name %q, want the sticky %q", got, old)
		}
	})

	t.Run("re-IP updates the address", func(t *testing.T) {
		ip, _ := inv.ReIP(reIPed.ID, "")
		step(t, counters{updated: 1})
		if got := w.Hosts()[id(reIPed)].Address; got != ip {
			t.Fatalf("address %s, want %s", got, ip)
		}
	})

	t.Run("stop deactivates", func(t *testing.T) {
		inv.SetState(stopped.ID, cloudinv.Stopped)
		step(t, counters{updated: 1})
		if w.Hosts()[id(stopped)].IsActive {
			t.Fatal("the host of a stopped instance is still active (SYNC_STOPPED=deactivate)")
		}
	})

	t.Run("start activates", func(t *testing.T) {
		inv.SetState(stopped.ID, cloudinv.Running)
		step(t, counters{updated: 1})
		if !w.Hosts()[id(stopped)].IsActive {
			t.Fatal("the host of a started instance is still inactive")
		}
	})

	t.Run("a new instance is created", func(t *testing.T) {
		in := inv.Add(region, "")
		step(t, counters{created: 1})
		if _, ok := w.Hosts()[id(in)]; !ok {
			t.Fatal("no host for the new instance")
		}
	})

	t.Run("release: deactivated after N passes, deleted after the grace", func(t *testing.T) {
		rid := id(released)
		saved := w.Hosts()[rid]
		if !inv.Release(released.ID) {
			t.Fatal("release failed")
		}
		// Pass 1 of 2: absent once, nothing happens.
		before := w.counters()
		s.Sync()
		if d := w.counters().sub(before); d.writes != 0 {
			t.Fatalf("absent from 1 of 2 passes: JumpServer changed by %s; want nothing", d)
		}
		if h, ok := w.Hosts()[rid]; !ok || !h.IsActive {
			t.Fatalf("absent from 1 of 2 passes: host present %v, active %v", ok, h.IsActive)
		}
		// Pass 2 of 2: deactivated, not deleted.
		before = w.counters()
		s.Sync()
		deactivatedAt := time.Now()
		if d := w.counters().sub(before); d.updated != 1 || d.deleted != 0 || d.created != 0 {
			t.Fatalf("absent from 2 of 2 passes: JumpServer changed by %s; want 1 update (deactivate)", d)
		}
		h, ok := w.Hosts()[rid]
		if !ok || h.IsActive {
			t.Fatalf("absent from 2 passes: host present %v, active %v; want present and inactive", ok, h.IsActive)
		}
		if h.Name != saved.Name || h.Address != saved.Address {
			t.Fatalf("deactivation changed more than is_active: %+v", h)
		}
		// Another pass inside the grace period: still there.
		before = w.counters()
		s.Sync()
		if time.Since(deactivatedAt) < grace {
			if d := w.counters().sub(before); d.writes != 0 {
				t.Fatalf("inside the grace period JumpServer changed by %s; want nothing", d)
			}
			if _, ok := w.Hosts()[rid]; !ok {
				t.Fatal("deleted before the grace period ended")
			}
		} else {
			t.Logf("the pass inside the grace period came too late (%s) to be checked", time.Since(deactivatedAt))
		}
		time.Sleep(time.Until(deactivatedAt.Add(grace)))
		// After the grace period: the next pass deletes it.
		before = w.counters()
		s.Sync()
		if d := w.counters().sub(before); d.deleted != 1 || d.created != 0 || d.updated != 0 {
			t.Fatalf("after the grace period JumpServer changed by %s; want 1 deletion", d)
		}
		if _, ok := w.Hosts()[rid]; ok {
			t.Fatal("the released instance's host is still there after N passes and the grace period")
		}
		w.CheckHosts(t, s.Expect(w.Names()))
	})
}
