package jumpserver

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

func TestListHostsPagesAtTheCap(t *testing.T) {
	for _, tc := range []struct {
		version string
		limit   string
		pages   int64
	}{
		{jmssim.V410, "1000", 3},
		{jmssim.V47, "10000", 1},
	} {
		t.Run(tc.version, func(t *testing.T) {
			s := startSim(t, jmssim.Options{Version: tc.version})
			err := s.Seed(jmssim.Seed{Generate: []jmssim.SeedGenerate{
				{Count: 2500, Prefix: "h-", Node: "/DEFAULT/阿里云/a", Labels: []string{"jmssync:i1", "env:prod"}},
				{Count: 30, Start: 5000, Prefix: "other-"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := startedClient(t, s, nil)
			before := count(s, "GET /api/v1/assets/hosts/")
			seen := map[string]bool{}
			st, err := c.ListHosts(t.Context(), ListOptions{Labels: []events.Label{{Name: "jmssync", Value: "i1"}}},
				func(hs []Host) error {
					for _, h := range hs {
						if seen[h.ID] || h.Name == "" || h.Address == "" || h.Platform.Name != "Linux" ||
							len(h.NodePaths) != 1 || h.NodePaths[0] != "/DEFAULT/阿里云/a" || !h.HasLabel("env", "prod") {
							t.Fatalf("host %+v", h)
						}
						seen[h.ID] = true
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != 2500 || st.Seen != 2500 || st.Count != 2500 || st.Changed || int64(st.Pages) != tc.pages {
				t.Fatalf("seen %d, stats %+v", len(seen), st)
			}
			if n := count(s, "GET /api/v1/assets/hosts/") - before; n != tc.pages {
				t.Fatalf("%d list requests, want %d", n, tc.pages)
			}
			for _, e := range s.RequestLog() {
				if e.Method != "GET" || e.Path != "/api/v1/assets/hosts/" {
					continue
				}
				q, _ := url.ParseQuery(e.Query)
				if q.Get("limit") != tc.limit || !strings.Contains(q.Get("fields"), "nodes_display") ||
					strings.Contains(q.Get("fields"), "gathered_info") {
					t.Fatalf("query %s", e.Query)
				}
			}

			// under a node: checked to exist first (an unknown node lists the org)
			node, err := c.EnsureNodePath(t.Context(), "/DEFAULT/阿里云/a")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			if _, err := c.ListHosts(t.Context(), ListOptions{NodeID: node.ID, Fields: []string{"id"}},
				func(hs []Host) error { n += len(hs); return nil }); err != nil || n != 2500 {
				t.Fatalf("under node: %d %v", n, err)
			}
			_, err = c.ListHosts(t.Context(), ListOptions{NodeID: "0b0b0b0b-1111-4222-8333-444455556666"},
				func([]Host) error { t.Fatal("listed under an unknown node"); return nil })
			if !IsNotFound(err) {
				t.Fatalf("unknown node: %v", err)
			}
		})
	}
}

func TestGetHostAndDelete(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	id := assetID(1)
	if err := s.Seed(jmssim.Seed{Assets: []jmssim.SeedAsset{{ID: id, Name: "web-1", Address: "10.0.0.1",
		Labels: []string{"jmssync:i1"}}}}); err != nil {
		t.Fatal(err)
	}
	c, _ := startedClient(t, s, nil)
	h, err := c.GetHost(t.Context(), id)
	if err != nil || h.ID != id || h.Name != "web-1" || !h.HasLabel("jmssync", "i1") || h.Category != "host" {
		t.Fatalf("%+v %v", h, err)
	}
	deleted, err := c.DeleteHost(t.Context(), id)
	if err != nil || !deleted {
		t.Fatalf("delete: %v %v", deleted, err)
	}
	h, err = c.GetHost(t.Context(), id)
	if h != nil || !errors.Is(err, ErrNotFound) || IsTransient(err) || IsGlobal(err) {
		t.Fatalf("after delete: %+v %v", h, err)
	}
	deleted, err = c.DeleteHost(t.Context(), id)
	if err != nil || deleted {
		t.Fatalf("delete again: %v %v", deleted, err)
	}
	if _, err := c.GetHost(t.Context(), "../../x"); !errors.Is(err, ErrValidation) {
		t.Fatalf("bad id: %v", err)
	}
}

func TestCountAllAssets(t *testing.T) {
	const extra = "6a1c7b52-0d5e-4e43-8a55-6f0a9d2e1b01"
	for _, tc := range []struct {
		version string
		want    int
		allOrgs bool
	}{
		{jmssim.V410, 70, true}, // 40 hosts + 10 databases here, 20 hosts in the other org
		{jmssim.V47, 40, false}, // 4.7's cap counts the hosts of the current org
	} {
		t.Run(tc.version, func(t *testing.T) {
			s := startSim(t, jmssim.Options{Version: tc.version, Orgs: []jmssim.Org{{ID: extra, Name: "Other"}}})
			err := s.Seed(jmssim.Seed{Generate: []jmssim.SeedGenerate{
				{Count: 40, Prefix: "h-"}, {Count: 10, Prefix: "db-", Platform: "MySQL"}, {Org: extra, Count: 20},
			}})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := startedClient(t, s, func(c *Config) { c.AssetCap = 100 })
			n, err := c.CountAllAssets(t.Context())
			if err != nil || n.Count != tc.want || n.AllOrgs != tc.allOrgs || n.Room() != 100-tc.want {
				t.Fatalf("%+v %v", n, err)
			}
		})
	}
}
