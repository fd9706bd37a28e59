package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

func TestSplitPass(t *testing.T) {
	ins := aliyunInstances(200)
	const limit = 8 << 10
	chunks, err := events.SplitPass("p1", scopeA, ins, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 2 {
		t.Fatalf("%d chunks for 200 instances at %d bytes", len(chunks), limit)
	}
	var got []asset.Instance
	for i, c := range chunks {
		if c.Index != i || c.PassID != "p1" || c.Scope != scopeA {
			t.Fatalf("chunk %d header %+v", i, c)
		}
		b, err := events.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > limit {
			t.Fatalf("chunk %d is %d bytes, over %d", i, len(b), limit)
		}
		if i < len(chunks)-1 {
			next, _ := json.Marshal(&chunks[i+1].Instances[0])
			if len(b)+1+len(next) <= limit {
				t.Errorf("chunk %d (%d bytes) could have taken the next instance (%d)", i, len(b), len(next))
			}
		}
		got = append(got, c.Instances...)
	}
	if len(got) != len(ins) {
		t.Fatalf("%d instances after split, want %d", len(got), len(ins))
	}
	for i := range ins {
		if got[i].InstanceID != ins[i].InstanceID {
			t.Fatalf("order changed at %d", i)
		}
	}
	// Appending to a chunk must not overwrite the next chunk's instances.
	_ = append(chunks[0].Instances, asset.Instance{})
	if chunks[1].Instances[0].InstanceID != got[len(chunks[0].Instances)].InstanceID {
		t.Fatal("chunks share capacity")
	}

	if cs, err := events.SplitPass("p1", scopeA, nil, limit); err != nil || len(cs) != 0 {
		t.Fatalf("empty pass: %v, %v", cs, err)
	}
	if _, err := events.SplitPass("p1", scopeA, ins[:1], 100); err == nil || !strings.Contains(err.Error(), ins[0].InstanceID) {
		t.Fatalf("oversized instance: %v", err)
	}
}

// TestPassRoundTrip is the collector → reconciler path: split, encode,
// decode, re-digest; the counts and digest of the close record match.
func TestPassRoundTrip(t *testing.T) {
	ins := aliyunInstances(123)
	passID := events.NewPassID()
	chunks, err := events.SplitPass(passID, scopeA, ins, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	var d asset.Digester
	for _, in := range ins {
		_ = d.Add(in)
	}
	closeRec := events.NewPassComplete(passID, scopeA, len(chunks), d.Count(), d.Sum(), "1234", 9, t0, t0.Add(time.Second), "c0")
	wire := [][]byte{}
	for i := len(chunks) - 1; i >= 0; i-- { // arrival order does not matter
		b, err := events.Encode(chunks[i])
		if err != nil {
			t.Fatal(err)
		}
		wire = append(wire, b)
	}
	var rd asset.Digester
	n := 0
	for _, b := range wire {
		c, err := events.DecodeAs[*events.SnapshotChunk](b)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, in := range c.Instances {
			_ = rd.Add(in)
		}
	}
	cb, _ := events.Encode(closeRec)
	pc, err := events.DecodeAs[*events.PassClose](cb)
	if err != nil {
		t.Fatal(err)
	}
	if n != pc.ChunkCount || rd.Count() != pc.InstanceCount || rd.Sum() != pc.Digest {
		t.Fatalf("received %d chunks %d instances %s; close says %d %d %s", n, rd.Count(), rd.Sum(), pc.ChunkCount, pc.InstanceCount, pc.Digest)
	}
}

func TestChunkRejectsForeignInstance(t *testing.T) {
	ins := aliyunInstances(2)
	ins[1].Region = "cn-beijing"
	err := events.NewSnapshotChunk("p1", scopeA, 0, ins).Validate()
	if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), "instances[1]") {
		t.Fatalf("err = %v", err)
	}
	ins = aliyunInstances(2)
	ins[0].PrivateIPs = []string{"nope"}
	err = events.NewSnapshotChunk("p1", scopeA, 0, ins).Validate()
	if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), "instances[0].private_ips[0]") {
		t.Fatalf("nested instance error not named: %v", err)
	}
}

func TestOps(t *testing.T) {
	seen := map[events.AppliedOp]bool{}
	for _, op := range events.Ops() {
		a := op.Applied()
		if !a.Valid() || seen[a] {
			t.Errorf("%s → %q", op, a)
		}
		seen[a] = true
	}
	if len(seen) != len(events.AppliedOps()) {
		t.Errorf("applied ops %v not all reachable", events.AppliedOps())
	}
	if events.Op("x").Valid() || events.Op("x").Applied() != "" {
		t.Error("unknown op accepted")
	}
}

func TestMsgIDsAreDeterministicAndDistinct(t *testing.T) {
	a, b := realMessages(t), realMessages(t)
	ids := map[string]string{}
	for i := range a {
		id := a[i].MsgID()
		switch a[i].SchemaID() {
		case events.SchemaSnapshotChunk, events.SchemaPassClose, events.SchemaRunRecord:
			// these embed pass and run ids, fresh in every build of the fixture
		default:
			if id != b[i].MsgID() {
				t.Errorf("%s MsgID not deterministic: %s vs %s", a[i].SchemaID(), id, b[i].MsgID())
			}
		}
		if prev, dup := ids[id]; dup {
			t.Errorf("MsgID %s shared by %s and %s", id, prev, a[i].SchemaID())
		}
		ids[id] = a[i].SchemaID()
	}
	it := events.NewIntent(events.OpUpdate, asset.AssetID("i", "o", asset.Aliyun, "i-1"), asset.ID{Provider: asset.Aliyun, InstanceID: "i-1"},
		5, nil, "c", "r", scopeA, "", t0)
	if it.MsgID() != "aliyun.i-1:5" {
		t.Errorf("intent MsgID %s", it.MsgID())
	}
}

func TestAppliedFactBeforeAfter(t *testing.T) {
	st := &events.AssetState{Name: "n", Address: "10.0.0.1", Platform: "Linux", IsActive: true}
	id := asset.ID{Provider: asset.Aliyun, InstanceID: "i-1"}
	mk := func(op events.Op, before, after *events.AssetState) error {
		it := events.NewIntent(op, id.AssetID("x", "o"), id, 1, nil, "c", "r1", scopeA, "", t0)
		return events.NewAppliedFact(it, before, after, t0, jsRef).Validate()
	}
	for _, tt := range []struct {
		op            events.Op
		before, after *events.AssetState
		ok            bool
	}{
		{events.OpCreate, nil, st, true},
		{events.OpCreate, st, st, false},
		{events.OpCreate, nil, nil, false},
		{events.OpUpdate, st, st, true},
		{events.OpUpdate, nil, st, false},
		{events.OpDelete, st, nil, true},
		{events.OpDelete, st, st, false},
		{events.OpDeactivate, st, st, true},
	} {
		if err := mk(tt.op, tt.before, tt.after); (err == nil) != tt.ok {
			t.Errorf("%s before=%v after=%v: %v", tt.op, tt.before != nil, tt.after != nil, err)
		}
	}
	it := events.NewIntent(events.OpCreate, id.AssetID("x", "o"), id, 1, nil, "c", "r1", scopeA, "", t0)
	for _, u := range []string{"https://u:p@jms.example.com", "ftp://jms", "jms.example.com", "https://jms/?token=x", "https://jms/#x"} {
		f := events.NewAppliedFact(it, nil, st, t0, events.JumpServerRef{URL: u, OrgID: "o"})
		if err := f.Validate(); err == nil || !strings.Contains(err.Error(), "jumpserver.url") {
			t.Errorf("url %q: %v", u, err)
		}
	}
}

func TestIntentValidate(t *testing.T) {
	id := asset.ID{Provider: asset.Aliyun, InstanceID: "i-1"}
	ok := events.NewIntent(events.OpDelete, id.AssetID("x", "o"), id, 2, nil, "absent_2_passes", "r1", scopeA, "p1", t0)
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := *ok
	bad.Op, bad.Generation, bad.Scope = events.OpCreate, 0, scopeH
	err := bad.Validate()
	for _, want := range []string{"desired: required for op create", "generation", "identity.provider"} {
		if !strings.Contains(fmtErr(err), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestAlertSecrets(t *testing.T) {
	for _, k := range []string{"password", "AccessKeySecret", "access_key_id", "db_passwd", "Authorization", "x-auth-token", "api_key", "session_id"} {
		if !events.SecretKey(k) {
			t.Errorf("SecretKey(%q) = false", k)
		}
	}
	for _, k := range []string{"plan", "deletions", "fencing_token", "scope", "threshold"} {
		if events.SecretKey(k) {
			t.Errorf("SecretKey(%q) = true", k)
		}
	}
	a := events.NewAlert(events.AlertPassFailed, events.SeverityWarning, &scopeA, "m", "s1", "reconciler", t0,
		map[string]string{"secret": "x"})
	if err := a.Validate(); !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), "details.secret") {
		t.Fatalf("err = %v", err)
	}
	a.Details = map[string]string{"Bad Key": "x"}
	if err := a.Validate(); err == nil {
		t.Fatal("non-snake_case key accepted")
	}
}

func TestDeadLetter(t *testing.T) {
	big := make([]byte, events.MaxDeadLetterData+10)
	d := events.NewDeadLetter("applier", "malformed", errors.New("line1\nline2\t"+strings.Repeat("界", 1000)),
		"jmssync.intent.x", "INTENTS", 7, 3, big, t0)
	if !d.Truncated || len(d.Data) != events.MaxDeadLetterData {
		t.Fatalf("data not cut: %d %v", len(d.Data), d.Truncated)
	}
	if strings.ContainsAny(d.Error, "\n\t") {
		t.Fatalf("control characters kept: %q", d.Error)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.MsgID() != "applier:INTENTS:7" {
		t.Fatalf("MsgID %s", d.MsgID())
	}
}

func TestRunRecord(t *testing.T) {
	open := events.NewRunOpen("r1", t0, "manual", []events.RunScope{{Scope: scopeA, ExpectedIntents: 3}, {Scope: scopeH, ExpectedIntents: 2}})
	if open.ExpectedIntents() != 5 || open.Validate() != nil {
		t.Fatalf("open: %d %v", open.ExpectedIntents(), open.Validate())
	}
	closed := events.NewRunClosed(open, events.RunSummary{ClosedAt: t0.Add(time.Minute)})
	if err := closed.Validate(); err != nil || closed.MsgID() == open.MsgID() {
		t.Fatalf("closed: %v", err)
	}
	closed.Summary = nil
	if err := closed.Validate(); err == nil {
		t.Fatal("closed run without summary accepted")
	}
}

func TestIDs(t *testing.T) {
	a, b := events.NewPassID(), events.NewRunID()
	if !events.ValidToken(a) || !events.ValidToken(b) || a == b {
		t.Fatalf("%s %s", a, b)
	}
	for _, s := range []string{"", "a.b", "a*", "a b", strings.Repeat("x", 65), "名"} {
		if events.ValidToken(s) {
			t.Errorf("ValidToken(%q)", s)
		}
	}
}

func TestScopeValidate(t *testing.T) {
	if err := scopeA.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (events.Scope{Provider: "aws"}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "scope.provider") || !strings.Contains(err.Error(), "scope.region") {
		t.Fatalf("err = %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
