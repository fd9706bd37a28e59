package plan

import (
	"testing"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// An intent equal to one still in flight is not issued again; a changed
// desired state, or one the mirror shows applied, is decided afresh.
func TestInFlightIntentsAreNotIssuedTwice(t *testing.T) {
	w := newWorld(t, testPolicy())
	base := Input{Now: t0, RunID: "run-1", Trigger: "test", Policy: w.p, Mirror: w.mirror,
		Scopes: []ScopeInput{{Scope: scopeA, Pass: pass("p1", vm(scopeA, "i-1", "web-1", "10.0.0.1"), vm(scopeA, "i-2", "web-2", "10.0.0.2"))}},
	}
	first, err := Diff(base)
	if err != nil || len(first.Intents) != 2 {
		t.Fatalf("first cycle: %d intents, %v", len(first.Intents), err)
	}
	inflight := map[string]InFlight{}
	for _, in := range first.Intents {
		inflight[in.Identity.Key()] = InFlight{Op: in.Op, Generation: in.Generation, Fingerprint: Fingerprint(in.Op, in.AssetID, in.Desired)}
	}
	id1 := asset.ID{Provider: asset.Aliyun, InstanceID: "i-1"}

	for _, tc := range []struct {
		name string
		edit func(in *Input)
		want []string // instance ids issued
	}{
		{"nothing applied yet", func(*Input) {}, nil},
		{"no record", func(in *Input) { in.InFlight = nil }, []string{"i-1", "i-2"}},
		{"desired changed (re-IP) while queued", func(in *Input) {
			in.Scopes = []ScopeInput{{Scope: scopeA, Pass: pass("p2", vm(scopeA, "i-1", "web-1", "10.0.0.9"), vm(scopeA, "i-2", "web-2", "10.0.0.2"))}}
		}, []string{"i-1"}},
		{"a different op in flight", func(in *Input) {
			f := in.InFlight[id1.Key()]
			f.Op = events.OpUpdate
			in.InFlight = map[string]InFlight{id1.Key(): f}
		}, []string{"i-1", "i-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			in.RunID, in.Now, in.InFlight = "run-2", t0.Add(1e9), inflight
			tc.edit(&in)
			out, err := Diff(in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range out.Intents {
				got = append(got, x.Identity.InstanceID)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("issued %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("issued %v, want %v", got, tc.want)
				}
			}
			if tc.want == nil {
				if d := out.Explain(id1); len(d) != 1 || d[0].Cause != CauseInFlight || d[0].Detail != CauseNewInstance {
					t.Fatalf("decision for i-1: %+v", d)
				}
			}
		})
	}
}

// A scope decided later with an instance of the same name does not take
// the name from a create still in flight (which would change its desired
// state and queue it again): the queued create keeps it, the newcomer is
// suffixed, as if the first were already in the mirror.
func TestInFlightCreateKeepsItsName(t *testing.T) {
	w := newWorld(t, testPolicy())
	first, err := Diff(Input{Now: t0, RunID: "run-1", Trigger: "test", Policy: w.p, Mirror: w.mirror,
		Scopes: []ScopeInput{{Scope: scopeB, Pass: pass("p1", vm(scopeB, "i-zzz", "web", "10.0.0.1"))}}})
	if err != nil || len(first.Intents) != 1 || first.Intents[0].Desired.Name != "web" {
		t.Fatalf("first cycle: %+v %v", first.Intents, err)
	}
	in := first.Intents[0]
	inflight := map[string]InFlight{in.Identity.Key(): {Op: in.Op, Generation: in.Generation,
		Fingerprint: Fingerprint(in.Op, in.AssetID, in.Desired), Identity: in.Identity, Name: in.Desired.Name}}

	// Scope A reports an instance named "web" with a lower id: without the
	// record it would win the plain name and the first create would be
	// renamed and issued again.
	both := []ScopeInput{
		{Scope: scopeA, Pass: pass("p2", vm(scopeA, "i-aaa", "web", "10.0.0.2"))},
		{Scope: scopeB, Pass: pass("p1", vm(scopeB, "i-zzz", "web", "10.0.0.1"))},
	}
	second, err := Diff(Input{Now: t0.Add(1e9), RunID: "run-2", Trigger: "test", Policy: w.p, Mirror: w.mirror, Scopes: both, InFlight: inflight})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Intents) != 1 || second.Intents[0].Identity.InstanceID != "i-aaa" || second.Intents[0].Desired.Name == "web" {
		t.Fatalf("second cycle: %+v, want only i-aaa's create under a suffixed name", second.Intents)
	}
	without, err := Diff(Input{Now: t0.Add(1e9), RunID: "run-2", Trigger: "test", Policy: w.p, Mirror: w.mirror, Scopes: both})
	if err != nil || len(without.Intents) != 2 {
		t.Fatalf("without the record: %d intents, %v (the test must show the difference)", len(without.Intents), err)
	}
}
