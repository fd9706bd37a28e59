package jumpserver

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

func TestEnsureNodePathIdempotent(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	c, info := startedClient(t, s, nil)
	ctx := t.Context()
	n, err := c.EnsureNodePath(ctx, "/DEFAULT/阿里云/prod")
	if err != nil || n.FullValue != "/DEFAULT/阿里云/prod" {
		t.Fatalf("%+v %v", n, err)
	}
	posts := s.Counters().Writes
	// cached, and through a fresh client (no cache) nothing is created again
	for _, cl := range []*Client{c, func() *Client { c2, _ := startedClient(t, s, nil); return c2 }()} {
		n2, err := cl.EnsureNodePath(ctx, "/Default/阿里云/prod") // the root compared case-insensitively
		if err != nil || n2.ID != n.ID {
			t.Fatalf("second ensure: %+v %v", n2, err)
		}
	}
	if w := s.Counters().Writes; w != posts {
		t.Fatalf("second ensure wrote %d times", w-posts)
	}
	if _, err := c.EnsureNodePath(ctx, "/Other/x"); !errors.Is(err, ErrValidation) {
		t.Fatalf("foreign root: %v", err)
	}
	if _, err := c.EnsureNodePath(ctx, "/DEFAULT//x"); !errors.Is(err, ErrValidation) {
		t.Fatalf("empty segment: %v", err)
	}
	root, err := c.EnsureNodePath(ctx, "/DEFAULT")
	if err != nil || root.ID != info.RootNode.ID {
		t.Fatalf("root: %+v %v", root, err)
	}
}

// Eight callers over two clients (two processes) ensure overlapping paths:
// the simulator ends with one node per path segment.
func TestEnsureNodePathConcurrent(t *testing.T) {
	s := startSim(t, jmssim.Options{Knobs: jmssim.Knobs{Latency: 5 * time.Millisecond}})
	a, _ := startedClient(t, s, nil)
	b, _ := startedClient(t, s, nil)
	paths := []string{"/DEFAULT/阿里云/acct-1", "/DEFAULT/阿里云/acct-2", "/DEFAULT/华为云/acct-1", "/DEFAULT/阿里云/acct-1"}
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := a
			if i%2 == 1 {
				cl = b
			}
			n, err := cl.EnsureNodePath(t.Context(), paths[i%len(paths)])
			ids[i], errs[i] = n.ID, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if ids[0] != ids[3] || ids[0] != ids[4] || ids[0] != ids[7] {
		t.Fatalf("callers of one path got different nodes: %v", ids)
	}
	refused := 0
	for _, e := range s.RequestLog() {
		if e.Method == "POST" && e.Status == 400 {
			refused++
		}
	}
	t.Logf("duplicate creates refused by the server and read back: %d", refused)
	seen := map[string]int{}
	for _, n := range orgState(t, s, DefaultOrgID).Nodes {
		seen[n.FullValue]++
	}
	want := []string{"/DEFAULT", "/DEFAULT/阿里云", "/DEFAULT/阿里云/acct-1", "/DEFAULT/阿里云/acct-2",
		"/DEFAULT/华为云", "/DEFAULT/华为云/acct-1"}
	if len(seen) != len(want) {
		t.Fatalf("nodes %v", seen)
	}
	for _, p := range want {
		if seen[p] != 1 {
			t.Fatalf("%s exists %d times (%v)", p, seen[p], seen)
		}
	}
}

// The parent-sibling quirk (jumpserver#6075) refuses /D/A/B through the
// children route while /D/B exists; the full_value route still works.
func TestEnsureNodePathParentSiblingQuirk(t *testing.T) {
	s := startSim(t, jmssim.Options{ParentSiblingQuirk: true})
	if err := s.Seed(jmssim.Seed{Nodes: []jmssim.SeedNode{{Path: "/DEFAULT/B"}}}); err != nil {
		t.Fatal(err)
	}
	c, _ := startedClient(t, s, nil)
	n, err := c.EnsureNodePath(t.Context(), "/DEFAULT/A/B")
	if err != nil || n.FullValue != "/DEFAULT/A/B" {
		t.Fatalf("%+v %v", n, err)
	}
}
