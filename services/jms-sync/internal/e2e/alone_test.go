package e2e

import (
	"reflect"
	"strings"
	"testing"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// TestLeftAlone: a hand-made host under the same node (even one carrying
// jms-sync's labels), a protected IP and no_delete are left alone; two instances with the same name sync with
// distinct deterministic names; a host deleted by hand is recreated.
func TestLeftAlone(t *testing.T) {
	t.Parallel()
	w := NewWorld(t, WorldOptions{PerRegion: 12, Seed: 41})
	inv, region := w.AliInv, "cn-hangzhou"
	mapped := pickMapped(t, inv, region, 0, 6)
	clash, protected, plain, byHand := mapped[0], mapped[1], mapped[2], mapped[3]
	dbClash := pickMapped(t, w.HWInv, "cn-north-4", 0, 1)[0]

	// Same-name instances, listed in one pass (so decided in one cycle).
	twins := []*cloudinv.Instance{inv.Add(region, "twin-web"), inv.Add(region, "twin-web"), inv.Add(region, "twin-web")}

	// What people made by hand before jms-sync ran: a host in jms-sync's
	// node with the name and address of an instance, and a database with
	// the name of another instance (names are unique across asset types).
	node := "/DEFAULT/阿里云/" + aliAccountName
	if err := w.JMS.Seed(jmssim.Seed{Assets: []jmssim.SeedAsset{
		{Name: clash.Name, Address: clash.PrivateIPs()[0], Nodes: []string{node}, Comment: "made by hand", Labels: []string{"owner:ops"}},
		{Name: dbClash.Name, Address: "10.99.0.1", Platform: "MySQL", Comment: "a database"},
		// Someone copied jms-sync's labels onto a host of their own: it is
		// in no pass, but it has no mirror entry, so it is not jms-sync's.
		{Name: "copied-labels", Address: "10.99.0.2", Nodes: []string{node},
			Labels: []string{"jmssync:" + installID, "jmssync-provider:aliyun", "jmssync-account:" + aliAccountID, "jmssync-region:" + region}},
	}}); err != nil {
		t.Fatal(err)
	}
	handMade := map[string]jmssim.AssetState{}
	w.Foreign = map[string]bool{}
	for id, h := range w.Hosts() {
		handMade[id] = h
		if h.Name == "copied-labels" {
			w.Foreign[id] = true
		}
	}
	reserved := map[string]string{}
	for id, h := range handMade {
		reserved[id] = h.Name
	}

	env := with(hairTrigger(w.Env()), "JMSSYNC_SYNC_PROTECTED_IPS", protected.PrivateIPs()[0]+",192.0.2.0/24")
	s := w.Start(t, env, "")
	want := s.Expect(reserved)
	w.CheckHosts(t, want)

	handUntouched := func(t *testing.T) {
		t.Helper()
		now := w.Hosts()
		for id, h := range handMade {
			got, ok := now[id]
			if !ok {
				t.Fatalf("hand-made asset %q was deleted", h.Name)
			}
			got.Updated = h.Updated
			if !reflect.DeepEqual(got, h) {
				t.Fatalf("hand-made asset changed:\n got %+v\nwant %+v", got, h)
			}
		}
	}

	t.Run("hand-made host under the same node", func(t *testing.T) {
		handUntouched(t)
		for _, in := range []struct {
			p  asset.Provider
			in *cloudinv.Instance
		}{{asset.Aliyun, clash}, {asset.HuaweiCloud, dbClash}} {
			h := w.Hosts()[AssetID(in.p, in.in.ID)]
			if wantName := in.in.Name + "-" + in.in.ID[len(in.in.ID)-6:]; h.Name != wantName {
				t.Errorf("host of %s named %q; want %q (its name is taken by a hand-made asset)", in.in.ID, h.Name, wantName)
			}
		}
	})

	t.Run("same name, distinct deterministic names", func(t *testing.T) {
		hosts := w.Hosts()
		names := map[string]bool{}
		plainName := 0
		for _, in := range twins {
			h, ok := hosts[AssetID(asset.Aliyun, in.ID)]
			if !ok {
				t.Fatalf("no host for %s", in.ID)
			}
			names[h.Name] = true
			switch h.Name {
			case "twin-web":
				plainName++
			case "twin-web-" + in.ID[len(in.ID)-6:]:
			default:
				t.Errorf("host of %s named %q: neither the name nor the name with the end of its id", in.ID, h.Name)
			}
		}
		if len(names) != 3 || plainName != 1 {
			t.Fatalf("names %v: want 3 distinct, one of them the plain name", names)
		}
		// Deterministic: the name goes to the lowest identity, whatever the
		// listing order.
		first := twins[0]
		for _, in := range twins[1:] {
			if in.ID < first.ID {
				first = in
			}
		}
		if got := hosts[AssetID(asset.Aliyun, first.ID)].Name; got != "twin-web" {
			t.Fatalf("the lowest identity %s got %q, want the plain name", first.ID, got)
		}
	})

	t.Run("protected IP", func(t *testing.T) {
		before := w.counters()
		inv.Release(protected.ID)
		inv.Release(plain.ID)
		s.Sync()
		s.Sync()
		if d := w.counters().sub(before); d.deleted != 1 {
			t.Fatalf("JumpServer changed by %s; want the unprotected host deleted, only", d)
		}
		h, ok := w.Hosts()[AssetID(asset.Aliyun, protected.ID)]
		if !ok || !h.IsActive {
			t.Fatalf("protected host: present %v active %v; want it left alone", ok, h.IsActive)
		}
		if _, ok := w.Hosts()[AssetID(asset.Aliyun, plain.ID)]; ok {
			t.Fatal("the unprotected released host is still there")
		}
		handUntouched(t)
	})

	t.Run("host deleted by hand is recreated", func(t *testing.T) {
		hid := AssetID(asset.Aliyun, byHand.ID)
		old := w.Hosts()[hid]
		w.Hand(t, "DELETE", "/api/v1/assets/hosts/"+hid+"/", nil)
		s.Rebuild() // the applier notices (hourly in production)
		before := w.counters()
		s.Sync()
		if d := w.counters().sub(before); d.created != 1 || d.deleted != 0 {
			t.Fatalf("JumpServer changed by %s; want the host recreated", d)
		}
		h, ok := w.Hosts()[hid]
		if !ok || h.Name != old.Name || h.Address != old.Address || !reflect.DeepEqual(h.Nodes, old.Nodes) {
			t.Fatalf("recreated host %+v; want it as it was %+v", h, old)
		}
		handUntouched(t)
	})

	t.Run("no_delete", func(t *testing.T) {
		s.Restart(with(env, "JMSSYNC_SYNC_NO_DELETE", "true"))
		victim := pickMapped(t, inv, "cn-beijing", 0, 1)[0]
		vid := AssetID(asset.Aliyun, victim.ID)
		before := w.counters()
		inv.Release(victim.ID)
		for range 3 {
			s.Sync()
		}
		if d := w.counters().sub(before); d.deleted != 0 {
			t.Fatalf("%d deletions with no_delete", d.deleted)
		}
		h, ok := w.Hosts()[vid]
		if !ok {
			t.Fatal("the released host was deleted with no_delete")
		}
		// no_delete keeps the asset; the absent instance is deactivated, as
		// plan.Policy.NoDelete documents (reversible, nothing lost).
		if h.IsActive {
			t.Errorf("absent host with no_delete is active; the documented behaviour deactivates it")
		}
		if strings.TrimSpace(h.Name) == "" {
			t.Fatal("host without a name")
		}
		handUntouched(t)
	})
}
