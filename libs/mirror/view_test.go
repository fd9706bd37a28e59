package mirror

import (
	"testing"
)

// A view's snapshot equals All after every write, read at once: it waits
// for the watch to catch up with the bucket rather than returning a stale
// copy.
func TestViewSnapshotIsCurrent(t *testing.T) {
	s := open(t)
	for i := range 50 {
		if _, err := s.Put(t.Context(), entry(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	v, err := s.NewView(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string) {
		t.Helper()
		got, err := v.Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.All(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: snapshot has %d entries, All %d", step, len(got), len(want))
		}
		for k, w := range want {
			if g := got[k]; g == nil || g.Generation != w.Generation || g.State.Name != w.State.Name {
				t.Fatalf("%s: entry %s: snapshot %+v, All %+v", step, k, g, w)
			}
		}
	}
	check("initial")
	for i := 50; i < 300; i++ {
		if _, err := s.Put(t.Context(), entry(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	check("after 250 creates")
	e, rev, err := s.Get(t.Context(), entry(7).Identity)
	if err != nil {
		t.Fatal(err)
	}
	e.Generation, e.State.Name = 2, "renamed"
	if _, err := s.Put(t.Context(), e, rev); err != nil {
		t.Fatal(err)
	}
	if err := s.kv.Delete(t.Context(), entry(8).Identity.Key()); err != nil {
		t.Fatal(err)
	}
	check("after an update and a delete")

	// The map is the caller's own.
	m, _ := v.Snapshot(t.Context())
	delete(m, entry(9).Identity.Key())
	check("after the caller changed its copy")
}
