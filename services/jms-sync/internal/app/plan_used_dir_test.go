package app

import (
	"bytes"
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/natsx"
)

// TestPlanOnUsedDataDir: `plan` on a data directory that already holds
// passes (after `once` runs) decides every scope from its own listing and
// shows the right diff — nothing, right after a once — instead of
// "not decided: no_usable_pass". It still writes nothing: no non-GET
// request to JumpServer, no message in the shared store, no state change.
//
// The shared store's lease revisions (the passes' fencing tokens) grow with
// every run, while the plan's private store starts again at 1: the copied
// reconciler state made the plan's fresh passes look stale.
func TestPlanOnUsedDataDir(t *testing.T) {
	st := startSimStack(t, 10)
	dir := t.TempDir()
	// Several runs, so the shared lease revisions are well ahead of a fresh store's.
	for i := range 3 {
		res, err := Once(t.Context(), st.options(dir, nil))
		if err != nil {
			t.Fatalf("once %d: %v", i+1, err)
		}
		if res.ExitCode() != ExitOK {
			var out bytes.Buffer
			res.Print(&out)
			t.Fatalf("once %d: exit %d\n%s", i+1, res.ExitCode(), out.String())
		}
	}
	storeMsgs := storeMessages(t, dir)
	state := stateRevisions(t, dir)

	before := st.sims.jms.Counters()
	res, err := Plan(t.Context(), st.options(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.Print(&out, 0)
	t.Logf("plan:\n%s", out.String())
	if res.ExitCode() != ExitOK || len(res.Skipped) != 0 {
		t.Fatalf("plan on a used data directory: exit %d, skipped %v\n%s", res.ExitCode(), res.Skipped, out.String())
	}
	if !strings.HasPrefix(res.MirrorSource, "the store in") {
		t.Errorf("mirror source %q, want the data directory's store", res.MirrorSource)
	}
	if len(res.Changes) != 0 {
		t.Fatalf("plan right after a once: %d changes, want none\n%s", len(res.Changes), out.String())
	}
	if strings.Contains(out.String(), "not decided") {
		t.Fatalf("a scope was not decided:\n%s", out.String())
	}
	after := st.sims.jms.Counters()
	for route, n := range after.Requests {
		if method, _, _ := strings.Cut(route, " "); method != "GET" && method != "HEAD" && n != before.Requests[route] {
			t.Errorf("plan sent %d × %s to JumpServer", n-before.Requests[route], route)
		}
	}

	// A change in the cloud shows up, still without a write.
	moved, err := st.sims.aliyunInv.Pick("cn-hangzhou", 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.sims.aliyunInv.ReIP(moved, "10.99.0.9"); !ok {
		t.Fatal("ReIP failed")
	}
	res, err = Plan(t.Context(), st.options(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	res.Print(&out, 0)
	if res.ExitCode() != ExitOK || len(res.Changes) != 1 || res.Changes[0].Instance != moved || res.Changes[0].Address != "10.99.0.9" {
		t.Fatalf("plan after a re-IP: exit %d, changes %+v\n%s", res.ExitCode(), res.Changes, out.String())
	}
	if w := st.sims.jms.Counters().Writes - before.Writes; w != 0 {
		t.Fatalf("plan wrote to JumpServer %d times", w)
	}
	if got := storeMessages(t, dir); !maps.Equal(got, storeMsgs) {
		t.Fatalf("the shared store's streams changed under plan: %v, was %v", got, storeMsgs)
	}
	if got := stateRevisions(t, dir); !maps.Equal(got, state) {
		t.Fatalf("the shared KV buckets changed under plan: %v, was %v", got, state)
	}
}

// stateRevisions is the last revision of every key of the shared KV
// buckets in dir.
func stateRevisions(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	ctx := context.Background()
	b := openStore(t, dir)
	defer b.Close() // closed before the next command opens the store
	out := map[string]uint64{}
	for _, bucket := range []string{natsx.BucketState, natsx.BucketAssets} {
		kv, err := b.JS.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for k := range keys.Keys() {
			e, err := kv.Get(ctx, k)
			if err == jetstream.ErrKeyNotFound {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			out[bucket+"/"+k] = e.Revision()
		}
		_ = keys.Stop()
	}
	return out
}
