package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// TestFourThousandInstances: 4,000 instances over 2 clouds × 2 regions end
// as exactly the expected hosts; a second cycle makes zero JumpServer
// writes; drift made by hand on an owned field is corrected, on an unowned
// one kept.
func TestFourThousandInstances(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("4,000 instances: skipped with -short")
	}
	start := time.Now()
	w := NewWorld(t, WorldOptions{PerRegion: 1000})
	// A longer debounce so the four passes of a collector cycle are decided
	// together, as in production.
	s := w.Start(t, with(w.Env(), "JMSSYNC_RECONCILE_DEBOUNCE", "1s"), "")
	want := s.Expect(nil)
	if len(want) < 3500 || len(want) > 4000 {
		t.Fatalf("%d hosts expected of 4,000 instances: the inventory is not what the test assumes", len(want))
	}
	w.CheckHosts(t, want)
	t.Logf("first sync of 4,000 instances: %d hosts in %s", len(want), time.Since(start).Round(time.Millisecond))

	t.Run("second cycle makes zero writes", func(t *testing.T) {
		before := w.counters()
		closes := s.Sync()
		for sc, c := range closes {
			if c.Status != events.PassComplete {
				t.Fatalf("pass of %s: %s %s", sc, c.Status, c.Reason)
			}
		}
		if d := w.counters().sub(before); d.writes != 0 {
			t.Fatalf("the second cycle made %s; want none", d)
		}
		w.CheckHosts(t, want)
	})

	t.Run("drift by hand", func(t *testing.T) {
		ids := make([]string, 0, len(want))
		for id, wt := range want {
			if wt.Active {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		hosts := w.Hosts()
		pick := func(i int) jmssim.AssetState { return hosts[ids[i*101]] }
		addrHost, labelHost, nodeHost, platHost, nameHost, offHost := pick(1), pick(2), pick(3), pick(4), pick(5), pick(6)
		if err := w.JMS.Seed(jmssim.Seed{Nodes: []jmssim.SeedNode{{Path: "/DEFAULT/运维"}}}); err != nil {
			t.Fatal(err)
		}
		opsNode := w.NodeID(t, "/DEFAULT/运维")
		ourNode := w.NodeID(t, want[nodeHost.ID].Node)

		// Owned fields: address, our labels, membership in our node, platform.
		w.Hand(t, "PATCH", "/api/v1/assets/hosts/"+addrHost.ID+"/", map[string]any{"address": "192.0.2.10"})
		var labels []string
		for _, l := range labelHost.Labels {
			if !strings.HasPrefix(l, "jmssync-region:") {
				labels = append(labels, l)
			}
		}
		w.Hand(t, "PATCH", "/api/v1/assets/hosts/"+labelHost.ID+"/", map[string]any{"labels": append(labels, "owner:alice")})
		w.Hand(t, "PATCH", "/api/v1/assets/hosts/"+nodeHost.ID+"/", map[string]any{"nodes": []string{opsNode}})
		w.Hand(t, "PATCH", "/api/v1/assets/hosts/"+platHost.ID+"/", map[string]any{"platform": w.PlatformID(t, "Unix")})
		// Unowned: the name (sticky), the comment, is_active set by a person.
		w.Hand(t, "PATCH", "/api/v1/assets/hosts/"+nameHost.ID+"/", map[string]any{"name": "named-by-hand", "comment": "kept by hand"})
		w.Hand(t, "PATCH", "/api/v1/assets/hosts/"+offHost.ID+"/", map[string]any{"is_active": false})

		s.Rebuild() // the applier re-reads JumpServer (hourly in production)
		before := w.counters()
		s.Sync()
		d := w.counters().sub(before)
		if d.updated != 4 || d.created != 0 || d.deleted != 0 {
			t.Errorf("correcting 4 drifted hosts made %s; want exactly 4 updated", d)
		}

		after := w.Hosts()
		if h := after[addrHost.ID]; h.Address != want[addrHost.ID].Address {
			t.Errorf("address drift not corrected: %s, want %s", h.Address, want[addrHost.ID].Address)
		}
		if h := after[labelHost.ID]; !slices.Contains(h.Labels, "owner:alice") || !slices.ContainsFunc(h.Labels, func(l string) bool {
			return strings.HasPrefix(l, "jmssync-region:")
		}) {
			t.Errorf("labels %v: want our region label back and the operator's owner:alice kept", h.Labels)
		}
		if h := after[nodeHost.ID]; !slices.Contains(h.Nodes, "/DEFAULT/运维") || !slices.Contains(h.Nodes, want[nodeHost.ID].Node) {
			t.Errorf("nodes %v: want our node %s back and /DEFAULT/运维 kept (node id %s)", h.Nodes, want[nodeHost.ID].Node, ourNode)
		}
		if h := after[platHost.ID]; h.Platform != want[platHost.ID].Platform {
			t.Errorf("platform drift not corrected: %s, want %s", h.Platform, want[platHost.ID].Platform)
		}
		if h := after[nameHost.ID]; h.Name != "named-by-hand" || h.Comment != "kept by hand" {
			t.Errorf("unowned fields overwritten: name %q comment %q", h.Name, h.Comment)
		}
		if h := after[offHost.ID]; h.IsActive {
			t.Error("a host deactivated by hand was activated again")
		}
		want[nameHost.ID].Name = "named-by-hand"
		want[offHost.ID].Active = false
		w.CheckHosts(t, want)
	})
}
