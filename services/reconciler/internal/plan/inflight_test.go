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
