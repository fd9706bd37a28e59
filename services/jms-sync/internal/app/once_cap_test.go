package app

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging/logtest"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// TestOnceAtTheServersCap: JumpServer refuses creates at its own cap (50
// here) while jms-sync is configured with the Community Edition's 5000.
// The log and the cap alert report the cap JumpServer enforced (and that
// the configured one differs), not "count 0, cap 5000"; and when the
// applier was also paused by its breaker during the run (a JumpServer
// outage), once's summary says so besides the cap.
func TestOnceAtTheServersCap(t *testing.T) {
	st := startSimStack(t, 20)
	vars := maps.Clone(st.vars)
	maps.Copy(vars, map[string]string{
		"JMSSYNC_APPLIER_CAP_RETRY":               "200ms",
		"JMSSYNC_APPLIER_PROBE_INTERVAL":          "200ms",
		"JMSSYNC_JUMPSERVER_BREAKER_FAILURES":     "2",
		"JMSSYNC_JUMPSERVER_BREAKER_OPEN_TIMEOUT": "300ms",
	})
	cfgs, err := LoadConfigs(vars)
	if err != nil {
		t.Fatal(err)
	}
	st.sims.jms.UpdateKnobs(func(k *jmssim.Knobs) { k.AssetCap = 50 })
	if err := st.sims.jms.Seed(jmssim.Seed{Generate: []jmssim.SeedGenerate{{Count: 45, Prefix: "hand-"}}}); err != nil {
		t.Fatal(err)
	}

	// Once the server refused creates at its cap, JumpServer goes away for
	// a while: the applier's retries open its breaker.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	outage := make(chan struct{})
	go func() {
		defer close(outage)
		for st.sims.jms.AssetCount("") < 50 || st.sims.jms.Counters().Requests["POST /api/v1/assets/hosts/"] < 2 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		st.sims.jms.SetOutage(true)
		select {
		case <-ctx.Done():
		case <-time.After(1500 * time.Millisecond):
		}
		st.sims.jms.SetOutage(false)
	}()

	var logs logtest.Buffer
	dir := t.TempDir()
	o := st.options(dir, nil)
	o.Env, o.Configs = vars, cfgs
	o.Log = zerolog.New(&logs).Level(zerolog.WarnLevel)
	res, err := Once(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	<-outage
	var out bytes.Buffer
	res.Print(&out)
	t.Logf("once:\n%s", out.String())

	if got := st.sims.jms.AssetCount(""); got < 50 {
		t.Fatalf("%d assets: the server's cap was not reached", got)
	}
	if !res.Drain.CapPaused || res.Drain.Left == 0 {
		t.Fatalf("once did not stop at the cap: %+v", res.Drain)
	}
	// The log names the server's cap and the configured one, never a bare 5000.
	var capLine map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "asset cap reached") {
			if err := json.Unmarshal([]byte(line), &capLine); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if capLine == nil || capLine["cap"] != float64(50) || capLine["configured_cap"] != float64(5000) ||
		capLine["count"] == float64(0) {
		t.Fatalf("cap log line %v, want cap 50, configured_cap 5000 and the count\n%s", capLine, logs.String())
	}
	// So does the alert.
	al := capAlerts(t, dir)
	if len(al) == 0 {
		t.Fatal("no cap alert")
	}
	if d := al[0].Details; d["cap"] != "50" || d["configured_cap"] != "5000" || d["count"] == "0" ||
		!strings.Contains(al[0].Message, "50") {
		t.Fatalf("cap alert %q %v", al[0].Message, d)
	}
	// Every pause reason that held is in the summary.
	note := res.Drain.note()
	for _, want := range []string{"asset cap reached", "breaker"} {
		if !strings.Contains(note, want) || !strings.Contains(out.String(), want) {
			t.Errorf("the summary does not say %q:\n%s", want, out.String())
		}
	}
}

// capAlerts reads the cap_reached alerts of the store in dir.
func capAlerts(t *testing.T, dir string) []*events.Alert {
	t.Helper()
	ctx := context.Background()
	b := openStore(t, dir)
	defer b.Close() // closed before the next command opens the store
	s, err := b.JS.Stream(ctx, natsx.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*events.Alert
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		if a, err := events.DecodeAs[*events.Alert](m.Data); err == nil && a.Kind == events.AlertCapReached {
			out = append(out, a)
		}
	}
	return out
}
