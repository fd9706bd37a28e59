package cloudinv

import (
	"testing"
)

func TestNewIsDeterministicAndHasEdgeCases(t *testing.T) {
	spec := Spec{Provider: Aliyun, Seed: 7, Regions: []string{"cn-hangzhou", "cn-beijing"}, PerRegion: 400}
	a, b := New(spec), New(spec)
	la, lb := a.All(""), b.All("")
	if len(la) != 800 || len(lb) != 800 {
		t.Fatalf("got %d and %d instances, want 800", len(la), len(lb))
	}
	ids := map[string]bool{}
	ips := map[string]bool{}
	var windows, stopped, noIP, chinese, multiNIC, eipAndPublic, twin int
	names := map[string]int{}
	for i := range la {
		if la[i].ID != lb[i].ID || la[i].Name != lb[i].Name || la[i].EIP != lb[i].EIP {
			t.Fatalf("instance %d differs between two inventories of one seed", i)
		}
		in := la[i]
		if ids[in.ID] {
			t.Fatalf("duplicate id %s", in.ID)
		}
		ids[in.ID] = true
		for _, ip := range in.PrivateIPs() {
			if ips[ip] {
				t.Fatalf("duplicate private ip %s", ip)
			}
			ips[ip] = true
		}
		names[in.Name]++
		if in.OSType == "windows" {
			windows++
		}
		if in.State == Stopped {
			stopped++
		}
		if len(in.PrivateIPs()) == 0 {
			noIP++
		}
		if len(in.NICs) > 1 {
			multiNIC++
		}
		if in.EIP != "" && len(in.PublicIPs) > 0 {
			eipAndPublic++
		}
		if in.OSType == "linux" && (in.Name[:3] == "twi" || in.Name[:3] == "win") {
			twin++
		}
		for _, r := range in.Name {
			if r > 127 {
				chinese++
				break
			}
		}
	}
	dups := 0
	for _, n := range names {
		if n > 1 {
			dups++
		}
	}
	for what, n := range map[string]int{"windows": windows, "stopped": stopped, "no private ip": noIP,
		"chinese name": chinese, "multi nic": multiNIC, "eip+public": eipAndPublic, "linux named *win*": twin, "duplicate names": dups} {
		if n == 0 {
			t.Errorf("no instance with %s", what)
		}
	}
	if New(Spec{Provider: Aliyun, Seed: 8, Regions: []string{"cn-hangzhou"}, PerRegion: 1}).All("")[0].ID == la[0].ID {
		t.Error("a different seed gave the same first id")
	}
}

func TestHuaweiIDsAreUUIDs(t *testing.T) {
	inv := New(Spec{Provider: Huawei, Seed: 1, Regions: []string{"cn-north-4"}, PerRegion: 3})
	for _, in := range inv.All("") {
		if len(in.ID) != 36 || in.ID[8] != '-' || in.ID[14] != '4' {
			t.Fatalf("id %q is not a v4 UUID", in.ID)
		}
	}
}

func TestMutations(t *testing.T) {
	inv := New(Spec{Provider: Aliyun, Seed: 1, Regions: []string{"r1"}, PerRegion: 5})
	id, _ := inv.Pick("r1", 2)
	if !inv.Rename(id, "新名字") {
		t.Fatal("rename failed")
	}
	if in, _ := inv.Get(id); in.Name != "新名字" || in.HostName == "" {
		t.Fatalf("rename gave %+v", in)
	}
	inv.SetState(id, Stopped)
	ip, _ := inv.ReIP(id, "")
	in, _ := inv.Get(id)
	if in.State != Stopped || in.PrivateIPs()[0] != ip {
		t.Fatalf("state %s ip %v, want stopped and %s", in.State, in.PrivateIPs(), ip)
	}
	added := inv.Add("r2", "new-one")
	if !inv.HasRegion("r2") || inv.Count("r2") != 1 || added.Name != "new-one" {
		t.Fatal("add to a new region failed")
	}
	if !inv.Release(id) || inv.Release(id) || inv.Count("r1") != 4 {
		t.Fatal("release failed or released twice")
	}
	// Copies are returned: changing one does not change the inventory.
	c, _ := inv.Get(added.ID)
	c.Name = "changed"
	if again, _ := inv.Get(added.ID); again.Name != "new-one" {
		t.Fatal("Get returned shared state")
	}
}

func TestFaultsAndChurn(t *testing.T) {
	inv := New(Spec{Provider: Aliyun, Seed: 1, Regions: []string{"r1", "r2"}, PerRegion: 10})
	inv.SetFaults(Faults{
		FailRegions: map[string]bool{"r2": true}, FailPage: 3, FailPageRegion: "r1", ThrottleEvery: 4,
		Churn: []Churn{{Region: "r1", AfterPage: 1, Release: true, Create: true}},
	})
	first, _ := inv.Pick("r1", 0)
	want := []FaultKind{NoFault, NoFault, PageFailed, Throttled}
	for page := 1; page <= 4; page++ {
		if k, _ := inv.BeforeList("r1", page); k != want[page-1] {
			t.Errorf("page %d: %v, want %v", page, k, want[page-1])
		}
		inv.AfterList("r1", page)
	}
	if k, _ := inv.BeforeList("r2", 1); k != RegionDown {
		t.Errorf("r2: %v, want region-down", k)
	}
	if _, ok := inv.Get(first); ok || inv.Count("r1") != 10 || inv.ChurnDone() != 1 {
		t.Fatalf("churn: first still there=%v count=%d", ok, inv.Count("r1"))
	}
}
