package app

import (
	"bytes"
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
)

// TestPlanIsIsolated: plan shows the diff and writes nothing — no
// JumpServer write (the simulator's counters), no new message in the
// shared store — with the shared mirror, and with none at all.
func TestPlanIsIsolated(t *testing.T) {
	st := startSimStack(t, 20)
	fresh := filepath.Join(t.TempDir(), "never-synced")

	// Nothing synced yet: every host is a create.
	before := st.sims.jms.Counters()
	res, err := Plan(t.Context(), st.options(fresh, nil))
	if err != nil {
		t.Fatal(err)
	}
	if w := st.sims.jms.Counters().Writes - before.Writes; w != 0 {
		t.Fatalf("plan wrote to JumpServer %d times", w)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("plan created the data directory %s", fresh)
	}
	creates := res.Intents[events.OpCreate]
	if creates < 70 || creates > 80 || len(res.Intents) != 1 || res.ExitCode() != ExitOK {
		t.Fatalf("plan before the first sync: %v, exit %d", res.Intents, res.ExitCode())
	}

	// Sync, then change the cloud: one new instance, one new address.
	dir := t.TempDir()
	if r, err := Once(t.Context(), st.options(dir, nil)); err != nil || r.ExitCode() != ExitOK {
		t.Fatalf("once: %v", err)
	}
	if got := st.sims.jms.AssetCount(""); got != creates {
		t.Fatalf("the plan said %d creates, once made %d hosts", creates, got)
	}
	moved, err := st.sims.aliyunInv.Pick("cn-hangzhou", 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.sims.aliyunInv.ReIP(moved, "10.99.0.7"); !ok {
		t.Fatal("ReIP failed")
	}
	added := st.sims.huaweiInv.Add("cn-north-4", "plan-test-new")
	storeMsgs := storeMessages(t, dir)

	for _, tc := range []struct{ name, dir, source string }{
		{"shared mirror", dir, "the store in"},
		{"empty mirror", filepath.Join(t.TempDir(), "other"), "JumpServer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := st.sims.jms.Counters()
			res, err := Plan(t.Context(), st.options(tc.dir, nil))
			if err != nil {
				t.Fatal(err)
			}
			if w := st.sims.jms.Counters().Writes - before.Writes; w != 0 {
				t.Fatalf("plan wrote to JumpServer %d times: %v", w, st.sims.jms.Counters().Requests)
			}
			var out bytes.Buffer
			res.Print(&out, 0)
			t.Logf("plan:\n%s", out.String())
			if !strings.HasPrefix(res.MirrorSource, tc.source) {
				t.Errorf("mirror source %q, want %q…", res.MirrorSource, tc.source)
			}
			if res.Intents[events.OpCreate] != 1 || res.Intents[events.OpUpdate] != 1 || len(res.Intents) != 2 {
				t.Fatalf("want 1 create and 1 update, got %v\n%s", res.Intents, out.String())
			}
			for _, want := range []string{moved, "10.99.0.7", added.ID, "create", "update"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the plan does not show %q:\n%s", want, out.String())
				}
			}
		})
	}
	if got := storeMessages(t, dir); !maps.Equal(got, storeMsgs) {
		t.Fatalf("the shared store changed under plan: %v, was %v", got, storeMsgs)
	}
}

// openStore opens the store in dir on an embedded server; the caller
// closes it.
func openStore(t *testing.T, dir string) *Bus {
	t.Helper()
	b, err := OpenBus(context.Background(), "", dir, logging.New(io.Discard, "error", "test"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storeMessages counts the messages of every stream of the store in dir.
func storeMessages(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	ctx := context.Background()
	b := openStore(t, dir)
	defer b.Close() // closed before the next command opens the store
	out := map[string]uint64{}
	for _, name := range []string{natsx.StreamSnapshots, natsx.StreamIntents, natsx.StreamAssets, natsx.StreamRuns, natsx.StreamAlerts} {
		s, err := b.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = info.State.LastSeq
	}
	return out
}
