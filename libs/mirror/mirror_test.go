package mirror

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

func open(t *testing.T) *Store {
	t.Helper()
	_, js := natstest.Connect(t)
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func entry(i int) *Entry {
	id := asset.ID{Provider: asset.Aliyun, InstanceID: fmt.Sprintf("i-%04d", i)}
	return &Entry{AssetID: id.AssetID("install", "org"), Identity: id, Generation: 1,
		Scope:     events.Scope{Provider: asset.Aliyun, AccountID: "a", Region: "r"},
		State:     events.AssetState{Name: fmt.Sprintf("web-%d", i), Address: "10.0.0.1", Platform: "Linux", IsActive: true},
		UpdatedAt: time.Unix(0, 0).UTC()}
}

func TestCompareAndSet(t *testing.T) {
	s := open(t)
	e := entry(1)
	if _, _, err := s.Get(t.Context(), e.Identity); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty mirror: %v", err)
	}
	rev, err := s.Put(t.Context(), e, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), e, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create: %v, want a conflict", err)
	}
	got, gotRev, err := s.Get(t.Context(), e.Identity)
	if err != nil || gotRev != rev || got.State.Name != "web-1" || got.AssetID != e.AssetID {
		t.Fatalf("get: %+v rev %d err %v", got, gotRev, err)
	}
	e.Generation = 2
	rev2, err := s.Put(t.Context(), e, rev)
	if err != nil {
		t.Fatal(err)
	}
	e.Generation = 3
	if _, err := s.Put(t.Context(), e, rev); !errors.Is(err, ErrConflict) {
		t.Fatalf("update with a stale revision: %v, want a conflict", err)
	}
	if got, _, _ := s.Get(t.Context(), e.Identity); got.Generation != 2 || rev2 <= rev {
		t.Fatalf("the losing write changed the entry: generation %d", got.Generation)
	}
}

func TestAllReadsEveryEntry(t *testing.T) {
	s := open(t)
	if all, err := s.All(t.Context()); err != nil || len(all) != 0 {
		t.Fatalf("empty: %d %v", len(all), err)
	}
	for i := range 300 {
		if _, err := s.Put(t.Context(), entry(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.All(t.Context())
	if err != nil || len(all) != 300 {
		t.Fatalf("All: %d entries, %v", len(all), err)
	}
	if e := all[entry(7).Identity.Key()]; e == nil || e.State.Name != "web-7" {
		t.Fatalf("entry 7: %+v", e)
	}
}
