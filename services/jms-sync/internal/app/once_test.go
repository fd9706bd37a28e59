package app

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/services/jms-sync/internal/cli"
)

// simStack is the simulators plus the configuration aimed at them.
type simStack struct {
	sims *demoSims
	vars map[string]string
	cfgs *Configs
}

func startSimStack(t *testing.T, perRegion int) *simStack {
	t.Helper()
	sims, err := startDemoSims(DemoOptions{PerRegion: perRegion, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sims.close)
	vars := sims.env("127.0.0.1:0")
	cfgs, err := LoadConfigs(vars)
	if err != nil {
		t.Fatal(err)
	}
	return &simStack{sims: sims, vars: vars, cfgs: cfgs}
}

func (s *simStack) options(dataDir string, progress io.Writer) CommandOptions {
	return CommandOptions{Env: s.vars, Configs: s.cfgs, DataDir: dataDir, Timeout: 2 * time.Minute,
		Progress: cli.NewProgress(progress, progress != nil), Log: logging.New(io.Discard, "error", "test")}
}

// TestOnceSyncsThenWritesNothing: the cron use. A first `once` creates
// every host and exits 0; a second finds nothing to do and makes no write
// to JumpServer.
func TestOnceSyncsThenWritesNothing(t *testing.T) {
	st := startSimStack(t, 20)
	dir := t.TempDir()
	var progress bytes.Buffer
	res, err := Once(t.Context(), st.options(dir, &progress))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.Print(&out)
	if res.ExitCode() != ExitOK {
		t.Fatalf("first once: exit %d\n%s", res.ExitCode(), out.String())
	}
	if len(res.Passes) != 4 {
		t.Fatalf("%d passes, want 4 (2 clouds x 2 regions)\n%s", len(res.Passes), out.String())
	}
	hosts := st.sims.jms.AssetCount("")
	if hosts < 70 || hosts > 80 || res.Intents["create"] != hosts {
		t.Fatalf("JumpServer holds %d hosts after %d creates for 80 instances\n%s", hosts, res.Intents["create"], out.String())
	}
	if !strings.Contains(progress.String(), "listed") {
		t.Errorf("no progress shown on a terminal:\n%q", progress.String())
	}

	before := st.sims.jms.Counters()
	res, err = Once(t.Context(), st.options(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	res.Print(&out)
	if res.ExitCode() != ExitOK || res.IntentsTotal != 0 {
		t.Fatalf("second once: exit %d, %d intents\n%s", res.ExitCode(), res.IntentsTotal, out.String())
	}
	after := st.sims.jms.Counters()
	if after.Writes != before.Writes {
		t.Fatalf("the second once wrote to JumpServer: %d writes (%v)", after.Writes-before.Writes, after.Requests)
	}
	if after.Reads == before.Reads {
		t.Error("the second once did not even read JumpServer")
	}
}

// TestOnceRefusedWhileServeRuns: `once` never runs beside `serve`; it
// attaches to serve's embedded JetStream and finds the run lock held.
func TestOnceRefusedWhileServeRuns(t *testing.T) {
	st := startSimStack(t, 5)
	dir := t.TempDir()
	ctx, cancel := contextWithCancel(t)
	env := &Environment{Vars: st.vars}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, env, st.cfgs, dir, logging.New(io.Discard, "error", "test")) }()

	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		_, err = Once(t.Context(), st.options(dir, nil))
		if errors.Is(err, ErrLocked) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("once beside serve: %v, want ErrLocked", err)
	}
	var he *HolderError
	if !errors.As(err, &he) || he.Command != "serve" {
		t.Fatalf("the refusal does not name serve: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	// serve released the lock and the store: once runs now.
	res, err := Once(t.Context(), st.options(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	if code := res.ExitCode(); code != ExitOK {
		var out bytes.Buffer
		res.Print(&out)
		t.Fatalf("once after serve: exit %d\n%s", code, out.String())
	}
}
