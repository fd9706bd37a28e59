package plan

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
)

var (
	t0     = time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC)
	scopeA = events.Scope{Provider: asset.Aliyun, AccountID: "prod", AccountName: "生产", Region: "cn-hangzhou"}
	scopeB = events.Scope{Provider: asset.Aliyun, AccountID: "prod", AccountName: "生产", Region: "cn-shanghai"}
	scopeH = events.Scope{Provider: asset.HuaweiCloud, AccountID: "hw", Region: "cn-north-4"}
)

func testPolicy() Policy {
	p := DefaultPolicy("test", "00000000-0000-0000-0000-000000000002", "DEFAULT")
	p.Accounts = map[string]Account{"prod": {Name: "生产", Zone: "dmz"}, "hw": {Name: "huawei-main"}}
	return p
}

// vm builds a running Linux instance of scope s with one private IP.
func vm(s events.Scope, id, name, ip string) asset.Instance {
	in := asset.Instance{
		Provider: s.Provider, AccountID: s.AccountID, Region: s.Region, InstanceID: id, Name: name,
		OSType: asset.Linux, State: asset.Running, Status: "Running",
	}
	if ip != "" {
		in.PrivateIPs = []string{ip}
	}
	return in
}

func with(in asset.Instance, f func(*asset.Instance)) asset.Instance {
	if f != nil {
		f(&in)
	}
	return in
}

func ids(s events.Scope, n int) []asset.Instance {
	out := make([]asset.Instance, n)
	for i := range out {
		out[i] = vm(s, fmt.Sprintf("i-%s-%03d", s.Region, i), fmt.Sprintf("web-%s-%d", s.Region, i), fmt.Sprintf("10.%d.%d.%d", len(s.Region), i/250, i%250+1))
	}
	return out
}

// world is a small simulation: passes in, intents applied to the mirror by
// a fake applier, state fed back.
type world struct {
	t       *testing.T
	p       Policy
	now     time.Time
	mirror  map[string]*mirror.Entry
	states  map[string]ScopeState
	orphans OrphanState
	run     int
}

func newWorld(t *testing.T, p Policy) *world {
	return &world{t: t, p: p, now: t0, mirror: map[string]*mirror.Entry{}, states: map[string]ScopeState{}}
}

type scopePass struct {
	scope    events.Scope
	pass     *Pass
	rejected string
	confirm  string
}

// cycle runs Diff, checks the output's contracts, stores the new state and
// returns the output. It does not apply the intents.
func (w *world) cycle(sp ...scopePass) Output {
	w.t.Helper()
	return w.cycleWith(nil, sp...)
}

func (w *world) cycleWith(prune []events.Scope, sp ...scopePass) Output {
	w.t.Helper()
	w.run++
	in := Input{Now: w.now, RunID: fmt.Sprintf("run-%d", w.run), Trigger: "test", Policy: w.p, Mirror: w.mirror,
		Orphans: w.orphans, Prune: prune}
	for _, s := range sp {
		in.Scopes = append(in.Scopes, ScopeInput{Scope: s.scope, Pass: s.pass, Rejected: s.rejected,
			State: w.states[ScopeKey(s.scope)], Confirm: s.confirm})
	}
	out, err := Diff(in)
	if err != nil {
		w.t.Fatal(err)
	}
	checkOutput(w.t, &out)
	for _, r := range out.Scopes {
		w.states[ScopeKey(r.Scope)] = r.State
	}
	w.orphans = out.Orphans
	return out
}

// applyAll is the fake applier: what the real one writes to the mirror.
func (w *world) applyAll(intents []events.Intent) {
	w.t.Helper()
	w.mirror = applyIntents(w.mirror, intents, w.now)
}

func applyIntents(m map[string]*mirror.Entry, intents []events.Intent, now time.Time) map[string]*mirror.Entry {
	out := make(map[string]*mirror.Entry, len(m))
	for k, e := range m {
		c := *e
		c.State.Labels = slices.Clone(e.State.Labels)
		c.State.Nodes = slices.Clone(e.State.Nodes)
		out[k] = &c
	}
	for _, in := range intents {
		k := in.Identity.Key()
		e := out[k]
		if e != nil && in.Generation <= e.Generation {
			continue
		}
		switch in.Op {
		case events.OpCreate:
			d := in.Desired
			e = &mirror.Entry{AssetID: in.AssetID, Identity: in.Identity, Scope: in.Scope, State: events.AssetState{
				Name: d.Name, Address: d.Address, Platform: d.Platform, Protocols: append(slices.Clone(d.Protocols), events.Protocol{Name: "sftp", Port: 22}),
				Nodes: []string{d.NodePath}, Labels: slices.Clone(d.Labels), Zone: d.Zone, IsActive: d.IsActive, Comment: d.Comment,
			}}
			out[k] = e
		case events.OpUpdate, events.OpActivate, events.OpDeactivate:
			d := in.Desired
			e.Scope = in.Scope
			e.Orphaned = false
			e.State.Address, e.State.Platform = d.Address, d.Platform
			if !slices.Contains(e.State.Nodes, d.NodePath) {
				e.State.Nodes = append(e.State.Nodes, d.NodePath)
			}
			for _, l := range d.Labels { // ours replace ours by name; others kept
				e.State.Labels = slices.DeleteFunc(e.State.Labels, func(h events.Label) bool { return h.Name == l.Name })
				e.State.Labels = append(e.State.Labels, l)
			}
			if d.Zone != "" {
				e.State.Zone = d.Zone
			}
			switch in.Op {
			case events.OpActivate:
				e.State.IsActive, e.DeactivatedBySync, e.DeactivatedAt = true, false, time.Time{}
			case events.OpDeactivate:
				e.State.IsActive, e.DeactivatedBySync, e.DeactivatedAt = false, true, now
			}
		case events.OpDelete:
			e.Deleted = true
		case events.OpOrphan:
			e.Orphaned = true
		}
		e.Generation = in.Generation
		e.UpdatedAt = now
	}
	return out
}

// checkOutput validates every message Diff produced against the contracts.
func checkOutput(t *testing.T, out *Output) {
	t.Helper()
	for i := range out.Intents {
		if err := out.Intents[i].Validate(); err != nil {
			t.Fatalf("intent %d invalid: %v", i, err)
		}
	}
	for i := range out.Alerts {
		if err := out.Alerts[i].Validate(); err != nil {
			t.Fatalf("alert %d invalid: %v", i, err)
		}
	}
	if err := out.Run.Validate(); err != nil {
		t.Fatalf("run record invalid: %v", err)
	}
	if got := out.Run.ExpectedIntents(); got != len(out.Intents) {
		t.Fatalf("run expects %d intents, %d issued", got, len(out.Intents))
	}
}

func ops(out Output) map[events.Op]int {
	m := map[events.Op]int{}
	for _, in := range out.Intents {
		m[in.Op]++
	}
	return m
}

func destructive(out Output) int {
	n := 0
	for _, in := range out.Intents {
		if in.Op == events.OpDelete || in.Op == events.OpDeactivate {
			n++
		}
	}
	return n
}

func intentOf(out Output, id string) *events.Intent {
	for i := range out.Intents {
		if out.Intents[i].Identity.InstanceID == id {
			return &out.Intents[i]
		}
	}
	return nil
}

func pass(id string, ins ...asset.Instance) *Pass { return &Pass{ID: id, Instances: ins} }
