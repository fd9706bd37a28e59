package jmssim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const orgB = "7a3e1d2c-0000-4000-8000-0000000000b0"

func TestOrgScoping(t *testing.T) {
	s := Start(t, Options{Orgs: []Org{{ID: orgB, Name: "Beta"}}})
	c := newClient(t, s)
	var a hostOut
	c.withOrg(DefaultOrgID).must(201, "POST", "/api/v1/assets/hosts/", host("web-01", "10.0.0.1")).decode(t, &a)
	if a.OrgID != DefaultOrgID || a.OrgName != "DEFAULT" {
		t.Fatalf("org %s %s", a.OrgID, a.OrgName)
	}
	var b hostOut
	c.withOrg(orgB).must(201, "POST", "/api/v1/assets/hosts/", host("web-01", "10.0.0.2")).decode(t, &b)
	if b.OrgID != orgB || b.NodesDisplay[0] != "/Beta" {
		t.Fatalf("org B host %+v", b)
	}
	count := func(cl *client, path string) int {
		var p pageOut
		cl.must(200, "GET", path, nil).decode(t, &p)
		return p.Count
	}
	if n := count(c.withOrg(orgB), "/api/v1/assets/hosts/?limit=10"); n != 1 {
		t.Fatalf("org B sees %d", n)
	}
	// ?oid wins over the header
	if n := count(c.withOrg(DefaultOrgID), "/api/v1/assets/hosts/?limit=10&oid="+orgB); n != 1 {
		t.Fatalf("oid: %d", n)
	}
	var ob hostOut
	c.withOrg(DefaultOrgID).must(200, "GET", "/api/v1/assets/hosts/"+b.ID+"/?oid="+orgB, nil).decode(t, &ob)
	// unknown org, garbage and no header → Default
	for _, org := range []string{"", "11111111-1111-4111-8111-111111111111", "garbage", "default", "DEFAULT"} {
		var got []hostOut
		c.withOrg(org).must(200, "GET", "/api/v1/assets/hosts/", nil).decode(t, &got)
		if len(got) != 1 || got[0].ID != a.ID {
			t.Fatalf("org %q: %+v", org, got)
		}
	}
	// org name works
	if n := count(c.withOrg("Beta"), "/api/v1/assets/hosts/?limit=10"); n != 1 || count(c.withOrg("Beta"), "/api/v1/assets/hosts/?limit=10&name=web-01") != 1 {
		t.Fatalf("by name: %d", n)
	}
	// root reads span orgs; creates are refused with a top-level list
	if n := count(c.withOrg(RootOrgID), "/api/v1/assets/hosts/?limit=10"); n != 2 {
		t.Fatalf("root sees %d", n)
	}
	if n := count(c.withOrg("ROOT"), "/api/v1/assets/hosts/?limit=10"); n != 2 {
		t.Fatalf("ROOT alias sees %d", n)
	}
	r := c.withOrg(RootOrgID).must(400, "POST", "/api/v1/assets/hosts/", host("web-02", "10.0.0.3"))
	jsonEq(t, r.body, `["Please select an organization before saving"]`)
	c.withOrg(RootOrgID).must(400, "POST", "/api/v1/assets/nodes/", map[string]any{"value": "x"})
	// isolation: another org's object is 404 on detail and invalid in bodies
	r = c.withOrg(orgB).must(404, "GET", "/api/v1/assets/hosts/"+a.ID+"/", nil)
	jsonEq(t, r.body, `{"detail":"Host object does not exist","code":"object_does_not_exist"}`)
	c.withOrg(orgB).must(404, "PATCH", "/api/v1/assets/hosts/"+a.ID+"/", map[string]any{"comment": "x"})
	c.withOrg(orgB).must(404, "DELETE", "/api/v1/assets/hosts/"+a.ID+"/", nil)
	h := host("web-03", "10.0.0.3")
	h["nodes"] = []any{s.RootNodeID("")}
	r = c.withOrg(orgB).must(400, "POST", "/api/v1/assets/hosts/", h)
	jsonEq(t, r.body, fmt.Sprintf(`{"nodes":["Invalid pk \"%s\" - object does not exist."]}`, s.RootNodeID("")))
	// node keys: Default root "1", the next org "2"
	var roots []nodeJSON
	c.withOrg(orgB).must(200, "GET", "/api/v1/assets/nodes/?key=2", nil).decode(t, &roots)
	if len(roots) != 1 || roots[0].Value != "Beta" || roots[0].FullValue != "/Beta" {
		t.Fatalf("org B root %+v", roots)
	}
	var cur map[string]any
	c.withOrg(orgB).must(200, "GET", "/api/v1/orgs/orgs/current/", nil).decode(t, &cur)
	if cur["id"] != orgB {
		t.Fatalf("current %v", cur)
	}
}

func TestHostValidation(t *testing.T) {
	s := Start(t, Options{})
	c := newClient(t, s)
	c.must(201, "POST", "/api/v1/assets/hosts/", host("dup", "10.0.0.1"))
	cases := []struct {
		name string
		body any
		want string
	}{
		{"duplicate name", host("dup", "10.0.0.2"), `{"name":["Field must be unique"]}`},
		{"empty", map[string]any{}, `{"Platform":["Invalid pk \"None\" - object does not exist."]}`},
		{"protocols, no platform", map[string]any{"protocols": []any{map[string]any{"name": "ssh", "port": 22}}},
			`{"name":["This field is required."],"address":["This field is required."],"platform":["This field is required."],"protocols":{"Platform":["Invalid pk \"None\" - object does not exist."]}}`},
		{"platform by name", map[string]any{"name": "x", "address": "a", "platform": "Linux", "protocols": []any{map[string]any{"name": "ssh", "port": 22}}},
			`{"platform":["Incorrect type. Expected pk value, received str."],"protocols":{"Platform":["Incorrect type. Expected pk value, received str."]}}`},
		{"unknown platform", map[string]any{"name": "x", "address": "a", "platform": 999, "protocols": []any{map[string]any{"name": "ssh", "port": 22}}},
			`{"platform":["Invalid pk \"999\" - object does not exist."],"protocols":{"Platform":["Invalid pk \"999\" - object does not exist."]}}`},
		{"platform mismatch", map[string]any{"name": "x", "address": "a", "platform": 17, "protocols": []any{map[string]any{"name": "mysql", "port": 3306}}},
			`{"platform":{"platform":"Platform does not match: MySQL"}}`},
		{"missing primary protocol", map[string]any{"name": "x", "address": "a", "platform": 1, "protocols": []any{map[string]any{"name": "rdp", "port": 3389}}},
			`{"protocols":{"protocols":"Protocol is required: ssh"}}`},
		{"port range", map[string]any{"name": "x", "address": "a", "platform": 1, "protocols": []any{map[string]any{"name": "sftp", "port": 22}, map[string]any{"name": "ssh", "port": 70000}}},
			`{"protocols":[{},{"port":["Ensure this value is less than or equal to 65535."]}]}`},
		{"protocols as object", map[string]any{"name": "x", "address": "a", "platform": 1, "protocols": map[string]any{"name": "ssh"}},
			`{"protocols":{"non_field_errors":["Expected a list of items but got type \"dict\"."]}}`},
		{"blank name", map[string]any{"name": " ", "address": "", "platform": 1}, `{"name":["This field may not be blank."],"address":["This field may not be blank."]}`},
		{"invalid node", func() map[string]any { h := host("x", "a"); h["nodes"] = []any{"no-such-node"}; return h }(),
			`{"nodes":["Invalid pk \"no-such-node\" - object does not exist."]}`},
		{"bad label", func() map[string]any { h := host("x", "a"); h["labels"] = []any{"novalue"}; return h }(), `{"labels":["Invalid data"]}`},
		{"bad id", func() map[string]any { h := host("x", "a"); h["id"] = "nope"; return h }(), `{"id":["Must be a valid UUID."]}`},
		{"long name", host(strings.Repeat("n", 129), "a"), `{"name":["Ensure this field has no more than 128 characters."]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.must(400, "POST", "/api/v1/assets/hosts/", tc.body)
			jsonEq(t, r.body, tc.want)
		})
	}
	if s.AssetCount("") != 1 {
		t.Fatalf("failed creates left assets: %d", s.AssetCount(""))
	}
	// unknown label UUID → 404; generic endpoint refuses creates
	h := host("x", "a")
	h["labels"] = []any{"0b7a5c1e-0000-4000-8000-000000000001"}
	jsonEq(t, c.must(404, "POST", "/api/v1/assets/hosts/", h).body, `{"detail":"Label object does not exist","code":"object_does_not_exist"}`)
	jsonEq(t, c.must(400, "POST", "/api/v1/assets/assets/", host("y", "b")).body,
		`{"error":"Cannot create asset directly, you should create a host or other"}`)
	// single POST without protocols fills the platform defaults
	var a hostOut
	c.must(201, "POST", "/api/v1/assets/hosts/", map[string]any{"name": "defaults", "address": "10.0.0.9", "platform": map[string]any{"pk": 1}}).decode(t, &a)
	if fmt.Sprint(a.Protocols) != "[{ssh 22} {sftp 22}]" || a.Conn.Value != "-" || a.Category.Value != "host" ||
		a.Platform.Type != "linux" || len(a.NodesDisplay) != 1 || a.NodesDisplay[0] != "/DEFAULT" {
		t.Fatalf("defaults: %+v", a)
	}
	if !strings.HasSuffix(a.Created, "+0800") || len(a.Created) != len("2025/06/02 16:00:00 +0800") {
		t.Fatalf("date format %q", a.Created)
	}
	// missing trailing slash → 301
	r := c.do("GET", "/api/v1/assets/hosts?limit=1", nil)
	if r.status != 301 || r.header.Get("Location") != "/api/v1/assets/hosts/?limit=1" {
		t.Fatalf("no slash: %d %q", r.status, r.header.Get("Location"))
	}
	// unknown route
	r = c.do("GET", "/api/v1/assets/nothing/", nil)
	if r.status != 404 {
		t.Fatalf("unknown route %d", r.status)
	}
	jsonEq(t, r.body, `{"error":"Not found"}`)
}

func TestMalformedJSON(t *testing.T) {
	s := Start(t, Options{})
	c := newClient(t, s)
	req := c.do("POST", "/api/v1/assets/hosts/", nil) // empty body
	if req.status != 400 || !strings.Contains(req.str(), `"code":"parse_error"`) {
		t.Fatalf("%d %s", req.status, req.body)
	}
}

func TestPutPitfallsAndPatch(t *testing.T) {
	s := Start(t, Options{})
	c := newClient(t, s)
	var n nodeJSON
	c.must(201, "POST", "/api/v1/assets/nodes/", map[string]any{"value": "Prod"}).decode(t, &n)
	h := host("web", "10.0.0.1")
	h["nodes"] = []any{n.ID}
	h["is_active"] = false
	h["comment"] = "keep me"
	h["labels"] = []any{"env:prod", map[string]any{"name": "team", "value": "ops"}}
	var a hostOut
	c.must(201, "POST", "/api/v1/assets/hosts/", h).decode(t, &a)
	if a.IsActive || a.NodesDisplay[0] != "/DEFAULT/Prod" || len(a.Labels) != 2 {
		t.Fatalf("created %+v", a)
	}
	// PATCH is partial
	c.must(200, "PATCH", "/api/v1/assets/hosts/"+a.ID+"/", map[string]any{"address": "10.0.0.2"}).decode(t, &a)
	if a.Address != "10.0.0.2" || a.IsActive || a.NodesDisplay[0] != "/DEFAULT/Prod" || a.Comment != "keep me" || len(a.Labels) != 2 {
		t.Fatalf("patched %+v", a)
	}
	// PUT needs protocols
	jsonEq(t, c.must(400, "PUT", "/api/v1/assets/hosts/"+a.ID+"/", map[string]any{"name": "web", "address": "x", "platform": 1}).body,
		`{"protocols":["This field is required."]}`)
	// PUT: omitted is_active → true, omitted nodes → root; comment and labels untouched
	c.must(200, "PUT", "/api/v1/assets/hosts/"+a.ID+"/", host("web", "10.0.0.3")).decode(t, &a)
	if !a.IsActive || len(a.Nodes) != 1 || a.NodesDisplay[0] != "/DEFAULT" || a.Comment != "keep me" || len(a.Labels) != 2 {
		t.Fatalf("PUT pitfalls not reproduced: %+v", a)
	}
	if fmt.Sprint(a.Protocols) != "[{ssh 22}]" {
		t.Fatalf("protocols not replaced: %v", a.Protocols)
	}
	// labels sent on update replace the set; nodes [] → root
	c.must(200, "PATCH", "/api/v1/assets/hosts/"+a.ID+"/", map[string]any{"labels": []any{"env:dev"}, "nodes": []any{}}).decode(t, &a)
	if len(a.Labels) != 1 || a.Labels[0].Value != "dev" {
		t.Fatalf("labels %+v", a.Labels)
	}
	cn := s.Counters()
	if cn.LabelsCreated != 3 || cn.LabelRows != 3 || cn.LabelLinks != 1 {
		t.Fatalf("label rows outlive links: %+v", cn)
	}
	// nodes_display creates the path and replaces nodes
	c.must(200, "PATCH", "/api/v1/assets/hosts/"+a.ID+"/", map[string]any{"nodes_display": []any{"/DEFAULT/Cloud/Acct"}}).decode(t, &a)
	if a.NodesDisplay[0] != "/DEFAULT/Cloud/Acct" {
		t.Fatalf("nodes_display %+v", a.NodesDisplay)
	}
	// platform change keeps protocols and adds the new platform's
	c.must(200, "PATCH", "/api/v1/assets/hosts/"+a.ID+"/", map[string]any{"platform": 5}).decode(t, &a)
	if a.Platform.Name != "Windows" || a.Protocols[0].Name != "ssh" || !hasProto(a.Protocols, "rdp") {
		t.Fatalf("platform change %+v", a)
	}
	jsonEq(t, c.must(400, "PATCH", "/api/v1/assets/hosts/"+a.ID+"/", map[string]any{"platform": 17}).body,
		`{"platform":{"platform":"Platform does not match: MySQL"}}`)
	// 4.10 lookup by name
	c.must(200, "GET", "/api/v1/assets/hosts/web/", nil)
}

func TestLabelsFilter(t *testing.T) {
	s := Start(t, Options{})
	c := newClient(t, s)
	mk := func(name string, labels ...any) {
		h := host(name, "10.1.0.1")
		h["labels"] = labels
		c.must(201, "POST", "/api/v1/assets/hosts/", h)
	}
	mk("a", "env:prod", "team:ops")
	mk("b", "env:dev", "team:ops")
	mk("c", "env:prod")
	mk("d")
	names := func(q string) string {
		var hs []hostOut
		c.must(200, "GET", "/api/v1/assets/hosts/?labels="+url.QueryEscape(q), nil).decode(t, &hs)
		var out []string
		for _, h := range hs {
			out = append(out, h.Name)
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string]string{
		"env:prod":          "a,c",
		"env:prod,env:dev":  "a,b,c",
		"env:prod,team:ops": "a",
		"env:*":             "a,b,c",
		"team:*,env:dev":    "b",
		"env:none":          "",
	} {
		if got := names(q); got != want {
			t.Errorf("labels=%s: %q, want %q", q, got, want)
		}
	}
	var ls []map[string]any
	c.must(200, "GET", "/api/v1/labels/labels/?name=env", nil).decode(t, &ls)
	if len(ls) != 2 {
		t.Fatalf("labels %v", ls)
	}
	// 4.10 accepts a label UUID in the filter
	if got := names(ls[0]["id"].(string)); got == "" {
		t.Fatal("label uuid filter matched nothing")
	}
	jsonEq(t, c.must(400, "POST", "/api/v1/labels/labels/", map[string]any{"name": "env", "value": "prod"}).body,
		`{"name":["Field must be unique"],"value":["Field must be unique"]}`)
}

func TestPagination(t *testing.T) {
	for _, v := range []string{V410, V47} {
		t.Run(v, func(t *testing.T) {
			s := Start(t, Options{Version: v})
			if err := s.Seed(Seed{Generate: []SeedGenerate{{Count: 1205, Prefix: "h-"}}}); err != nil {
				t.Fatal(err)
			}
			c := newClient(t, s)
			var p pageOut
			c.must(200, "GET", "/api/v1/assets/hosts/?limit=100&offset=0&search=h-", nil).decode(t, &p)
			var rs []hostOut
			_ = json.Unmarshal(p.Results, &rs)
			if p.Count != 1205 || len(rs) != 100 || p.Previous != nil || p.Next == nil {
				t.Fatalf("first page: count %d len %d prev %v next %v", p.Count, len(rs), p.Previous, p.Next)
			}
			want := s.URL + "/api/v1/assets/hosts/?limit=100&offset=100&search=h-"
			if *p.Next != want {
				t.Fatalf("next %q, want %q", *p.Next, want)
			}
			// walk every page through next, checking order and de-dup
			seen := map[string]bool{}
			last := ""
			next := s.URL + "/api/v1/assets/hosts/?limit=1000"
			pages := 0
			for next != "" {
				var pg pageOut
				c.must(200, "GET", strings.TrimPrefix(next, s.URL), nil).decode(t, &pg)
				var hs []hostOut
				_ = json.Unmarshal(pg.Results, &hs)
				for _, h := range hs {
					if seen[h.ID] || h.Name < last {
						t.Fatalf("order/dup at %s", h.Name)
					}
					seen[h.ID], last = true, h.Name
				}
				next = ""
				if pg.Next != nil {
					next = *pg.Next
				}
				pages++
			}
			if len(seen) != 1205 || pages != 2 {
				t.Fatalf("walked %d assets in %d pages", len(seen), pages)
			}
			// the limit cap
			c.must(200, "GET", "/api/v1/assets/hosts/?limit=5000", nil).decode(t, &p)
			_ = json.Unmarshal(p.Results, &rs)
			wantLen := 1000
			if v == V47 {
				wantLen = 1205
			}
			if len(rs) != wantLen {
				t.Fatalf("limit=5000 gave %d rows", len(rs))
			}
			// previous link from the middle, and past the end
			c.must(200, "GET", "/api/v1/assets/hosts/?limit=100&offset=150", nil).decode(t, &p)
			if p.Previous == nil || *p.Previous != s.URL+"/api/v1/assets/hosts/?limit=100&offset=50" {
				t.Fatalf("previous %v", p.Previous)
			}
			c.must(200, "GET", "/api/v1/assets/hosts/?limit=100&offset=80", nil).decode(t, &p)
			if p.Previous == nil || *p.Previous != s.URL+"/api/v1/assets/hosts/?limit=100" {
				t.Fatalf("previous to start %v", p.Previous)
			}
			c.must(200, "GET", "/api/v1/assets/hosts/?limit=100&offset=5000", nil).decode(t, &p)
			if string(p.Results) != "[]" || p.Next != nil {
				t.Fatalf("past the end: %s", p.Results)
			}
			// without limit (and with garbage/zero limit): bare array, truncated on 4.10
			for _, q := range []string{"", "?limit=0", "?limit=abc", "?limit=-3"} {
				var all []hostOut
				c.must(200, "GET", "/api/v1/assets/hosts/"+q, nil).decode(t, &all)
				want := 200
				if v == V47 {
					want = 1205
				}
				if len(all) != want {
					t.Fatalf("%q: %d rows, want %d", q, len(all), want)
				}
			}
			// platforms are never truncated
			var ps []map[string]any
			c.must(200, "GET", "/api/v1/assets/platforms/", nil).decode(t, &ps)
			if len(ps) < 31 {
				t.Fatalf("platforms %d", len(ps))
			}
		})
	}
}

func TestFiltersAndSearch(t *testing.T) {
	s := Start(t, Options{})
	if err := s.Seed(Seed{Assets: []SeedAsset{
		{Name: "web-01", Address: "10.0.0.1", Comment: "sync:i-1", Nodes: []string{"/DEFAULT/Cloud/A"}},
		{Name: "web-02", Address: "10.0.0.2", Platform: "Windows", Nodes: []string{"/DEFAULT/Cloud/B"}},
		{Name: "db-01", Address: "10.0.0.3", Platform: "MySQL"},
		{Name: "Other", Address: "192.168.1.1", IsActive: new(bool)},
	}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s)
	names := func(path string) string {
		var hs []hostOut
		c.must(200, "GET", path, nil).decode(t, &hs)
		var out []string
		for _, h := range hs {
			out = append(out, h.Name)
		}
		return strings.Join(out, ",")
	}
	var cloud []nodeJSON
	c.must(200, "GET", "/api/v1/assets/nodes/?value=Cloud", nil).decode(t, &cloud)
	for path, want := range map[string]string{
		"/api/v1/assets/hosts/":                                "Other,web-01,web-02",
		"/api/v1/assets/assets/":                               "Other,db-01,web-01,web-02",
		"/api/v1/assets/hosts/?search=WEB":                     "web-01,web-02",
		"/api/v1/assets/hosts/?q=web%2001":                     "web-01",
		"/api/v1/assets/hosts/?search=10.0.0":                  "web-01,web-02",
		"/api/v1/assets/hosts/?search=i-1":                     "web-01",
		"/api/v1/assets/hosts/?ips=10.0.0.2,192.168.1.1":       "Other,web-02",
		"/api/v1/assets/hosts/?is_active=false":                "Other",
		"/api/v1/assets/hosts/?platform=Windows":               "web-02",
		"/api/v1/assets/hosts/?platform=1":                     "Other,web-01",
		"/api/v1/assets/assets/?category=database":             "db-01",
		"/api/v1/assets/hosts/?node=" + cloud[0].ID:            "web-01,web-02",
		"/api/v1/assets/hosts/?node_id=" + cloud[0].Key:        "web-01,web-02",
		"/api/v1/assets/hosts/?node=" + cloud[0].ID + "&all=0": "",
		"/api/v1/assets/hosts/?node=no-such-node":              "Other,web-01,web-02",
		"/api/v1/assets/hosts/?order=-name":                    "web-02,web-01,Other",
		"/api/v1/assets/hosts/?order=address,bogus":            "web-01,web-02,Other",
		"/api/v1/assets/hosts/?name__startswith=web":           "web-01,web-02",
		"/api/v1/assets/hosts/?name__icontains!=web":           "Other",
		"/api/v1/assets/hosts/?protocols=rdp":                  "web-02",
	} {
		if got := names(path); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
	jsonEq(t, c.must(400, "GET", "/api/v1/assets/hosts/?type=bogus", nil).body,
		`{"type":["Select a valid choice. bogus is not one of the available choices."]}`)
	var mini []map[string]any
	c.must(200, "GET", "/api/v1/assets/hosts/?fields_size=mini", nil).decode(t, &mini)
	if len(mini[0]) != 5 {
		t.Fatalf("mini fields %v", mini[0])
	}
}

func TestBulkCreate1000(t *testing.T) {
	s := Start(t, Options{})
	c := newClient(t, s)
	items := make([]any, 1000)
	for i := range items {
		h := host(fmt.Sprintf("bulk-%04d", i), fmt.Sprintf("10.2.%d.%d", i/256, i%256))
		h["labels"] = []any{"jmssync:test", fmt.Sprintf("shard:%d", i%4)}
		h["nodes_display"] = []any{"/DEFAULT/Cloud/Acct"}
		items[i] = h
	}
	// one bad item → 400 with a per-item error array, nothing created
	bad := append([]any(nil), items...)
	bad[500] = map[string]any{"name": "", "address": "x", "platform": 1, "protocols": []any{map[string]any{"name": "ssh", "port": 22}}}
	var errs []map[string]any
	c.must(400, "POST", "/api/v1/assets/hosts/", bad).decode(t, &errs)
	if len(errs) != 1000 || len(errs[0]) != 0 || errs[500]["name"] == nil {
		t.Fatalf("errors %v", errs[500])
	}
	if s.AssetCount("") != 0 || s.Counters().NodesCreated != 0 {
		t.Fatal("a failed bulk create wrote something")
	}
	// bulk without protocols is refused
	noProto := []any{map[string]any{"name": "np", "address": "x", "platform": 1}}
	jsonEq(t, c.must(400, "POST", "/api/v1/assets/hosts/", noProto).body, `[{"protocols":["This field is required."]}]`)

	var out []hostOut
	c.must(201, "POST", "/api/v1/assets/hosts/", items).decode(t, &out)
	if len(out) != 1000 || s.AssetCount("") != 1000 {
		t.Fatalf("created %d, count %d", len(out), s.AssetCount(""))
	}
	cn := s.Counters()
	if cn.PingTasks != 1000 || cn.GatherFactsTasks != 1000 || cn.LabelsCreated != 5 || cn.LabelLinks != 2000 || cn.NodesCreated != 2 {
		t.Fatalf("counters %+v", cn)
	}
	if cn.Requests["POST /api/v1/assets/hosts/"] != 3 {
		t.Fatalf("requests %v", cn.Requests)
	}
	// bulk update: PATCH ids, and the missing-id error
	upd := []any{map[string]any{"id": out[0].ID, "comment": "u0"}, map[string]any{"pk": out[1].ID, "is_active": false}}
	var got []hostOut
	c.must(200, "PATCH", "/api/v1/assets/hosts/", upd).decode(t, &got)
	if len(got) != 2 || got[0].Comment != "u0" || got[1].IsActive {
		t.Fatalf("bulk patch %+v", got)
	}
	jsonEq(t, c.must(400, "PATCH", "/api/v1/assets/hosts/", []any{map[string]any{"comment": "x"}, map[string]any{"id": out[2].ID}}).body,
		`[["id or pk not in data"],{}]`)
	// bulk PUT resets is_active like a single PUT
	put := host(out[1].Name, "10.9.9.9")
	put["id"] = out[1].ID
	c.must(200, "PUT", "/api/v1/assets/hosts/", []any{put}).decode(t, &got)
	if !got[0].IsActive || got[0].Address != "10.9.9.9" {
		t.Fatalf("bulk put %+v", got[0])
	}
}

func TestClientIDsAndNameClashes(t *testing.T) {
	s := Start(t, Options{Orgs: []Org{{ID: orgB, Name: "Beta"}}})
	c := newClient(t, s)
	if err := s.Seed(Seed{Assets: []SeedAsset{{Name: "orders-db", Address: "10.3.0.1", Platform: "MySQL"}}}); err != nil {
		t.Fatal(err)
	}
	const id = "5b0d2a64-6c3c-5f1e-9a51-0f1b7c9d0001"
	h := host("web", "10.3.0.2")
	h["id"] = strings.ToUpper(id)
	var a hostOut
	c.must(201, "POST", "/api/v1/assets/hosts/", h).decode(t, &a)
	if a.ID != id {
		t.Fatalf("id %s", a.ID)
	}
	c.must(200, "GET", "/api/v1/assets/hosts/"+id+"/", nil)
	// the id is taken in this org → 400; in another org → 500
	h2 := host("web-2", "10.3.0.3")
	h2["id"] = id
	jsonEq(t, c.must(400, "POST", "/api/v1/assets/hosts/", h2).body, `{"id":["Asset with this id already exists."]}`)
	r := c.withOrg(orgB).must(500, "POST", "/api/v1/assets/hosts/", h2)
	jsonEq(t, r.body, `{"error":"Server internal error"}`)
	// a host named like a database passes validation and fails at insert
	jsonEq(t, c.must(500, "POST", "/api/v1/assets/hosts/", host("orders-db", "10.3.0.4")).body, `{"error":"Server internal error"}`)
	// the generic endpoint sees every type: PATCH rename → 400
	jsonEq(t, c.must(400, "PATCH", "/api/v1/assets/assets/"+id+"/", map[string]any{"name": "orders-db"}).body, `{"name":["Field must be unique"]}`)
	// duplicate names inside one bulk request → 500, nothing written
	before := s.AssetCount("")
	c.must(500, "POST", "/api/v1/assets/hosts/", []any{host("twin", "1"), host("twin", "2")})
	if s.AssetCount("") != before {
		t.Fatal("bulk 500 wrote assets")
	}
	// case-sensitive by default
	c.must(201, "POST", "/api/v1/assets/hosts/", host("WEB", "10.3.0.5"))

	ci := Start(t, Options{CaseInsensitiveNames: true})
	cc := newClient(t, ci)
	cc.must(201, "POST", "/api/v1/assets/hosts/", host("web", "1"))
	jsonEq(t, cc.must(400, "POST", "/api/v1/assets/hosts/", host("WEB", "2")).body, `{"name":["Field must be unique"]}`)
	if err := ci.Seed(Seed{Assets: []SeedAsset{{Name: "Orders-DB", Address: "x", Platform: "MySQL"}}}); err != nil {
		t.Fatal(err)
	}
	cc.must(500, "POST", "/api/v1/assets/hosts/", host("orders-db", "3"))
}

func TestAssetCap(t *testing.T) {
	s := Start(t, Options{Knobs: Knobs{AssetCap: 5}, Orgs: []Org{{ID: orgB, Name: "Beta"}}})
	c := newClient(t, s)
	if err := s.Seed(Seed{Generate: []SeedGenerate{{Count: 3}, {Org: orgB, Count: 1, Prefix: "b-"}}}); err != nil {
		t.Fatal(err)
	}
	// 4 exist: a batch of 3 is allowed (only the existing count is checked)
	c.must(201, "POST", "/api/v1/assets/hosts/", []any{host("x1", "1"), host("x2", "2"), host("x3", "3")})
	// the cap counts all orgs
	r := c.withOrg(orgB).must(400, "POST", "/api/v1/assets/hosts/", host("y", "1"))
	jsonEq(t, r.body, `{"error":"The number of assets exceeds the limit of 5"}`)
	c.must(400, "POST", "/api/v1/assets/hosts/", []any{host("z", "1")})
	// licensed mode lifts the cap at run time
	s.UpdateKnobs(func(k *Knobs) { k.Licensed = true })
	c.must(201, "POST", "/api/v1/assets/hosts/", host("y", "1"))

	// 4.7 counts only the endpoint's model in the current org
	s47 := Start(t, Options{Version: V47, Knobs: Knobs{AssetCap: 2}, Orgs: []Org{{ID: orgB, Name: "Beta"}}})
	c47 := newClient(t, s47)
	_ = s47.Seed(Seed{Generate: []SeedGenerate{{Count: 2}}})
	c47.must(400, "POST", "/api/v1/assets/hosts/", host("a", "1"))
	c47.withOrg(orgB).must(201, "POST", "/api/v1/assets/hosts/", host("a", "1"))
}

func TestDefaultCap5000(t *testing.T) {
	s := Start(t, Options{})
	c := newClient(t, s)
	if err := s.Seed(Seed{Generate: []SeedGenerate{{Count: 4999}}}); err != nil {
		t.Fatal(err)
	}
	c.must(201, "POST", "/api/v1/assets/hosts/", []any{host("last", "1"), host("over", "2")})
	jsonEq(t, c.must(400, "POST", "/api/v1/assets/hosts/", host("more", "1")).body, `{"error":"The number of assets exceeds the limit of 5000"}`)
}

func TestDeleteCascadeAndBulkDelete(t *testing.T) {
	s := Start(t, Options{})
	c := newClient(t, s)
	var tmpl map[string]any
	c.must(201, "POST", "/api/v1/accounts/account-templates/", map[string]any{"name": "root-tpl", "username": "root",
		"secret_type": "password", "secret": "x", "auto_push": true}).decode(t, &tmpl)
	h := host("web", "10.4.0.1")
	h["labels"] = []any{"env:prod"}
	h["nodes_display"] = []any{"/DEFAULT/Cloud"}
	h["accounts"] = []any{map[string]any{"template": tmpl["id"]}, map[string]any{"username": "admin", "secret_type": "password", "secret": "y"}}
	var a hostOut
	c.must(201, "POST", "/api/v1/assets/hosts/", h).decode(t, &a)
	var accs []map[string]any
	c.must(200, "GET", "/api/v1/accounts/accounts/?asset="+a.ID, nil).decode(t, &accs)
	if len(accs) != 2 || s.Counters().AccountPushTasks != 1 {
		t.Fatalf("accounts %d push %d", len(accs), s.Counters().AccountPushTasks)
	}
	// an unknown template rolls the create back with 404
	h2 := host("web-2", "10.4.0.2")
	h2["accounts"] = []any{map[string]any{"template": "0b7a5c1e-0000-4000-8000-00000000dead"}}
	c.must(404, "POST", "/api/v1/assets/hosts/", h2)
	if s.AssetCount("") != 1 {
		t.Fatal("account failure left the asset")
	}
	// node with assets cannot be deleted; root never
	var cloud []nodeJSON
	c.must(200, "GET", "/api/v1/assets/nodes/?value=Cloud", nil).decode(t, &cloud)
	jsonEq(t, c.must(403, "DELETE", "/api/v1/assets/nodes/"+cloud[0].ID+"/", nil).body, `{"error":"Deletion failed, the node contains assets"}`)
	jsonEq(t, c.must(403, "DELETE", "/api/v1/assets/nodes/"+s.RootNodeID("")+"/", nil).body, `{"error":"You can't delete the root node (DEFAULT)"}`)

	c.must(204, "DELETE", "/api/v1/assets/hosts/"+a.ID+"/", nil)
	jsonEq(t, c.must(404, "DELETE", "/api/v1/assets/hosts/"+a.ID+"/", nil).body, `{"detail":"Host object does not exist","code":"object_does_not_exist"}`)
	c.must(404, "GET", "/api/v1/accounts/accounts/?asset="+a.ID, nil)
	st := s.State()
	if len(st.Orgs[0].Labels) != 1 || st.Orgs[0].Labels[0].Links != 0 {
		t.Fatalf("label row should stay without links: %+v", st.Orgs[0].Labels)
	}
	c.must(204, "DELETE", "/api/v1/assets/nodes/"+cloud[0].ID+"/", nil)

	// bulk delete guard
	_ = s.Seed(Seed{Generate: []SeedGenerate{{Count: 5, Prefix: "d-"}}})
	if r := c.do("DELETE", "/api/v1/assets/hosts/", nil); r.status != 400 || len(r.body) != 0 {
		t.Fatalf("unfiltered bulk delete: %d %q", r.status, r.body)
	}
	c.must(400, "DELETE", "/api/v1/assets/hosts/?bogus=1", nil)
	c.must(204, "DELETE", "/api/v1/assets/hosts/?name=nothing-matches", nil)
	var list []hostOut
	c.must(200, "GET", "/api/v1/assets/hosts/", nil).decode(t, &list)
	c.must(204, "DELETE", "/api/v1/assets/hosts/?ids="+list[0].ID+","+list[1].ID, nil)
	var spm map[string]string
	c.must(200, "POST", "/api/v1/common/resources/cache/", map[string]any{"resources": []any{list[2].ID, list[3].ID, list[4].ID}}).decode(t, &spm)
	c.must(204, "DELETE", "/api/v1/assets/hosts/?spm="+spm["spm"], nil)
	if s.AssetCount("") != 0 {
		t.Fatalf("left %d", s.AssetCount(""))
	}
	c.must(400, "DELETE", "/api/v1/assets/hosts/", nil) // empty org
}

func TestNodes(t *testing.T) {
	for _, rootName := range []string{"DEFAULT", "Default"} {
		t.Run(rootName, func(t *testing.T) {
			s := Start(t, Options{RootNodeName: rootName})
			c := newClient(t, s)
			var n, leaf, child nodeJSON
			c.must(201, "POST", "/api/v1/assets/nodes/", map[string]any{"value": "Prod"}).decode(t, &n)
			if n.Key != "1:1" || n.FullValue != "/"+rootName+"/Prod" {
				t.Fatalf("node %+v", n)
			}
			jsonEq(t, c.must(400, "POST", "/api/v1/assets/nodes/", map[string]any{"value": "Prod"}).body,
				`{"value":["Node names at the same level cannot be duplicated"]}`)
			jsonEq(t, c.must(400, "POST", "/api/v1/assets/nodes/", map[string]any{"value": "a/b"}).body, `{"value":["Can't contains: /"]}`)
			c.must(201, "POST", "/api/v1/assets/nodes/", map[string]any{"full_value": "/" + rootName + "/Cloud/Acct"}).decode(t, &leaf)
			var again nodeJSON
			c.must(201, "POST", "/api/v1/assets/nodes/", map[string]any{"full_value": "/" + rootName + "/Cloud/Acct"}).decode(t, &again)
			if leaf.ID != again.ID || leaf.FullValue != "/"+rootName+"/Cloud/Acct" {
				t.Fatalf("full_value not idempotent: %+v %+v", leaf, again)
			}
			c.must(201, "POST", "/api/v1/assets/nodes/"+n.ID+"/children/", map[string]any{"value": "Web"}).decode(t, &child)
			if child.FullValue != "/"+rootName+"/Prod/Web" || child.Key != "1:1:1" {
				t.Fatalf("child %+v", child)
			}
			jsonEq(t, c.must(400, "POST", "/api/v1/assets/nodes/"+n.ID+"/children/", map[string]any{"value": "Web"}).body,
				`{"detail":"Node names at the same level cannot be duplicated","code":"error"}`)
			var kids []nodeJSON
			c.must(200, "GET", "/api/v1/assets/nodes/"+n.ID+"/children/", nil).decode(t, &kids)
			if len(kids) != 1 {
				t.Fatalf("children %v", kids)
			}
			var tree []map[string]any
			c.must(200, "GET", "/api/v1/assets/nodes/children/tree/?key=1", nil).decode(t, &tree)
			if len(tree) != 2 {
				t.Fatalf("tree %v", tree)
			}
			// rename rebuilds full paths; the root cannot be renamed
			c.must(200, "PATCH", "/api/v1/assets/nodes/"+n.ID+"/", map[string]any{"value": "Production"})
			c.must(200, "GET", "/api/v1/assets/nodes/"+child.ID+"/", nil).decode(t, &child)
			if child.FullValue != "/"+rootName+"/Production/Web" {
				t.Fatalf("after rename %+v", child)
			}
			jsonEq(t, c.must(400, "PATCH", "/api/v1/assets/nodes/"+s.RootNodeID("")+"/", map[string]any{"value": "x"}).body,
				`{"error":"The root node name cannot be modified"}`)
			// "/Default/x" on a DEFAULT install nests under the root
			h := host("w", "1")
			h["nodes_display"] = []any{"/Default/x"}
			var a hostOut
			c.must(201, "POST", "/api/v1/assets/hosts/", h).decode(t, &a)
			want := "/" + rootName + "/x"
			if rootName == "DEFAULT" {
				want = "/DEFAULT/Default/x"
			}
			if a.NodesDisplay[0] != want {
				t.Fatalf("nodes_display %v, want %s", a.NodesDisplay, want)
			}
			c.must(204, "DELETE", "/api/v1/assets/nodes/"+n.ID+"/", nil)
		})
	}
}

func TestVersionDifferences(t *testing.T) {
	s47 := Start(t, Options{Version: V47})
	s410 := Start(t, Options{})
	c47, c410 := newClient(t, s47), newClient(t, s410)
	var z47, z410 map[string]any
	c47.must(201, "POST", "/api/v1/assets/domains/", map[string]any{"name": "dmz"}).decode(t, &z47)
	c410.must(201, "POST", "/api/v1/assets/zones/", map[string]any{"name": "dmz"}).decode(t, &z410)
	c47.must(404, "GET", "/api/v1/assets/zones/", nil)
	c410.must(404, "GET", "/api/v1/assets/domains/", nil)
	jsonEq(t, c410.must(400, "POST", "/api/v1/assets/zones/", map[string]any{"name": "dmz"}).body, `{"name":["Field must be unique"]}`)
	jsonEq(t, c47.must(400, "POST", "/api/v1/assets/domains/", map[string]any{"name": "dmz"}).body, `{"name":["This field must be unique."]}`)

	h := host("w", "1")
	h["domain"] = z47["id"]
	var a47 hostOut
	c47.must(201, "POST", "/api/v1/assets/hosts/", h).decode(t, &a47)
	if !strings.Contains(string(a47.Domain), "dmz") || a47.Zone != nil || a47.Platform.Type != "" {
		t.Fatalf("4.7 host %+v", a47)
	}
	h = host("w", "1")
	h["zone"] = z410["id"]
	var a410 hostOut
	r := c410.must(201, "POST", "/api/v1/assets/hosts/", h)
	r.decode(t, &a410)
	if !strings.Contains(string(a410.Zone), "dmz") || a410.Platform.Type != "linux" || !strings.Contains(r.str(), `"accounts_amount":0`) {
		t.Fatalf("4.10 host %s", r.body)
	}
	// zone silently nulled when the platform has gateways off (Website)
	var web hostOut
	c410.must(201, "POST", "/api/v1/assets/webs/", map[string]any{"name": "site", "address": "https://x", "platform": 26,
		"zone": z410["id"], "protocols": []any{map[string]any{"name": "http", "port": 80}}}).decode(t, &web)
	if string(web.Zone) != "null" {
		t.Fatalf("zone %s", web.Zone)
	}
	// 4.7: no lookup by name, not-found message with a full stop, search only via search
	c47.must(404, "GET", "/api/v1/assets/hosts/w/", nil)
	jsonEq(t, c47.must(404, "GET", "/api/v1/assets/hosts/00000000-0000-4000-8000-000000000000/", nil).body,
		`{"detail":"Host object does not exist.","code":"object_does_not_exist"}`)
	var hs []hostOut
	c47.must(200, "GET", "/api/v1/assets/hosts/?q=nomatch", nil).decode(t, &hs)
	if len(hs) != 1 {
		t.Fatal("4.7 must ignore q")
	}
	c410.must(200, "GET", "/api/v1/assets/hosts/?q=nomatch", nil).decode(t, &hs)
	if len(hs) != 0 {
		t.Fatal("4.10 must search with q")
	}
	// root-org write message
	jsonEq(t, c47.withOrg("root").must(400, "POST", "/api/v1/assets/hosts/", host("x", "1")).body, `["请选择一个组织后再保存"]`)
	// platform ids are configurable (id drift)
	sd := Start(t, Options{PlatformIDs: map[string]int{"Linux": 32}})
	var p map[string]any
	newClient(t, sd).must(200, "GET", "/api/v1/assets/platforms/Linux/", nil).decode(t, &p)
	if p["id"].(float64) != 32 {
		t.Fatalf("Linux id %v", p["id"])
	}
	newClient(t, sd).must(201, "POST", "/api/v1/assets/hosts/", map[string]any{"name": "n", "address": "a", "platform": 32})
}

func TestControlEndpoints(t *testing.T) {
	s := Start(t, Options{})
	c := newClient(t, s)
	c.keyID = "" // control endpoints need no auth
	c.must(200, "POST", "/_sim/seed", Seed{Assets: []SeedAsset{{Name: "a", Address: "1"}}, Generate: []SeedGenerate{{Count: 3}}})
	var st State
	c.must(200, "GET", "/_sim/state", nil).decode(t, &st)
	if st.Total != 4 || len(st.Orgs[0].Assets) != 4 {
		t.Fatalf("state %+v", st)
	}
	var k Knobs
	c.must(200, "PATCH", "/_sim/knobs", map[string]any{"latency": "5ms", "workers": 3}).decode(t, &k)
	if k.Latency.Milliseconds() != 5 || k.Workers != 3 || s.Knobs().Workers != 3 {
		t.Fatalf("knobs %+v", k)
	}
	c.must(200, "PUT", "/_sim/knobs", map[string]any{})
	signed := newClient(t, s)
	signed.must(200, "GET", "/api/v1/assets/hosts/", nil)
	var cn Counters
	c.must(200, "GET", "/_sim/counters", nil).decode(t, &cn)
	if cn.Reads != 1 || cn.Requests["GET /api/v1/assets/hosts/"] != 1 {
		t.Fatalf("counters %+v", cn)
	}
	var log []map[string]any
	c.must(200, "GET", "/_sim/log", nil).decode(t, &log)
	if len(log) != 1 {
		t.Fatalf("log %v", log)
	}
	c.must(200, "POST", "/_sim/reset", nil)
	if s.AssetCount("root") != 0 || len(s.RequestLog()) != 0 {
		t.Fatal("reset")
	}
}

func TestGatewaysTZAndMethods(t *testing.T) {
	s := Start(t, Options{})
	c := newClient(t, s)
	var z map[string]any
	c.must(201, "POST", "/api/v1/assets/zones/", map[string]any{"name": "dmz"}).decode(t, &z)
	c.must(201, "POST", "/api/v1/assets/hosts/", host("plain", "10.6.0.1"))
	jsonEq(t, c.must(400, "POST", "/api/v1/assets/gateways/", host("gw", "10.6.0.2")).body, `{"platform":["The platform must start with Gateway"]}`)
	gw := host("gw", "10.6.0.2")
	gw["platform"], gw["zone"] = 11, z["id"]
	c.must(201, "POST", "/api/v1/assets/gateways/", gw)
	gw2 := host("plain", "10.6.0.3")
	gw2["platform"] = 11
	jsonEq(t, c.must(400, "POST", "/api/v1/assets/gateways/", gw2).body, `{"name":["Field must be unique"]}`)
	var gws []hostOut
	c.must(200, "GET", "/api/v1/assets/gateways/?zone="+z["id"].(string), nil).decode(t, &gws)
	if len(gws) != 1 || gws[0].Name != "gw" {
		t.Fatalf("gateways %+v", gws)
	}
	var zl []map[string]any
	c.must(200, "GET", "/api/v1/assets/zones/", nil).decode(t, &zl)
	if len(zl) != 1 || len(zl[0]["gateways"].([]any)) != 1 {
		t.Fatalf("zones %v", zl)
	}
	// X-TZ: UTC switches the output zone
	req := c.do("GET", "/api/v1/assets/hosts/?limit=1", nil)
	if !strings.Contains(req.str(), "+0800") {
		t.Fatalf("default tz: %s", req.body)
	}
	r2, _ := http.NewRequest("GET", s.URL+"/api/v1/assets/hosts/?limit=1", nil)
	r2.Header.Set("X-TZ", "UTC")
	testSign(r2, DefaultKeyID, DefaultSecret)
	res, err := http.DefaultClient.Do(r2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), "+0000") {
		t.Fatalf("X-TZ: UTC: %s", b)
	}
	c.must(405, "PUT", "/api/v1/assets/nodes/children/", map[string]any{})
	// zone delete nulls the gateway's zone
	c.must(204, "DELETE", "/api/v1/assets/zones/"+z["id"].(string)+"/", nil)
	c.must(200, "GET", "/api/v1/assets/gateways/", nil).decode(t, &gws)
	if string(gws[0].Zone) != "null" {
		t.Fatalf("zone after delete %s", gws[0].Zone)
	}
}
