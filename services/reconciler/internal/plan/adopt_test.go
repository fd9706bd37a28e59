package plan

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
)

// Our own comment must never read as a Python-made asset.
func TestCommentIsNotLegacy(t *testing.T) {
	in := vm(scopeA, "i-ours", "web", "10.0.0.1")
	if id, ok := asset.LegacyInstanceID(Comment(&in)); ok {
		t.Fatalf("our comment %q reads as instance %q", Comment(&in), id)
	}
}

func adoptInput(mirrorEntries map[string]*mirror.Entry, scopes ...ScopeInput) Input {
	return Input{Now: t0, RunID: "run-adopt", Trigger: "adopt", Policy: testPolicy(), Scopes: scopes, Mirror: mirrorEntries}
}

func TestAdoptMatching(t *testing.T) {
	const aid = "3f0c8f2e-1111-4a4a-9c9c-000000000001"
	uid := func(n string) string { return "3f0c8f2e-1111-4a4a-9c9c-00000000000" + n }
	a := []asset.Instance{
		vm(scopeA, "i-ok", "web-1", "10.0.0.1"),
		vm(scopeA, "i-moved", "web-2", "10.0.0.2"),
		vm(scopeA, "i-dup", "web-3", "10.0.0.3"),
		vm(scopeA, "i-managed", "web-4", "10.0.0.4"),
		vm(scopeA, "i-noaddr", "web-5", ""),
		vm(scopeA, "shared-id", "web-6", "10.0.0.6"),
	}
	h := []asset.Instance{vm(scopeH, "shared-id", "hw-6", "10.1.0.6")}
	managed := asset.ID{Provider: asset.Aliyun, InstanceID: "i-managed"}
	ownedByMirror := asset.ID{Provider: asset.Aliyun, InstanceID: "i-other"}
	m := map[string]*mirror.Entry{
		managed.Key():       {AssetID: managed.AssetID("test", testPolicy().OrgID), Identity: managed, Scope: scopeA, Generation: 5, State: events.AssetState{Name: "web-4"}},
		ownedByMirror.Key(): {AssetID: mustUUID(uid("9")), Identity: ownedByMirror, Scope: scopeA, Generation: 5},
	}
	ours := []events.Label{{Name: "jmssync", Value: "test"}}
	cands := []AdoptCandidate{
		{AssetID: aid, Name: "web-1", Address: "10.0.0.1", Platform: "Linux", Nodes: []string{"/DEFAULT/阿里云/生产"}, InstanceID: "i-ok", IsActive: true,
			Protocols: []events.Protocol{{Name: "ssh", Port: 2222}}, Labels: []events.Label{{Name: "owner", Value: "ops"}}},
		{AssetID: uid("2"), Name: "web-2", Address: "10.9.9.9", Platform: "Windows", Nodes: []string{"/DEFAULT/old"}, InstanceID: "i-moved"},
		{AssetID: uid("3"), Name: "web-3", InstanceID: "i-dup"},
		{AssetID: uid("4"), Name: "web-3 copy", InstanceID: "i-dup"},
		{AssetID: uid("5"), Name: "web-4", InstanceID: "i-managed"},
		{AssetID: uid("6"), Name: "web-5", InstanceID: "i-noaddr"},
		{AssetID: uid("7"), Name: "web-6", InstanceID: "shared-id"},
		{AssetID: uid("8"), Name: "gone", InstanceID: "i-released"},
		{AssetID: uid("9"), Name: "in mirror", InstanceID: "i-ok2"},
		{AssetID: "not-a-uuid", Name: "odd", InstanceID: "i-ok3"},
		{AssetID: uid("0"), Name: "labelled", InstanceID: "i-ok4", Owned: true, Labels: ours},
	}
	in := adoptInput(m,
		ScopeInput{Scope: scopeA, Pass: pass("p-a", a...)},
		ScopeInput{Scope: scopeH, Pass: pass("p-h", h...)},
		ScopeInput{Scope: scopeB}, // no usable pass yet
	)
	out, err := Adopt(in, cands, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]AdoptItem{}
	for _, it := range out.Result.Items {
		got[it.Name] = it
	}
	want := map[string]string{
		"web-1": "", "web-2": "", "web-3": AdoptAmbiguous, "web-3 copy": AdoptAmbiguous, "web-4": AdoptManaged,
		"web-5": AdoptNotDesired, "web-6": AdoptAmbiguous, "gone": AdoptNotSeen, "in mirror": AdoptOwned,
		"odd": AdoptBadAssetID, "labelled": AdoptOwned,
	}
	for name, reason := range want {
		it, ok := got[name]
		if !ok || it.Reason != reason || it.Adopt != (reason == "") {
			t.Errorf("%s: %+v; want reason %q", name, it, reason)
		}
	}
	if len(out.Result.Items) != len(cands) || out.Result.Adopted != 2 || len(out.Intents) != 2 {
		t.Fatalf("%d items, %d adopted, %d intents; want %d, 2, 2", len(out.Result.Items), out.Result.Adopted, len(out.Intents), len(cands))
	}
	if !slices.Equal(out.Result.NoPass, []events.Scope{scopeB}) {
		t.Fatalf("no pass: %v", out.Result.NoPass)
	}
	in1 := out.Intents[slices.IndexFunc(out.Intents, func(i events.Intent) bool { return i.Identity.InstanceID == "i-ok" })]
	if in1.Op != events.OpAdopt || in1.AssetID.String() != aid || in1.Cause != CauseAdoptLegacy || in1.PassID != "p-a" ||
		in1.Desired.Name != "web-1" || !slices.Equal(in1.Desired.Protocols, cands[0].Protocols) || in1.Desired.Comment != "" {
		t.Fatalf("adopt intent %+v: want the asset's id, name and protocols kept, no comment", in1)
	}
	if err := in1.Validate(); err != nil {
		t.Fatal(err)
	}
	changes := got["web-2"].Changes
	fields := map[string]FieldChange{}
	for _, c := range changes {
		fields[c.Field] = c
	}
	if fields["address"].To != "10.0.0.2" || fields["platform"].To != "Linux" || fields["node"].To != "+ /DEFAULT/阿里云/生产" ||
		fields["labels"].To == "" || fields["zone"].To != "dmz" {
		t.Fatalf("changes of web-2: %+v", changes)
	}
	if out.Run == nil || out.Run.Trigger != "adopt" || len(out.Run.Scopes) != 1 || out.Run.Scopes[0].ExpectedIntents != 2 {
		t.Fatalf("run record %+v", out.Run)
	}

	dry, err := Adopt(in, cands, true)
	if err != nil || !dry.Result.DryRun || dry.Result.Adopted != 2 {
		t.Fatalf("dry run: %+v %v", dry.Result, err)
	}
}

// While an adopt intent is pending, no cycle creates a second asset for
// the instance.
func TestAdoptPendingHoldsCreates(t *testing.T) {
	w := newWorld(t, testPolicy())
	in := Input{Now: t0, RunID: "run-1", Trigger: "test", Policy: w.p, Mirror: w.mirror,
		Scopes:   []ScopeInput{{Scope: scopeA, Pass: pass("p1", vm(scopeA, "i-1", "web-1", "10.0.0.1"), vm(scopeA, "i-2", "web-2", "10.0.0.2"))}},
		Adopting: map[string]bool{asset.ID{Provider: asset.Aliyun, InstanceID: "i-1"}.Key(): true},
	}
	out, err := Diff(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Intents) != 1 || out.Intents[0].Identity.InstanceID != "i-2" {
		t.Fatalf("intents %+v: want only the create of i-2", out.Intents)
	}
	d := out.Explain(asset.ID{Provider: asset.Aliyun, InstanceID: "i-1"})
	if len(d) != 1 || d[0].Cause != CauseAdoptPending {
		t.Fatalf("decisions for i-1: %+v", d)
	}
}

func mustUUID(s string) uuid.UUID { return uuid.MustParse(s) }
