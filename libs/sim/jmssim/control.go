package jmssim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jmssync/jmssync/libs/sim/simnet"
)

// AssetState is an asset as the Go-side dump shows it.
type AssetState struct {
	ID           string     `json:"id"`
	Org          string     `json:"org"`
	Name         string     `json:"name"`
	Address      string     `json:"address"`
	Platform     string     `json:"platform"`
	PlatformID   int        `json:"platform_id"`
	Category     string     `json:"category"`
	Type         string     `json:"type"`
	Protocols    []Protocol `json:"protocols"`
	Nodes        []string   `json:"nodes"`  // full paths
	Labels       []string   `json:"labels"` // "name:value"
	Zone         string     `json:"zone,omitempty"`
	IsActive     bool       `json:"is_active"`
	Comment      string     `json:"comment"`
	Connectivity string     `json:"connectivity"`
	Accounts     []string   `json:"accounts,omitempty"` // "name(username) source"
	Created      time.Time  `json:"created"`
	Updated      time.Time  `json:"updated"`
}

// NodeState is a node in the dump.
type NodeState struct {
	ID        string `json:"id"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	FullValue string `json:"full_value"`
	Assets    int    `json:"assets"` // direct members
}

// LabelState is a label row in the dump; Links counts labeled resources.
type LabelState struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
	Links int    `json:"links"`
}

// OrgState is one organisation in the dump.
type OrgState struct {
	ID         string       `json:"id"`
	Name       string       `json:"name"`
	AssetCount int          `json:"asset_count"`
	Nodes      []NodeState  `json:"nodes"`
	Labels     []LabelState `json:"labels"`
	Zones      []string     `json:"zones"`
	Templates  []string     `json:"templates"`
	Assets     []AssetState `json:"assets,omitempty"`
}

// State is a dump of everything the simulator holds.
type State struct {
	Version string     `json:"version"`
	Total   int        `json:"total_assets"`
	Orgs    []OrgState `json:"orgs"`
}

// Counters are what the simulator counted since the last reset.
type Counters struct {
	// Requests by "METHOD /route/template/".
	Requests map[string]int64 `json:"requests"`
	Reads    int64            `json:"reads"`
	Writes   int64            `json:"writes"`

	Throttled    int64 `json:"throttled"`
	Injected500  int64 `json:"injected_500"`
	Outage503    int64 `json:"outage_503"`
	Dropped      int64 `json:"dropped"`
	Unauthorized int64 `json:"unauthorized"`
	Forbidden    int64 `json:"forbidden"`
	MaxInFlight  int64 `json:"max_in_flight"`

	AssetsCreated   int64 `json:"assets_created"`
	AssetsUpdated   int64 `json:"assets_updated"`
	AssetsDeleted   int64 `json:"assets_deleted"`
	NodesCreated    int64 `json:"nodes_created"`
	AccountsCreated int64 `json:"accounts_created"`
	// Background work a create triggers (after commit on a real server).
	PingTasks        int64 `json:"ping_tasks"`
	GatherFactsTasks int64 `json:"gather_facts_tasks"`
	AccountPushTasks int64 `json:"account_push_tasks"`
	// Label rows created (they outlive assets) and current label links.
	LabelsCreated int64 `json:"labels_created"`
	LabelRows     int   `json:"label_rows"`
	LabelLinks    int   `json:"label_links"`
	Assets        int   `json:"assets"`
}

func (s *Server) assetState(a *asset) AssetState {
	st := AssetState{ID: a.id, Org: a.org.id, Name: a.name, Address: a.address, Platform: a.platform.Name,
		PlatformID: a.platform.ID, Category: a.category, Type: a.typ, Protocols: append([]Protocol{}, a.protocols...),
		IsActive: a.active, Comment: a.comment, Connectivity: a.connectivity, Created: a.created, Updated: a.updated}
	for _, n := range a.nodes {
		st.Nodes = append(st.Nodes, n.fullValue)
	}
	for _, l := range a.labels {
		st.Labels = append(st.Labels, l.name+":"+l.value)
	}
	if a.zone != nil {
		st.Zone = a.zone.name
	}
	for _, ac := range a.accounts {
		st.Accounts = append(st.Accounts, fmt.Sprintf("%s(%s) %s", ac.name, ac.username, ac.source))
	}
	return st
}

// State dumps the whole state (assets included).
func (s *Server) State() State { return s.state(true) }

func (s *Server) state(withAssets bool) State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := State{Version: s.opts.Version, Total: s.st.total}
	for _, o := range s.st.orgs {
		os := OrgState{ID: o.id, Name: o.name, AssetCount: o.count, Nodes: []NodeState{}, Labels: []LabelState{},
			Zones: []string{}, Templates: []string{}}
		var walk func(n *node)
		walk = func(n *node) {
			os.Nodes = append(os.Nodes, NodeState{n.id, n.key, n.value, n.fullValue, n.direct})
			for _, c := range s.childrenNodes(n) {
				walk(c)
			}
		}
		walk(o.root)
		for _, l := range o.labels {
			os.Labels = append(os.Labels, LabelState{l.id, l.name, l.value, l.links})
		}
		sort.Slice(os.Labels, func(i, j int) bool {
			return os.Labels[i].Name+"\x00"+os.Labels[i].Value < os.Labels[j].Name+"\x00"+os.Labels[j].Value
		})
		for name := range o.zones {
			os.Zones = append(os.Zones, name)
		}
		sort.Strings(os.Zones)
		for name := range o.tmpls {
			os.Templates = append(os.Templates, name)
		}
		sort.Strings(os.Templates)
		if withAssets {
			for _, e := range o.index.view() {
				os.Assets = append(os.Assets, s.assetState(e.a))
			}
		}
		out.Orgs = append(out.Orgs, os)
	}
	return out
}

// Asset returns one asset by id.
func (s *Server) Asset(id string) (AssetState, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.st.assets[strings.ToLower(id)]
	if a == nil {
		return AssetState{}, false
	}
	return s.assetState(a), true
}

// FindAssets returns the assets named name in org (id, name or alias; ""
// = Default), any category.
func (s *Server) FindAssets(org, name string) []AssetState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.lookupOrg(org)
	var out []AssetState
	for _, a := range s.st.assets {
		if (o == nil || a.org == o) && a.name == name {
			out = append(out, s.assetState(a))
		}
	}
	return out
}

// AssetCount returns the number of assets in org ("" = Default; "root" =
// all orgs).
func (s *Server) AssetCount(org string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.lookupOrg(org)
	if o == nil {
		return s.st.total
	}
	return o.count
}

// RootNodeID returns the id of an org's root node ("" = Default).
func (s *Server) RootNodeID(org string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.lookupOrg(org)
	if o == nil {
		o = s.st.orgByID[DefaultOrgID]
	}
	return o.root.id
}

// Counters returns the counters.
func (s *Server) Counters() Counters {
	c := Counters{
		Requests: s.rec.Counts(),
		Reads:    s.rec.Total("GET", "HEAD"),
		Writes:   s.rec.Total("POST", "PUT", "PATCH", "DELETE"),

		Throttled: s.req.throttled.Load(), Injected500: s.req.injected500.Load(), Outage503: s.req.outage503.Load(),
		Dropped: s.req.dropped.Load(), Unauthorized: s.req.unauthorized.Load(), Forbidden: s.req.forbidden.Load(),
		MaxInFlight: s.req.maxInFlight.Load(),
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	sc := s.counters
	c.AssetsCreated, c.AssetsUpdated, c.AssetsDeleted = sc.assetsCreated, sc.assetsUpdated, sc.assetsDeleted
	c.NodesCreated, c.LabelsCreated, c.AccountsCreated = sc.nodesCreated, sc.labelsCreated, sc.accountsCreated
	c.PingTasks, c.GatherFactsTasks, c.AccountPushTasks = sc.ping, sc.gatherFacts, sc.accountPush
	c.LabelRows = len(s.st.labels)
	for _, l := range s.st.labels {
		c.LabelLinks += l.links
	}
	c.Assets = s.st.total
	return c
}

// Recorder returns the request recorder (counts by route and the log).
func (s *Server) Recorder() *simnet.Recorder { return s.rec }

// RequestLog returns the recent API requests, oldest first.
func (s *Server) RequestLog() []simnet.Entry { return s.rec.Log() }

// ResetCounters clears counters and the request log, keeping the state.
func (s *Server) ResetCounters() {
	s.rec.Reset()
	for _, p := range []interface{ Store(int64) }{&s.req.throttled, &s.req.injected500, &s.req.outage503,
		&s.req.dropped, &s.req.unauthorized, &s.req.forbidden, &s.req.maxInFlight} {
		p.Store(0)
	}
	s.mu.Lock()
	s.counters = storeCounters{}
	s.mu.Unlock()
}

// Reset drops all state (back to the built-in and configured orgs with
// empty root nodes), the counters, the log, throttling history and tokens.
// Knobs are kept.
func (s *Server) Reset() {
	s.ResetCounters()
	s.thMu.Lock()
	s.throttle = map[string][]time.Time{}
	s.thMu.Unlock()
	s.mu.Lock()
	s.newStore()
	s.counters = storeCounters{}
	s.mu.Unlock()
}

// Seed pre-populates state, bypassing the API (no cap, no counters of
// background work, no request log).
type Seed struct {
	Orgs      []Org          `json:"orgs,omitempty"`
	Nodes     []SeedNode     `json:"nodes,omitempty"`
	Zones     []SeedZone     `json:"zones,omitempty"`
	Templates []SeedTemplate `json:"templates,omitempty"`
	Assets    []SeedAsset    `json:"assets,omitempty"`
	Generate  []SeedGenerate `json:"generate,omitempty"`
}

// SeedNode ensures a node path ("/DEFAULT/a/b") exists in Org.
type SeedNode struct {
	Org  string `json:"org,omitempty"`
	Path string `json:"path"`
}

// SeedZone creates a zone (a domain on 4.7).
type SeedZone struct {
	Org  string `json:"org,omitempty"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
}

// SeedTemplate creates an account template.
type SeedTemplate struct {
	Org        string `json:"org,omitempty"`
	ID         string `json:"id,omitempty"`
	Name       string `json:"name"`
	Username   string `json:"username"`
	SecretType string `json:"secret_type,omitempty"`
	Secret     string `json:"secret,omitempty"`
	Privileged bool   `json:"privileged,omitempty"`
	AutoPush   bool   `json:"auto_push,omitempty"`
}

// SeedAsset is one asset of any category (the platform decides it).
type SeedAsset struct {
	Org       string     `json:"org,omitempty"`
	ID        string     `json:"id,omitempty"`
	Name      string     `json:"name"`
	Address   string     `json:"address"`
	Platform  string     `json:"platform,omitempty"` // name or id; default Linux
	Protocols []Protocol `json:"protocols,omitempty"`
	Nodes     []string   `json:"nodes,omitempty"`  // paths; default the root
	Labels    []string   `json:"labels,omitempty"` // "name:value"
	Zone      string     `json:"zone,omitempty"`   // zone name
	Comment   string     `json:"comment,omitempty"`
	IsActive  *bool      `json:"is_active,omitempty"`
	Templates []string   `json:"templates,omitempty"` // account template names
}

// SeedGenerate creates Count hosts named Prefix+number (from Start),
// addressed 10.x.y.z, in Node, with Labels.
type SeedGenerate struct {
	Org      string   `json:"org,omitempty"`
	Count    int      `json:"count"`
	Start    int      `json:"start,omitempty"`
	Prefix   string   `json:"prefix,omitempty"`
	Platform string   `json:"platform,omitempty"`
	Node     string   `json:"node,omitempty"`
	Labels   []string `json:"labels,omitempty"`
	Comment  string   `json:"comment,omitempty"`
}

// Seed applies a seed. It fails on the first conflict (leaving what was
// applied before it).
func (s *Server) Seed(sd Seed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	orgOf := func(v string) (*org, error) {
		o := s.lookupOrg(v)
		if o == nil {
			return nil, fmt.Errorf("jmssim: seed: cannot write in the root org")
		}
		return o, nil
	}
	for _, o := range sd.Orgs {
		id := strings.ToLower(o.ID)
		if id == "" {
			id = s.newID()
		}
		if s.st.orgByID[id] != nil {
			continue
		}
		s.addOrg(id, o.Name, false)
	}
	for _, n := range sd.Nodes {
		o, err := orgOf(n.Org)
		if err != nil {
			return err
		}
		s.ensurePath(o, n.Path)
	}
	for _, z := range sd.Zones {
		o, err := orgOf(z.Org)
		if err != nil {
			return err
		}
		if o.zones[z.Name] != nil {
			continue
		}
		id := strings.ToLower(z.ID)
		if id == "" {
			id = s.newID()
		}
		zz := &zone{id: id, name: z.Name, org: o, created: s.now()}
		o.zones[z.Name] = zz
		s.st.zones[id] = zz
	}
	for _, t := range sd.Templates {
		o, err := orgOf(t.Org)
		if err != nil {
			return err
		}
		id := strings.ToLower(t.ID)
		if id == "" {
			id = s.newID()
		}
		st := t.SecretType
		if st == "" {
			st = "password"
		}
		tt := &template{id: id, name: t.Name, username: t.Username, secretType: st, secret: t.Secret,
			privileged: t.Privileged, active: true, autoPush: t.AutoPush, org: o, created: s.now(), updated: s.now()}
		s.st.tmpls[id] = tt
		o.tmpls[t.Name] = tt
	}
	for _, a := range sd.Assets {
		if err := s.seedAsset(a); err != nil {
			return err
		}
	}
	for _, g := range sd.Generate {
		prefix := g.Prefix
		if prefix == "" {
			prefix = "seed-host-"
		}
		for i := g.Start; i < g.Start+g.Count; i++ {
			a := SeedAsset{Org: g.Org, Name: prefix + strconv.Itoa(i), Platform: g.Platform, Labels: g.Labels,
				Address: fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255), Comment: g.Comment}
			if g.Node != "" {
				a.Nodes = []string{g.Node}
			}
			if err := s.seedAsset(a); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) seedAsset(sa SeedAsset) error {
	o := s.lookupOrg(sa.Org)
	if o == nil {
		return fmt.Errorf("jmssim: seed: cannot write in the root org")
	}
	pn := sa.Platform
	if pn == "" {
		pn = "Linux"
	}
	p := s.findPlatform(pn)
	if p == nil {
		return fmt.Errorf("jmssim: seed: unknown platform %q", pn)
	}
	if sa.Name == "" {
		return fmt.Errorf("jmssim: seed: asset without a name")
	}
	if o.byName[s.nameKey(sa.Name)] != nil {
		return fmt.Errorf("jmssim: seed: name %q is taken in org %s", sa.Name, o.name)
	}
	id := s.newID()
	if sa.ID != "" {
		u, err := uuid.Parse(sa.ID)
		if err != nil {
			return fmt.Errorf("jmssim: seed: id %q: %w", sa.ID, err)
		}
		id = u.String()
	}
	if s.st.assets[id] != nil {
		return fmt.Errorf("jmssim: seed: id %s is taken", id)
	}
	now := s.now()
	a := &asset{id: id, name: sa.Name, address: sa.Address, org: o, platform: p, category: p.Category, typ: p.Type,
		protocols: sa.Protocols, active: true, comment: sa.Comment, connectivity: "-", created: now, updated: now,
		createdBy: s.opts.CreatedBy}
	if a.protocols == nil {
		a.protocols = defaultProtocols(p)
	}
	if sa.IsActive != nil {
		a.active = *sa.IsActive
	}
	for _, path := range sa.Nodes {
		n, _ := s.ensurePath(o, path)
		a.nodes = append(a.nodes, n)
	}
	if len(a.nodes) == 0 {
		a.nodes = []*node{o.root}
	}
	a.nodes = dedup(a.nodes)
	for _, l := range sa.Labels {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return fmt.Errorf("jmssim: seed: label %q is not name:value", l)
		}
		a.labels = append(a.labels, s.getOrCreateLabel(o, k, v))
	}
	if sa.Zone != "" {
		z := o.zones[sa.Zone]
		if z == nil {
			return fmt.Errorf("jmssim: seed: unknown zone %q", sa.Zone)
		}
		if p.GatewayEnabled {
			a.zone = z
		}
	}
	s.insertAsset(a)
	for _, tn := range sa.Templates {
		t := o.tmpls[tn]
		if t == nil {
			return fmt.Errorf("jmssim: seed: unknown template %q", tn)
		}
		s.newAccount(a, accountSpec{tmpl: t, name: t.name, username: t.username, secretType: t.secretType,
			secret: t.secret, privileged: t.privileged, active: true})
	}
	return nil
}

// ---------------------------------------------------------------- HTTP

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/_sim"), "/")
	bad := func(err error) { s.writeJSON(w, 400, map[string]string{"error": err.Error()}) }
	switch {
	case path == "" && r.Method == "GET":
		s.writeJSON(w, 200, map[string]any{"version": s.opts.Version, "endpoints": []string{
			"GET /_sim/state[?assets=false]", "POST /_sim/reset", "POST /_sim/seed", "GET|PUT|PATCH /_sim/knobs",
			"GET /_sim/counters", "POST /_sim/counters/reset", "GET /_sim/log[?limit=N]", "GET /_sim/options"}})
	case path == "/state" && r.Method == "GET":
		s.writeJSON(w, 200, s.state(r.URL.Query().Get("assets") != "false"))
	case path == "/reset" && r.Method == "POST":
		s.Reset()
		s.writeJSON(w, 200, map[string]bool{"ok": true})
	case path == "/seed" && r.Method == "POST":
		var sd Seed
		if err := json.NewDecoder(r.Body).Decode(&sd); err != nil {
			bad(err)
			return
		}
		if err := s.Seed(sd); err != nil {
			s.writeJSON(w, 409, map[string]string{"error": err.Error()})
			return
		}
		s.writeJSON(w, 200, map[string]any{"ok": true, "total_assets": s.AssetCount("root")})
	case path == "/knobs" && r.Method == "GET":
		s.writeJSON(w, 200, s.Knobs())
	case path == "/knobs" && (r.Method == "PUT" || r.Method == "PATCH"):
		var raw map[string]any
		if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
			bad(err)
			return
		}
		for _, k := range []string{"latency", "per_item_cost"} {
			if str, ok := raw[k].(string); ok {
				d, err := time.ParseDuration(str)
				if err != nil {
					bad(fmt.Errorf("%s: %w", k, err))
					return
				}
				raw[k] = int64(d)
			}
		}
		b, _ := json.Marshal(raw)
		k := Knobs{}
		if r.Method == "PATCH" {
			k = s.Knobs()
		}
		if err := json.Unmarshal(b, &k); err != nil {
			bad(err)
			return
		}
		s.SetKnobs(k)
		s.writeJSON(w, 200, s.Knobs())
	case path == "/counters" && r.Method == "GET":
		s.writeJSON(w, 200, s.Counters())
	case path == "/counters/reset" && r.Method == "POST":
		s.ResetCounters()
		s.writeJSON(w, 200, map[string]bool{"ok": true})
	case path == "/log" && r.Method == "GET":
		log := s.RequestLog()
		if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n >= 0 && n < len(log) {
			log = log[len(log)-n:]
		}
		s.writeJSON(w, 200, log)
	case path == "/options" && r.Method == "GET":
		o := s.opts
		s.writeJSON(w, 200, map[string]any{"version": o.Version, "root_node_name": o.RootNodeName,
			"case_insensitive_names": o.CaseInsensitiveNames, "orgs": o.Orgs, "access_keys": o.AccessKeys})
	default:
		s.writeJSON(w, 404, map[string]string{"error": "unknown simulator control endpoint"})
	}
}
