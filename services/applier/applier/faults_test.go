package applier

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// TestOutagePausesFetching: JumpServer answering 503 for a stretch opens
// the breaker, fetching pauses (almost nothing is sent while it is open),
// nothing reaches the DLQ, everything lands after recovery; one paused and
// one resumed alert.
func TestOutagePausesFetching(t *testing.T) {
	const n = 100
	e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{Licensed: true}}, func(c *Config) {
		c.FetchBatch = 20
		c.JumpServer.BreakerOpenTimeout = 400 * time.Millisecond
	})
	r := e.start(testHooks{})
	waitFor(t, 10*time.Second, "mirror ready", func() bool { _, ok := readyInfo(t, e); return ok })
	e.sim.SetOutage(true)
	e.publish(creates(e, 0, n, 1), "")
	waitFor(t, 15*time.Second, "the pause alert", func() bool { return len(e.alerts(events.AlertApplierPaused)) == 1 })
	if !r.a.gate.Paused() {
		t.Fatal("gate not paused")
	}
	before := e.sim.Counters().Outage503
	const hold = 2 * time.Second
	time.Sleep(hold)
	during := e.sim.Counters().Outage503 - before
	// while open nothing is sent; one half-open probe per open timeout (400ms)
	if max := int64(hold/(400*time.Millisecond)) + 2; during > max {
		t.Fatalf("%d requests during %s of outage with the breaker open; want at most %d probes", during, hold, max)
	}
	t.Logf("%d requests reached JumpServer in %s while paused", during, hold)
	if e.factCount() != 0 || len(e.dlq()) != 0 {
		t.Fatalf("facts %d, dead letters %d during the outage", e.factCount(), len(e.dlq()))
	}
	e.sim.SetOutage(false)
	waitFor(t, 30*time.Second, "recovery", func() bool { return e.factCount() == n && e.pendingIntents() == 0 })
	e.checkOnePerIdentity(n)
	if d := e.dlq(); len(d) != 0 {
		t.Fatalf("%d dead letters", len(d))
	}
	waitFor(t, 5*time.Second, "the resume alert", func() bool { return len(e.alerts(events.AlertApplierResumed)) == 1 })
	if p, rs := e.alerts(events.AlertApplierPaused), e.alerts(events.AlertApplierResumed); len(p) != 1 || len(rs) != 1 || p[0].StateChangeID != rs[0].StateChangeID {
		t.Fatalf("alerts: %d paused, %d resumed", len(p), len(rs))
	}
}

// TestPartialBatches: a 400 batch with one bad item and a 500 batch with
// one name clash with a non-host asset: all other items land; the bad one
// is dead-lettered with JumpServer's reason; the clash is resolved with the
// deterministic suffix (the name index did not know the database yet).
func TestPartialBatches(t *testing.T) {
	const n = 20
	e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{Licensed: true}}, nil)
	e.start(testHooks{})
	waitFor(t, 10*time.Second, "mirror ready", func() bool { _, ok := readyInfo(t, e); return ok })
	if err := e.sim.Seed(jmssim.Seed{Assets: []jmssim.SeedAsset{{Name: "web-0007", Address: "10.9.9.9", Platform: "MySQL"}}}); err != nil {
		t.Fatal(err)
	}
	ins := creates(e, 0, n, 1)
	ins[3].Desired.Protocols = []events.Protocol{{Name: "rdp", Port: 3389}} // Linux requires ssh: 400 for this item
	e.publish(ins, "")
	waitFor(t, 20*time.Second, "settled", func() bool { return e.pendingIntents() == 0 && e.factCount() == n-1 && len(e.dlq()) == 1 })
	d := e.dlq()[0]
	if d.Header.Get(natsx.HeaderDLQReason) != ReasonRejected || !strings.Contains(d.Header.Get(natsx.HeaderDLQError), "ssh") {
		t.Fatalf("dead letter: reason %q error %q", d.Header.Get(natsx.HeaderDLQReason), d.Header.Get(natsx.HeaderDLQError))
	}
	in, err := events.DecodeAs[*events.Intent](d.Data)
	if err != nil || in.Identity != ident(3) {
		t.Fatalf("dead letter carries %v %v", in, err)
	}
	hs := e.hosts()
	for i := range n {
		h, ok := hs[assetIDOf(e, i).String()]
		switch {
		case i == 3 && ok:
			t.Fatal("the bad item was created")
		case i == 7 && (!ok || h.Name != "web-0007-000007"):
			t.Fatalf("clashing item: %+v", h)
		case i != 3 && i != 7 && (!ok || h.Name != fmt.Sprintf("web-%04d", i)):
			t.Fatalf("item %d: %+v", i, h)
		}
	}
	if dbs := e.sim.FindAssets("", "web-0007"); len(dbs) != 1 || dbs[0].Category != "database" {
		t.Fatalf("the database: %+v", dbs)
	}
}

// TestOperatorChangesSurvive: an operator's extra label, extra node, custom
// SSH port and deactivation survive an update.
func TestOperatorChangesSurvive(t *testing.T) {
	e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{Licensed: true}}, nil)
	own := []string{"jmssync:" + testInstall, "jmssync-provider:aliyun", "jmssync-account:acct-1", "jmssync-region:cn-hangzhou"}
	inactive := false
	// as it is after the operator's edits of an asset jms-sync created
	if err := e.sim.Seed(jmssim.Seed{Assets: []jmssim.SeedAsset{{
		ID: assetIDOf(e, 0).String(), Name: "web-0000", Address: desired(0).Address, Platform: "Linux",
		Protocols: []jmssim.Protocol{{Name: "ssh", Port: 2222}},
		Nodes:     []string{testNodePath, "/DEFAULT/ops-team"}, Labels: append(slices.Clone(own), "team:ops", "jmssync-region:old"),
		Zone: testZone, IsActive: &inactive,
	}}}); err != nil {
		t.Fatal(err)
	}
	e.start(testHooks{})
	waitFor(t, 10*time.Second, "mirror ready", func() bool { _, ok := readyInfo(t, e); return ok })
	for gen := uint64(2); gen <= 3; gen++ { // without, then with a mirror entry
		d := desired(0)
		d.Address = fmt.Sprintf("10.200.0.%d", gen)
		e.publish([]*events.Intent{intent(e, events.OpUpdate, 0, gen, d)}, "")
		waitFor(t, 10*time.Second, "the update", func() bool { return e.factCount() == int(gen-1) })
		h := e.hosts()[assetIDOf(e, 0).String()]
		labels := slices.Sorted(slices.Values(h.Labels))
		want := slices.Sorted(slices.Values(append(slices.Clone(own), "team:ops")))
		switch {
		case h.Address != d.Address:
			t.Fatalf("address %s", h.Address)
		case !slices.Equal(labels, want):
			t.Fatalf("labels %v, want %v", labels, want)
		case !slices.Contains(h.Nodes, "/DEFAULT/ops-team") || !slices.Contains(h.Nodes, testNodePath):
			t.Fatalf("nodes %v", h.Nodes)
		case len(h.Protocols) != 1 || h.Protocols[0].Port != 2222:
			t.Fatalf("protocols %v", h.Protocols)
		case h.IsActive:
			t.Fatal("the operator's deactivation was undone")
		}
	}
	// an activate intent does not undo a human's deactivation either
	e.publish([]*events.Intent{intent(e, events.OpActivate, 0, 4, desired(0))}, "")
	waitFor(t, 10*time.Second, "the activate", func() bool { return e.factCount() == 3 })
	if e.hosts()[assetIDOf(e, 0).String()].IsActive {
		t.Fatal("activate undid a human's deactivation")
	}
	if len(e.dlq()) != 0 {
		t.Fatal("dead letters")
	}
}

// TestCapFitsCreates: at the Community Edition cap creates stop at the cap,
// deletions still run (first), one alert; creates resume when room appears.
func TestCapFitsCreates(t *testing.T) {
	e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{AssetCap: 30}}, func(c *Config) { c.JumpServer.AssetCap = 30 })
	if err := e.sim.Seed(jmssim.Seed{Generate: []jmssim.SeedGenerate{{Count: 20, Prefix: "hand-"}}}); err != nil {
		t.Fatal(err)
	}
	r := e.start(testHooks{})
	e.publish(creates(e, 0, 5, 1), "")
	waitFor(t, 10*time.Second, "5 creates", func() bool { return e.factCount() == 5 })
	r.stop()

	// 10 creates and 3 deletes in one batch: room = 30 - 25 + 3 = 8
	var ins []*events.Intent
	for i := range 3 {
		ins = append(ins, intent(e, events.OpDelete, i, 2, nil))
	}
	ins = append(ins, creates(e, 100, 10, 1)...)
	e.publish(ins, "")
	e.start(testHooks{})
	waitFor(t, 10*time.Second, "deletes and fitted creates", func() bool { return e.factCount() == 5+3+8 })
	time.Sleep(time.Second) // the two waiting creates retry; no second alert
	if got := len(e.hosts()); got != 30 {
		t.Fatalf("%d assets, want the cap (30)", got)
	}
	if a := e.alerts(events.AlertCapReached); len(a) != 1 {
		t.Fatalf("%d cap alerts", len(a))
	}
	if len(e.dlq()) != 0 || e.pendingIntents() != 2 {
		t.Fatalf("dead letters %d, pending %d (want 0, 2)", len(e.dlq()), e.pendingIntents())
	}
	e.publish([]*events.Intent{intent(e, events.OpDelete, 3, 2, nil), intent(e, events.OpDelete, 4, 2, nil)}, "")
	waitFor(t, 10*time.Second, "the waiting creates", func() bool { return e.pendingIntents() == 0 && e.factCount() == 5+5+10 })
	if a := e.alerts(events.AlertCapCleared); len(a) != 1 {
		t.Fatalf("%d cap cleared alerts", len(a))
	}
	if got := len(e.hosts()); got != 30 {
		t.Fatalf("%d assets", got)
	}
}

// TestPoisonAndNotOwned: bad input and assets without our label go to the
// DLQ with their reason; the stream goes on; a hand-made host is untouched.
func TestPoisonAndNotOwned(t *testing.T) {
	e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{Licensed: true}}, nil)
	if err := e.sim.Seed(jmssim.Seed{Assets: []jmssim.SeedAsset{{
		ID: assetIDOf(e, 1).String(), Name: "hand-made", Address: "10.7.7.7", Nodes: []string{testNodePath},
	}}}); err != nil {
		t.Fatal(err)
	}
	e.start(testHooks{})
	e.publishRaw([]byte("not json"), "garbage-1")
	bad := intent(e, events.OpCreate, 2, 1, desired(2))
	bad.AssetID = assetIDOf(e, 99)
	e.publish([]*events.Intent{
		intent(e, events.OpCreate, 0, 1, desired(0)),
		intent(e, events.OpCreate, 1, 1, desired(1)), // id held by a hand-made host
		bad,
	}, "")
	waitFor(t, 15*time.Second, "first round", func() bool { return e.pendingIntents() == 0 && len(e.dlq()) == 3 })
	e.publish([]*events.Intent{intent(e, events.OpDelete, 1, 2, nil)}, "")
	waitFor(t, 15*time.Second, "settled", func() bool { return e.pendingIntents() == 0 && len(e.dlq()) == 4 })
	reasons := map[string]int{}
	for _, m := range e.dlq() {
		reasons[m.Header.Get(natsx.HeaderDLQReason)]++
	}
	if reasons[ReasonMalformed] != 1 || reasons[ReasonNotOwned] != 2 || reasons[ReasonAssetIDMismatch] != 1 {
		t.Fatalf("reasons %v", reasons)
	}
	h := e.hosts()[assetIDOf(e, 1).String()]
	if h.Name != "hand-made" || h.Address != "10.7.7.7" || len(h.Labels) != 0 {
		t.Fatalf("the hand-made host was touched: %+v", h)
	}
	if e.factCount() != 1 {
		t.Fatalf("%d facts", e.factCount())
	}
}

// TestCapFitsCreatesOfBatchesSideBySide: with small fetch batches two of
// them are handled at once, and still the creates are fitted to the room
// left (safety rule 10): JumpServer never has to refuse one.
func TestCapFitsCreatesOfBatchesSideBySide(t *testing.T) {
	e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{AssetCap: 30}}, func(c *Config) {
		c.JumpServer.AssetCap = 30
		c.FetchBatch = 3
	})
	if err := e.sim.Seed(jmssim.Seed{Generate: []jmssim.SeedGenerate{{Count: 20, Prefix: "hand-"}}}); err != nil {
		t.Fatal(err)
	}
	e.publish(creates(e, 0, 16, 1), "") // room for 10
	e.start(testHooks{})
	waitFor(t, 10*time.Second, "the fitted creates", func() bool { return e.factCount() == 10 })
	time.Sleep(500 * time.Millisecond)
	if got := len(e.hosts()); got != 30 {
		t.Fatalf("%d assets, want the cap (30)", got)
	}
	for _, r := range e.sim.RequestLog() {
		if r.Method == http.MethodPost && strings.HasPrefix(r.Path, "/api/v1/assets/hosts") && r.Status >= 400 {
			t.Fatalf("JumpServer refused a create (%d): the room was counted twice", r.Status)
		}
	}
	if e.pendingIntents() != 6 || len(e.dlq()) != 0 {
		t.Fatalf("pending %d, dead letters %d (want 6, 0)", e.pendingIntents(), len(e.dlq()))
	}
}
