package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
	"github.com/jmssync/jmssync/services/applier/applier"
	"github.com/jmssync/jmssync/services/jms-sync/internal/app"
	"github.com/jmssync/jmssync/services/jms-sync/internal/cli"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// pythonComment is the comment the Python jms-sync wrote on create.
func pythonComment(in *cloudinv.Instance) string {
	return "由JMS-Sync同步于 2024-05-01 10:00:00\ninstance_id: " + in.ID + "\ninstance_type: " + in.InstanceType +
		"\nregion: " + in.Region
}

// legacyHost is the host the Python jms-sync made for in: the instance
// name, the first private IP, platform by OS type, in the account node,
// no labels.
func legacyHost(in *cloudinv.Instance, node string) jmssim.SeedAsset {
	plat, protos := "Linux", []jmssim.Protocol{{Name: "ssh", Port: 22}}
	if in.OSType == "windows" {
		plat, protos = "Windows", []jmssim.Protocol{{Name: "rdp", Port: 3389}}
	}
	return jmssim.SeedAsset{Name: in.Name, Address: in.PrivateIPs()[0], Platform: plat, Protocols: protos,
		Nodes: []string{node}, Comment: pythonComment(in)}
}

// legacyWorld seeds JumpServer as the Python jms-sync left it: one host
// per mapped instance of every configured region (instances with a name
// another one has are released first: the Python tool could not create
// them). It returns the seeded hosts by instance id.
func legacyWorld(t *testing.T, w *World) map[string]*cloudinv.Instance {
	t.Helper()
	out := map[string]*cloudinv.Instance{}
	var seed jmssim.Seed
	for _, g := range []struct {
		inv     *cloudinv.Inventory
		regions []string
		node    string
	}{{w.AliInv, aliRegions, "/DEFAULT/阿里云/" + aliAccountName}, {w.HWInv, hwRegions, "/DEFAULT/华为云/" + hwAccountName}} {
		seed.Nodes = append(seed.Nodes, jmssim.SeedNode{Path: g.node})
		for _, r := range g.regions {
			for _, in := range g.inv.All(r) {
				switch {
				case in.State != cloudinv.Running && in.State != cloudinv.Stopped, len(in.PrivateIPs()) == 0:
					g.inv.Release(in.ID) // neither tool would make a host of it
				case slices.ContainsFunc(seed.Assets, func(a jmssim.SeedAsset) bool { return strings.EqualFold(a.Name, in.Name) }):
					g.inv.Release(in.ID)
				default:
					seed.Assets = append(seed.Assets, legacyHost(in, g.node))
					out[in.ID] = in
				}
			}
		}
	}
	if err := w.JMS.Seed(seed); err != nil {
		t.Fatal(err)
	}
	return out
}

func (w *World) options(t *testing.T, env map[string]string, dir string) app.CommandOptions {
	t.Helper()
	cfgs, err := app.LoadConfigs(env)
	if err != nil {
		t.Fatal(err)
	}
	return app.CommandOptions{Env: env, Configs: cfgs, DataDir: dir, Timeout: 2 * time.Minute,
		Progress: cli.NewProgress(nil, false), Log: logging.New(io.Discard, "error", "test")}
}

func text(r interface{ Print(io.Writer) }) string {
	var b bytes.Buffer
	r.Print(&b)
	return b.String()
}

// byInstance indexes JumpServer's hosts by the instance id their comment
// names (the Python way), or by name when none.
func byInstance(hosts map[string]jmssim.AssetState) map[string]jmssim.AssetState {
	out := map[string]jmssim.AssetState{}
	for _, h := range hosts {
		if id, ok := asset.LegacyInstanceID(h.Comment); ok {
			out[id] = h
		}
	}
	return out
}

// TestAdopt: the Python jms-sync's hosts are taken over, not doubled.
// `adopt` without -yes shows the plan and writes nothing to JumpServer;
// with -yes the matching hosts keep their ids and get the ownership labels
// and the owned fields; a hand-made host and a host naming an unknown
// instance are left alone; the next `once` writes nothing and creates no
// duplicate. A host the Python tool made for an instance that `once` meets
// before `adopt` is not doubled either: the create is dead-lettered
// (adopt_first) until adopt takes the host over.
func TestAdopt(t *testing.T) {
	t.Parallel()
	w := NewWorld(t, WorldOptions{PerRegion: 5, Seed: 59})
	legacy := legacyWorld(t, w)
	if len(legacy) < 12 {
		t.Fatalf("only %d legacy hosts seeded", len(legacy))
	}
	// One instance moved address since the Python tool ran, one host sits
	// under a node of an account since renamed, one host was made by hand,
	// one names an instance no cloud lists.
	var stale, moved *cloudinv.Instance
	for _, in := range legacy {
		if in.Region == "cn-hangzhou" && stale == nil {
			stale = in
		} else if in.Region == "cn-beijing" && moved == nil {
			moved = in
		}
	}
	oldNode := "/DEFAULT/阿里云/旧账号"
	hostID := func(in *cloudinv.Instance) string { return byInstance(w.Hosts())[in.ID].ID }
	w.Hand(t, "PATCH", "/api/v1/assets/hosts/"+hostID(stale)+"/", map[string]any{"address": "10.250.0.9"})
	if err := w.JMS.Seed(jmssim.Seed{Nodes: []jmssim.SeedNode{{Path: oldNode}}}); err != nil {
		t.Fatal(err)
	}
	w.Hand(t, "PATCH", "/api/v1/assets/hosts/"+hostID(moved)+"/", map[string]any{"nodes": []string{w.NodeID(t, oldNode)}})
	if err := w.JMS.Seed(jmssim.Seed{Assets: []jmssim.SeedAsset{
		{Name: "hand-made-db", Address: "10.99.0.1", Nodes: []string{"/DEFAULT/阿里云/" + aliAccountName}, Comment: "made by hand\nowner: dba"},
		{Name: "gone-server", Address: "10.99.0.2", Nodes: []string{"/DEFAULT/阿里云/" + aliAccountName},
			Comment: "由JMS-Sync同步于 2023-01-01 00:00:00\ninstance_id: i-released00000000\nregion: cn-hangzhou"},
	}}); err != nil {
		t.Fatal(err)
	}
	before := w.Hosts()
	var handID, goneID string
	for id, h := range before {
		switch h.Name {
		case "hand-made-db":
			handID = id
		case "gone-server":
			goneID = id
		}
	}

	env := w.Env()
	dir := t.TempDir()
	o := w.options(t, env, dir)
	ctx := t.Context()

	t.Run("without -yes: the plan, no write", func(t *testing.T) {
		c0 := w.JMS.Counters()
		r, err := app.Adopt(ctx, o, false)
		if err != nil {
			t.Fatal(err)
		}
		out := text(r)
		t.Logf("adopt (dry run):\n%s", out)
		if d := w.JMS.Counters().Writes - c0.Writes; d != 0 {
			t.Fatalf("adopt without -yes made %d non-GET requests to JumpServer\n%s", d, out)
		}
		if r.ExitCode() != app.ExitOK || r.Via != "in-process" {
			t.Fatalf("exit %d via %s\n%s", r.ExitCode(), r.Via, out)
		}
		res := r.Result()
		if res.Adopted != len(legacy) {
			t.Fatalf("%d to adopt, want %d\n%s", res.Adopted, len(legacy), out)
		}
		reasons := map[string]string{}
		for _, it := range res.Items {
			reasons[it.AssetID] = it.Reason
		}
		if reasons[goneID] != reconciler.AdoptNotSeen {
			t.Fatalf("the host of an unknown instance: reason %q, want %s\n%s", reasons[goneID], reconciler.AdoptNotSeen, out)
		}
		if _, ok := reasons[handID]; ok {
			t.Fatalf("the hand-made host is a candidate\n%s", out)
		}
		for _, want := range []string{"10.250.0.9 -> " + stale.PrivateIPs()[0], "+ /DEFAULT/阿里云/" + aliAccountName + " (other nodes kept: " + oldNode + ")",
			"+ jmssync:" + installID, "gone-server", "not seen"} {
			if !strings.Contains(out, want) {
				t.Errorf("plan lacks %q:\n%s", want, out)
			}
		}
		if !reflect.DeepEqual(w.Hosts(), before) {
			t.Fatal("JumpServer changed")
		}
	})

	t.Run("-yes: adopted in place", func(t *testing.T) {
		c0 := w.JMS.Counters()
		r, err := app.Adopt(ctx, o, true)
		if err != nil {
			t.Fatal(err)
		}
		out := text(r)
		if r.ExitCode() != app.ExitOK || r.Result().Adopted != len(legacy) {
			t.Fatalf("exit %d, %d adopted\n%s", r.ExitCode(), r.Result().Adopted, out)
		}
		c := w.JMS.Counters()
		if c.AssetsCreated != c0.AssetsCreated || c.AssetsDeleted != c0.AssetsDeleted {
			t.Fatalf("adopt created %d and deleted %d assets", c.AssetsCreated-c0.AssetsCreated, c.AssetsDeleted-c0.AssetsDeleted)
		}
		hosts := w.Hosts()
		if len(hosts) != len(before) {
			t.Fatalf("%d hosts, was %d", len(hosts), len(before))
		}
		m := mirrorOf(t, o)
		for id, in := range legacy {
			h := byInstance(hosts)[id]
			was := byInstance(before)[id]
			if h.ID != was.ID {
				t.Fatalf("instance %s: host %s, was %s", id, h.ID, was.ID)
			}
			prov := asset.Aliyun
			if slices.Contains(hwRegions, in.Region) {
				prov = asset.HuaweiCloud
			}
			for _, l := range []string{"jmssync:" + installID, "jmssync-provider:" + string(prov), "jmssync-region:" + in.Region} {
				if !slices.Contains(h.Labels, l) {
					t.Fatalf("adopted host %s lacks label %s: %v", h.Name, l, h.Labels)
				}
			}
			if h.Address != in.PrivateIPs()[0] || h.Name != was.Name || h.Comment != was.Comment {
				t.Fatalf("adopted host %+v; want address %s, name and comment kept", h, in.PrivateIPs()[0])
			}
			e := m[asset.ID{Provider: prov, InstanceID: id}.Key()]
			if e == nil || !strings.EqualFold(e.AssetID.String(), h.ID) || e.Deleted {
				t.Fatalf("mirror entry of %s: %+v; want asset %s", id, e, h.ID)
			}
		}
		if h := byInstance(hosts)[moved.ID]; !slices.Contains(h.Nodes, oldNode) || !slices.Contains(h.Nodes, "/DEFAULT/阿里云/"+aliAccountName) {
			t.Fatalf("moved host nodes %v: want ours added, the other kept", h.Nodes)
		}
		for _, id := range []string{handID, goneID} {
			if !reflect.DeepEqual(hosts[id], before[id]) {
				t.Fatalf("host %s changed:\n got %+v\nwant %+v", before[id].Name, hosts[id], before[id])
			}
		}
	})

	t.Run("once after adopt: no write, no duplicate", func(t *testing.T) {
		c0 := w.JMS.Counters()
		r, err := app.Once(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if r.ExitCode() != app.ExitOK || r.IntentsTotal != 0 {
			t.Fatalf("once: exit %d, %d intents\n%s", r.ExitCode(), r.IntentsTotal, text(r))
		}
		if d := w.JMS.Counters().Writes - c0.Writes; d != 0 {
			t.Fatalf("once after adopt made %d writes", d)
		}
		if len(w.Hosts()) != len(before) {
			t.Fatalf("%d hosts after once, want %d", len(w.Hosts()), len(before))
		}
		// adopt again: everything is owned now, nothing to do (refused, 5)
		r2, err := app.Adopt(ctx, o, true)
		if err != nil {
			t.Fatal(err)
		}
		if r2.ExitCode() != app.ExitNotFound || r2.Result().Adopted != 0 {
			t.Fatalf("second adopt: exit %d\n%s", r2.ExitCode(), text(r2))
		}
	})

	t.Run("explain", func(t *testing.T) {
		c0 := w.JMS.Counters()
		h := byInstance(w.Hosts())[stale.ID]
		for _, q := range []string{stale.ID, h.Name, stale.PrivateIPs()[0], h.ID} {
			r, err := app.Explain(ctx, o, q)
			if err != nil {
				t.Fatalf("explain %s: %v", q, err)
			}
			out := text(r)
			// an address may be shared across clouds: the instance is among the items
			i := slices.IndexFunc(r.Items, func(ex *app.Explained) bool { return ex.Identity.InstanceID == stale.ID })
			if r.ExitCode() != app.ExitOK || i < 0 {
				t.Fatalf("explain %s: exit %d, %d items\n%s", q, r.ExitCode(), len(r.Items), out)
			}
			ex := r.Items[i]
			if ex.Identity.InstanceID != stale.ID || len(ex.Seen) != 1 || ex.Seen[0].Scope != "aliyun/"+aliAccountID+"/cn-hangzhou" ||
				ex.Mirror == nil || !strings.EqualFold(ex.Mirror.AssetID.String(), h.ID) || ex.Desired == nil ||
				ex.Desired.NodePath != "/DEFAULT/阿里云/"+aliAccountName {
				t.Fatalf("explain %s:\n%s", q, out)
			}
			if len(ex.Facts) != 1 || ex.Facts[0].Op != "adopted" {
				t.Fatalf("explain %s: facts %+v, want the adoption\n%s", q, ex.Facts, out)
			}
			for _, want := range []string{"SEEN", "address: 10.250.0.9 -> " + stale.PrivateIPs()[0], "nothing to change", h.ID} {
				if !strings.Contains(out, want) {
					t.Errorf("explain %s lacks %q:\n%s", q, want, out)
				}
			}
			if q == stale.ID {
				t.Logf("explain %s:\n%s", q, out)
			}
		}
		r, err := app.Explain(ctx, o, "i-never-heard-of")
		if !errors.Is(err, app.ErrNothingKnown) || r.ExitCode() != app.ExitNotFound || !strings.Contains(text(r), "nothing is known") {
			t.Fatalf("explain of an unknown instance: %v, exit %d\n%s", err, r.ExitCode(), text(r))
		}
		if w.JMS.Counters().Reads != c0.Reads || w.JMS.Counters().Writes != c0.Writes {
			t.Fatal("explain called JumpServer")
		}
	})

	t.Run("once before adopt: no duplicate", func(t *testing.T) {
		late := w.AliInv.Add("cn-hangzhou", "late-legacy-01")
		if err := w.JMS.Seed(jmssim.Seed{Assets: []jmssim.SeedAsset{legacyHost(late, "/DEFAULT/阿里云/"+aliAccountName)}}); err != nil {
			t.Fatal(err)
		}
		n := len(w.Hosts())
		r, err := app.Once(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if r.ExitCode() != app.ExitFailed || len(r.DeadLetters) != 1 || !strings.Contains(text(r), "adopt") {
			t.Fatalf("once meeting a Python host: exit %d\n%s", r.ExitCode(), text(r))
		}
		if got := len(w.Hosts()); got != n {
			t.Fatalf("%d hosts after once, want %d (no duplicate)", got, n)
		}
		a, err := app.Adopt(ctx, o, true)
		if err != nil {
			t.Fatal(err)
		}
		if a.ExitCode() != app.ExitOK || a.Result().Adopted != 1 {
			t.Fatalf("adopt: exit %d\n%s", a.ExitCode(), text(a))
		}
		c0 := w.JMS.Counters()
		r, err = app.Once(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if r.ExitCode() != app.ExitOK || w.JMS.Counters().Writes != c0.Writes || len(w.Hosts()) != n {
			t.Fatalf("once after the late adopt: exit %d, %d writes, %d hosts (want %d)\n%s",
				r.ExitCode(), w.JMS.Counters().Writes-c0.Writes, len(w.Hosts()), n, text(r))
		}
	})
}

// mirrorOf reads the data directory's mirror (no jms-sync runs on it).
func mirrorOf(t *testing.T, o app.CommandOptions) map[string]*mirror.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	bus, err := app.OpenShared(ctx, "", o.DataDir, true, 10*time.Second, o.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	m, err := mirror.Open(ctx, bus.JS)
	if err != nil {
		t.Fatal(err)
	}
	all, err := m.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestAdoptBesideServe: serve ran before adopt. Its creates for the
// instances the Python jms-sync made are dead-lettered (adopt_first)
// instead of doubling the hosts; adopt, answered by the running serve,
// shows the plan without writing, then takes the hosts over; the next
// cycle writes nothing; explain reads the running store.
func TestAdoptBesideServe(t *testing.T) {
	t.Parallel()
	w := NewWorld(t, WorldOptions{PerRegion: 4, Seed: 61})
	legacy := legacyWorld(t, w)
	before := w.Hosts()
	s := w.Start(t, w.Env(), "")
	s.Settle()
	if got := len(w.Hosts()); got != len(before) {
		t.Fatalf("serve before adopt: %d hosts, want %d (no duplicate)", got, len(before))
	}
	dl := s.DeadLetters(applier.Name)
	if len(dl) == 0 || dl[0].Reason != applier.ReasonAdoptFirst {
		t.Fatalf("dead letters %+v; want adopt_first", dl)
	}

	// The harness's stack does not publish its address in the data
	// directory as serve does: the commands find it by JMSSYNC_NATS_URL.
	o := w.options(t, with(w.Env(), "JMSSYNC_NATS_URL", s.Bus.NC.ConnectedUrl()), s.Dir)
	c0 := w.JMS.Counters()
	r, err := app.Adopt(t.Context(), o, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Via != "serve" || r.ExitCode() != app.ExitOK || r.Result().Adopted != len(legacy) {
		t.Fatalf("adopt via serve: via %s exit %d\n%s", r.Via, r.ExitCode(), text(r))
	}
	if d := w.JMS.Counters().Writes - c0.Writes; d != 0 {
		t.Fatalf("dry adopt beside serve: %d writes", d)
	}
	r, err = app.Adopt(t.Context(), o, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.Via != "serve" || r.ExitCode() != app.ExitOK || r.Reply.RunID == "" || !strings.Contains(text(r), "the running jms-sync applies them") {
		t.Fatalf("adopt -yes via serve: via %s exit %d\n%s", r.Via, r.ExitCode(), text(r))
	}
	s.Settle()
	if got := len(w.Managed()); got != len(legacy) {
		t.Fatalf("%d managed hosts after adopt, want %d", got, len(legacy))
	}
	c1 := w.JMS.Counters()
	s.Sync()
	if d := w.JMS.Counters().Writes - c1.Writes; d != 0 || len(w.Hosts()) != len(before) {
		t.Fatalf("cycle after adopt: %d writes, %d hosts (want 0, %d)", d, len(w.Hosts()), len(before))
	}
	for id := range legacy {
		ex, err := app.Explain(t.Context(), o, id)
		if err != nil || len(ex.Items) != 1 || ex.Items[0].Mirror == nil || len(ex.Items[0].DeadLetters) == 0 {
			t.Fatalf("explain %s beside serve: %v\n%s", id, err, text(ex))
		}
		break
	}
}
