package jumpserver

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

func linuxID(t *testing.T, c *Client) int {
	t.Helper()
	p, err := c.Platform(t.Context(), "Linux")
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func TestCreateHostsInBatches(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	c, _ := startedClient(t, s, func(c *Config) { c.BatchSize = 100 })
	node, err := c.EnsureNodePath(t.Context(), "/DEFAULT/阿里云/acct")
	if err != nil {
		t.Fatal(err)
	}
	hosts := hostsFor(1000, 0, "web", linuxID(t, c))
	for i := range hosts {
		hosts[i].NodeIDs = []string{node.ID}
	}
	res := c.CreateHosts(t.Context(), hosts)
	mustStatus(t, res, ItemCreated)
	// 1000 hosts, batches of at most 100, spread evenly over the workers.
	if n, want := count(s, "POST /api/v1/assets/hosts/"), int64(4*((1000+4*100-1)/(4*100))); c.cfg.Concurrency != 4 || n != want {
		t.Fatalf("%d POSTs, want %d (concurrency %d)", n, want, c.cfg.Concurrency)
	}
	for i, r := range res {
		if r.ID != hosts[i].ID || r.Host == nil || r.Host.ID != hosts[i].ID || r.Host.Name != hosts[i].Name {
			t.Fatalf("item %d: %+v", i, r)
		}
		st := State(*r.Host)
		if len(st.Nodes) != 1 || st.Nodes[0] != "/DEFAULT/阿里云/acct" || len(st.Protocols) != 1 {
			t.Fatalf("state %+v", st)
		}
	}
	if got := s.AssetCount(""); got != 1000 {
		t.Fatalf("%d assets", got)
	}
	a, ok := s.Asset(hosts[7].ID)
	if !ok || a.Name != hosts[7].Name || len(a.Labels) != 1 || a.Labels[0] != "jmssync:test" {
		t.Fatalf("asset %+v", a)
	}
	// again: every id is taken, nothing is created twice
	res = c.CreateHosts(t.Context(), hosts[:150])
	mustStatus(t, res, ItemAlreadyExists)
	if res[3].Host == nil || res[3].Host.ID != hosts[3].ID || !errors.Is(res[3].Err, ErrAlreadyExists) {
		t.Fatalf("already exists: %+v", res[3])
	}
	if got := s.AssetCount(""); got != 1000 {
		t.Fatalf("%d assets after the repeat", got)
	}
}

func TestCreateHostsDropsTheBadItem(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	c, _ := startedClient(t, s, func(c *Config) { c.BatchSize = 100 })
	hosts := hostsFor(1000, 0, "web", linuxID(t, c))
	mysql, err := c.Platform(t.Context(), "MySQL")
	if err != nil {
		t.Fatal(err)
	}
	hosts[437].PlatformID = mysql.ID // a database platform on /hosts/: refused by the server
	res := c.CreateHosts(t.Context(), hosts)
	counts := statusCounts(res)
	if counts[ItemCreated] != 999 || counts[ItemFailed] != 1 {
		t.Fatalf("statuses %v", counts)
	}
	bad := res[437]
	var e *Error
	if bad.Status != ItemFailed || !errors.As(bad.Err, &e) || e.Kind != KindValidation || e.Status != 400 ||
		len(e.Fields["platform"]) != 1 || !strings.Contains(e.Fields["platform"][0], "MySQL") {
		t.Fatalf("bad item: %+v (%v)", bad, bad.Err)
	}
	if IsTransient(bad.Err) || IsGlobal(bad.Err) {
		t.Fatalf("a validation error is permanent and local: %v", bad.Err)
	}
	size := batchSize(1000, 100, c.cfg.Concurrency)
	if n, want := count(s, "POST /api/v1/assets/hosts/"), int64((1000+size-1)/size+1); n != want {
		t.Fatalf("%d POSTs, want %d (batches of %d, the refused one resent once)", n, want, size)
	}
	if s.AssetCount("") != 999 {
		t.Fatalf("%d assets", s.AssetCount(""))
	}
}

func TestCreateHostsBisectsA500(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	if err := s.Seed(jmssim.Seed{Assets: []jmssim.SeedAsset{{Name: "web-0042", Address: "10.9.9.9", Platform: "MySQL"}}}); err != nil {
		t.Fatal(err)
	}
	var changes []BreakerState
	c, _ := startedClient(t, s, func(c *Config) {
		c.BatchSize = 100
		c.Breaker.Failures = 3
		c.OnStateChange = func(_, to BreakerState) { changes = append(changes, to) }
	})
	hosts := hostsFor(100, 0, "web", linuxID(t, c))
	res := c.CreateHosts(t.Context(), hosts)
	counts := statusCounts(res)
	if counts[ItemCreated] != 99 || counts[ItemFailed] != 1 {
		t.Fatalf("statuses %v", counts)
	}
	bad := res[42]
	var e *Error
	if !errors.As(bad.Err, &e) || e.Kind != KindConflict || !strings.Contains(strings.Join(e.Fields["name"], ""), "database") {
		t.Fatalf("clashing item: %+v (%v)", bad, bad.Err)
	}
	if len(changes) != 0 || c.BreakerState() != BreakerClosed {
		t.Fatalf("one bad item tripped the breaker: %v", changes)
	}
	if s.AssetCount("") != 100 { // 99 hosts + the database
		t.Fatalf("%d assets", s.AssetCount(""))
	}
	t.Logf("POSTs while bisecting 100 items: %d", count(s, "POST /api/v1/assets/hosts/"))
}

func TestCreateHostsReadsByIDAfterALostResponse(t *testing.T) {
	for _, action := range []string{"hang", "close"} {
		t.Run(action, func(t *testing.T) {
			s := startSim(t, jmssim.Options{Knobs: jmssim.Knobs{DropAction: action}})
			c, _ := startedClient(t, s, func(c *Config) { c.BatchSize = 10; c.Timeout = 500 * time.Millisecond })
			hosts := hostsFor(25, 0, "web", linuxID(t, c))
			s.DropNextWrites(1) // the first batch commits, its answer never arrives
			res := c.CreateHosts(t.Context(), hosts)
			mustStatus(t, res, ItemCreated)
			for _, r := range res {
				if r.Host == nil {
					t.Fatalf("no host for %s", r.ID)
				}
			}
			if s.AssetCount("") != 25 || s.Counters().Dropped != 1 {
				t.Fatalf("%d assets, %d dropped", s.AssetCount(""), s.Counters().Dropped)
			}
			if n := count(s, "POST /api/v1/assets/hosts/"); n != 3 {
				t.Fatalf("%d POSTs: the lost batch was resent", n)
			}
		})
	}
}

func TestCreateHostsCapIsGlobal(t *testing.T) {
	for _, v := range []string{jmssim.V410, jmssim.V47} {
		t.Run(v, func(t *testing.T) {
			s := startSim(t, jmssim.Options{Version: v, Knobs: jmssim.Knobs{AssetCap: 50}})
			if err := s.Seed(jmssim.Seed{Generate: []jmssim.SeedGenerate{{Count: 45}}}); err != nil {
				t.Fatal(err)
			}
			c, _ := startedClient(t, s, func(c *Config) { c.BatchSize = 10; c.Concurrency = 1 })
			res := c.CreateHosts(t.Context(), hostsFor(40, 0, "web", linuxID(t, c)))
			counts := statusCounts(res)
			// the server checks the count before a batch: 45 < 50 lets one batch through
			if counts[ItemCreated] != 10 || counts[ItemFailed] != 30 {
				t.Fatalf("statuses %v", counts)
			}
			err := res[39].Err
			if !errors.Is(err, ErrCap) || KindOf(err) != KindCap || !IsGlobal(err) {
				t.Fatalf("cap: %v", err)
			}
			if n := count(s, "POST /api/v1/assets/hosts/"); n != 2 {
				t.Fatalf("%d POSTs: creates went on after the cap", n)
			}
		})
	}
}

func TestCreateHostsLocalChecks(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	c, _ := startedClient(t, s, nil)
	hosts := hostsFor(5, 0, "web", linuxID(t, c))
	hosts[1].ID = "not-a-uuid"
	hosts[2].Name = strings.ToUpper(hosts[0].Name) // a duplicate name (case-insensitive)
	hosts[3].Labels = []events.Label{{Name: "a:b", Value: "c"}}
	hosts[4].Protocols = nil
	res := c.CreateHosts(t.Context(), hosts)
	if res[0].Status != ItemCreated {
		t.Fatalf("item 0: %+v", res[0])
	}
	for i, k := range map[int]Kind{1: KindValidation, 2: KindConflict, 3: KindValidation, 4: KindValidation} {
		if res[i].Status != ItemFailed || KindOf(res[i].Err) != k {
			t.Fatalf("item %d: %+v", i, res[i])
		}
	}
	if n := count(s, "POST /api/v1/assets/hosts/"); n != 1 {
		t.Fatalf("%d POSTs", n)
	}
}

func TestCreateHostsIDTakenInsideABatch(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	taken := assetID(3)
	if err := s.Seed(jmssim.Seed{Assets: []jmssim.SeedAsset{{ID: taken, Name: "hand-made", Address: "10.8.8.8"}}}); err != nil {
		t.Fatal(err)
	}
	c, _ := startedClient(t, s, nil)
	res := c.CreateHosts(t.Context(), hostsFor(10, 0, "web", linuxID(t, c)))
	counts := statusCounts(res)
	if counts[ItemCreated] != 9 || res[3].Status != ItemAlreadyExists || res[3].Host == nil || res[3].Host.Name != "hand-made" {
		t.Fatalf("statuses %v, item 3 %+v", counts, res[3])
	}
	if res[3].Host.HasLabel("jmssync", "test") {
		t.Fatal("the existing asset is not ours; the caller must be able to tell")
	}
}

// PATCH keeps operator labels and extra nodes through the merge helpers.
func TestPatchHostsKeepsOperatorLabelsAndNodes(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	ids := []string{assetID(1), assetID(2)}
	err := s.Seed(jmssim.Seed{Assets: []jmssim.SeedAsset{
		{ID: ids[0], Name: "web-1", Address: "10.0.0.1", Nodes: []string{"/DEFAULT/阿里云/old", "/DEFAULT/ops"},
			Labels: []string{"jmssync:i1", "jmssync-region:cn-1", "env:prod"}},
		{ID: ids[1], Name: "web-2", Address: "10.0.0.2", Nodes: []string{"/DEFAULT/阿里云/old"},
			Labels: []string{"jmssync:i1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := startedClient(t, s, nil)
	ctx := t.Context()
	oldNode, _ := c.EnsureNodePath(ctx, "/DEFAULT/阿里云/old")
	newNode, err := c.EnsureNodePath(ctx, "/DEFAULT/阿里云/new")
	if err != nil {
		t.Fatal(err)
	}
	ours := []events.Label{{Name: "jmssync", Value: "i1"}, {Name: "jmssync-region", Value: "cn-2"}}
	var patches []HostPatch
	found, err := c.GetHosts(ctx, ids)
	if err != nil || len(found) != 2 {
		t.Fatal(found, err)
	}
	for _, id := range ids {
		h := found[id]
		labels := MergeLabels(h.LabelPairs(), ours, "jmssync")
		nodes := MergeNodes(h.NodeIDs(), newNode.ID, oldNode.ID)
		addr := "192.168.0." + id[:1]
		patches = append(patches, HostPatch{ID: id, Address: &addr, Labels: &labels, NodeIDs: &nodes})
	}
	patches = append(patches, HostPatch{ID: assetID(9)}) // nothing to change: not sent
	res := c.PatchHosts(ctx, patches)
	mustStatus(t, res[:2], ItemUpdated)
	if res[2].Status != ItemUnchanged {
		t.Fatalf("empty patch: %+v", res[2])
	}
	a, _ := s.Asset(ids[0])
	if strings.Join(a.Labels, ",") != "env:prod,jmssync:i1,jmssync-region:cn-2" &&
		!sameSet(a.Labels, []string{"env:prod", "jmssync:i1", "jmssync-region:cn-2"}) {
		t.Fatalf("labels %v", a.Labels)
	}
	if !sameSet(a.Nodes, []string{"/DEFAULT/ops", "/DEFAULT/阿里云/new"}) || !a.IsActive {
		t.Fatalf("nodes %v active %v", a.Nodes, a.IsActive)
	}
	st := State(*res[0].Host)
	if st.Address != a.Address || len(st.Labels) != 3 || st.Labels[0].Name != "env" || len(st.Nodes) != 2 {
		t.Fatalf("state %+v", st)
	}
	if n := count(s, "PATCH /api/v1/assets/hosts/"); n != 1 {
		t.Fatalf("%d bulk PATCHes", n)
	}

	// one unknown id in a batch: dropped as not found, the other lands
	active := false
	res = c.PatchHosts(ctx, []HostPatch{{ID: ids[1], IsActive: &active}, {ID: assetID(99), IsActive: &active}})
	if res[0].Status != ItemUpdated || res[1].Status != ItemFailed || !IsNotFound(res[1].Err) {
		t.Fatalf("results %+v", res)
	}
	if a, _ := s.Asset(ids[1]); a.IsActive {
		t.Fatal("not deactivated")
	}

	// single PATCH
	zero := []string{}
	if _, err := c.PatchHost(ctx, HostPatch{ID: ids[1], NodeIDs: &zero}); !errors.Is(err, ErrValidation) {
		t.Fatalf("an empty node set must be refused: %v", err)
	}
	addr := "172.16.0.9"
	h, err := c.PatchHost(ctx, HostPatch{ID: ids[1], Address: &addr})
	if err != nil || h.Address != addr || h.IsActive {
		t.Fatalf("%+v %v", h, err)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func TestZoneAndDomain(t *testing.T) {
	for _, tc := range []struct{ version, field string }{{jmssim.V410, "zone"}, {jmssim.V47, "domain"}} {
		t.Run(tc.version, func(t *testing.T) {
			s := startSim(t, jmssim.Options{Version: tc.version})
			c, _ := startedClient(t, s, nil)
			ctx := t.Context()
			if _, err := c.Zone(ctx, "dmz"); !errors.Is(err, ErrZoneNotFound) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("missing zone: %v", err)
			}
			z, err := c.EnsureZone(ctx, "dmz")
			if err != nil || z.Name != "dmz" {
				t.Fatalf("%+v %v", z, err)
			}
			if z2, err := c.EnsureZone(ctx, "dmz"); err != nil || z2.ID != z.ID {
				t.Fatalf("second ensure %+v %v", z2, err)
			}
			if zs := orgState(t, s, DefaultOrgID).Zones; len(zs) != 1 {
				t.Fatalf("zones %v", zs)
			}
			hosts := hostsFor(3, 0, "gw", linuxID(t, c))
			hosts[0].ZoneID = z.ID
			res := c.CreateHosts(ctx, hosts)
			mustStatus(t, res, ItemCreated)
			if res[0].Host.Zone == nil || res[0].Host.Zone.ID != z.ID || State(*res[0].Host).Zone != "dmz" {
				t.Fatalf("zone not set: %+v", res[0].Host)
			}
			if a, _ := s.Asset(hosts[0].ID); a.Zone != "dmz" {
				t.Fatalf("sim asset zone %q", a.Zone)
			}
			// clear it with a PATCH
			none := ""
			h, err := c.PatchHost(ctx, HostPatch{ID: hosts[0].ID, ZoneID: &none})
			if err != nil || h.Zone != nil {
				t.Fatalf("%+v %v", h, err)
			}
			if z := EffectiveZone(Platform{GatewayEnabled: false}, "dmz"); z != "" {
				t.Fatal(z)
			}
		})
	}
}

func TestCreateHostsWithAccountTemplates(t *testing.T) {
	for _, v := range []string{jmssim.V410, jmssim.V47} {
		t.Run(v, func(t *testing.T) {
			s := startSim(t, jmssim.Options{Version: v})
			if err := s.Seed(jmssim.Seed{Templates: []jmssim.SeedTemplate{{Name: "root", Username: "root", Secret: "pw"}}}); err != nil {
				t.Fatal(err)
			}
			c, _ := startedClient(t, s, nil)
			tm, err := c.AccountTemplate(t.Context(), "root")
			if err != nil {
				t.Fatal(err)
			}
			hosts := hostsFor(20, 0, "web", linuxID(t, c))
			for i := range hosts {
				hosts[i].AccountTemplateIDs = []string{tm.ID}
			}
			res := c.CreateHosts(t.Context(), hosts)
			mustStatus(t, res, ItemCreated)
			for _, r := range res {
				if r.AccountsErr != nil {
					t.Fatalf("accounts: %v", r.AccountsErr)
				}
				a, _ := s.Asset(r.ID)
				if len(a.Accounts) != 1 || !strings.Contains(a.Accounts[0], "root(root) template") {
					t.Fatalf("accounts %v", a.Accounts)
				}
			}
			// EnsureAccounts is idempotent
			if err := c.EnsureAccounts(t.Context(), hosts[0].ID, []string{tm.ID}); err != nil {
				t.Fatal(err)
			}
			if a, _ := s.Asset(hosts[0].ID); len(a.Accounts) != 1 {
				t.Fatalf("accounts after ensure %v", a.Accounts)
			}
			if v == jmssim.V47 && count(s, "POST /api/v1/accounts/accounts/") != 21 {
				t.Fatalf("4.7: %d account POSTs", count(s, "POST /api/v1/accounts/accounts/"))
			}
		})
	}
}

func TestPatchHostsResendsAfterALostResponse(t *testing.T) {
	s := startSim(t, jmssim.Options{Knobs: jmssim.Knobs{DropAction: "close"}})
	c, _ := startedClient(t, s, nil)
	mustStatus(t, c.CreateHosts(t.Context(), hostsFor(5, 0, "web", linuxID(t, c))), ItemCreated)
	addr := "10.200.0.1"
	var patches []HostPatch
	for _, h := range hostsFor(5, 0, "web", 1) {
		patches = append(patches, HostPatch{ID: h.ID, Address: &addr})
	}
	s.DropNextWrites(1)
	res := c.PatchHosts(t.Context(), patches)
	mustStatus(t, res, ItemUpdated)
	if n := count(s, "PATCH /api/v1/assets/hosts/"); n != 2 {
		t.Fatalf("%d PATCHes, want 2 (one lost, one resent)", n)
	}
	if a, _ := s.Asset(patches[4].ID); a.Address != addr {
		t.Fatalf("address %q", a.Address)
	}
}

func TestConcurrencyAndRateAreBounded(t *testing.T) {
	s := startSim(t, jmssim.Options{Knobs: jmssim.Knobs{Latency: 20 * time.Millisecond}})
	c, _ := startedClient(t, s, func(c *Config) { c.Concurrency = 2; c.BatchSize = 5 })
	mustStatus(t, c.CreateHosts(t.Context(), hostsFor(60, 0, "web", linuxID(t, c))), ItemCreated)
	if m := s.Counters().MaxInFlight; m > 2 {
		t.Fatalf("%d requests in flight, want at most 2", m)
	}

	slow, _ := startedClient(t, s, func(c *Config) { c.RatePerSecond = 20; c.Burst = 1 })
	start := time.Now()
	for range 10 {
		_, _ = slow.GetHost(t.Context(), assetID(0))
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("10 calls at 20/s took %s", d)
	}
}
