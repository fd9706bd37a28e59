package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// scenario is a fixed mix: Linux and Windows, unknown OS, stopped and
// transitional, no IP, public-only and EIP, duplicate and Chinese names, a
// name too long, a name with only spaces.
func scenario(s events.Scope) []asset.Instance {
	pre := string(s.Provider[:2]) + "-"
	win := func(in *asset.Instance) { in.OSType, in.OSName = asset.Windows, "Windows Server 2019 数据中心版" }
	out := []asset.Instance{
		vm(s, pre+"001", "web-1", "172.16.0.1"),
		vm(s, pre+"002", "web-2", "172.16.0.2"),
		vm(s, pre+"003", "web", "172.16.0.3"),
		vm(s, pre+"004", "web", "172.16.0.4"),
		vm(s, pre+"005", "Web", "172.16.0.5"),
		with(vm(s, pre+"006", "订单服务-生产", "172.16.0.6"), win),
		with(vm(s, pre+"007", "ad-域控", "172.16.0.7"), win),
		with(vm(s, pre+"008", "数据库主库", "172.16.0.8"), func(in *asset.Instance) { in.State, in.Status = asset.Stopped, "Stopped" }),
		with(vm(s, pre+"009", "no-ip", ""), nil),
		with(vm(s, pre+"010", "public-only", ""), func(in *asset.Instance) { in.PublicIPs = []string{"47.1.2.10"} }),
		with(vm(s, pre+"011", "eip-only", ""), func(in *asset.Instance) { in.EIP = "47.1.2.11" }),
		with(vm(s, pre+"012", "starting", "172.16.0.12"), func(in *asset.Instance) { in.State, in.Status = asset.Transitional, "Starting" }),
		with(vm(s, pre+"013", "", "172.16.0.13"), func(in *asset.Instance) { in.Hostname = "host-13" }),
		with(vm(s, pre+"014", "   ", "172.16.0.14"), nil),
		with(vm(s, pre+"015", strings.Repeat("长", 140), "172.16.0.15"), nil),
		with(vm(s, pre+"016", "mystery", "172.16.0.16"), func(in *asset.Instance) { in.OSType = asset.UnknownOS }),
		with(vm(s, pre+"017", "multi-nic", "172.16.0.17"), func(in *asset.Instance) {
			in.PrivateIPs = []string{"172.16.0.17", "10.8.0.17"}
		}),
		vm(s, pre+"018", "twin-db", "172.16.0.18"),
		vm(s, pre+"019", "web-1", "172.16.0.19"),
		vm(s, pre+"020", "cache", "172.16.0.20"),
	}
	for i := range out {
		out[i].Normalize()
	}
	return out
}

// goldenWorld: scope A and H are configured; the mirror already holds a few
// assets, including one of a removed region and one a human deactivated.
func goldenWorld(t *testing.T) (*world, []scopePass) {
	p := testPolicy()
	p.Stopped = StoppedDeactivate
	p.PreferredCIDRs, _ = ParsePrefixes([]string{"10.8.0.0/16"})
	w := newWorld(t, p)
	a, h := scenario(scopeA), scenario(scopeH)
	w.mirror = applyIntents(nil, nil, t0)
	pre := w.cycle(scopePass{scope: scopeA, pass: pass("a0", a[0], a[2], a[5], a[19])},
		scopePass{scope: scopeB, pass: pass("b0", vm(scopeB, "al-sh-1", "web-1", "172.17.0.1"))})
	w.applyAll(pre.Intents)
	w.mirror[a[0].ID().Key()].State.Address = "172.16.9.9"                                // address drifted
	w.mirror[a[5].ID().Key()].State.IsActive = false                                      // a human's deactivation
	w.mirror[a[19].ID().Key()].State.Labels = w.mirror[a[19].ID().Key()].State.Labels[1:] // a label was removed
	w.mirror[a[2].ID().Key()].State.Nodes = []string{"/DEFAULT/hand-made"}                // moved by hand
	w.mirror[a[2].ID().Key()].State.Labels = append(w.mirror[a[2].ID().Key()].State.Labels, events.Label{Name: "team", Value: "ops"})
	w.states = map[string]ScopeState{}
	w.orphans = OrphanState{}
	w.now = t0.Add(time.Hour)
	return w, []scopePass{{scope: scopeA, pass: pass("a1", a...)}, {scope: scopeH, pass: pass("h1", h...)}}
}

type goldenDoc struct {
	Intents   []events.Intent   `json:"intents"`
	Alerts    []events.Alert    `json:"alerts"`
	Run       *events.RunRecord `json:"run"`
	Decisions []Decision        `json:"decisions"`
	States    []ScopeState      `json:"states"`
	Orphans   OrphanState       `json:"orphans"`
}

func TestGoldenScenario(t *testing.T) {
	w, sp := goldenWorld(t)
	out := w.cycle(sp...)
	doc := goldenDoc{Intents: out.Intents, Alerts: out.Alerts, Run: out.Run, Decisions: out.Decisions, Orphans: out.Orphans}
	for _, s := range out.Scopes {
		doc.States = append(doc.States, s.State)
	}
	golden(t, "scenario.golden", doc)

	// The second cycle after applying: only what cannot converge by itself.
	w.applyAll(out.Intents)
	w.now = w.now.Add(time.Hour)
	a2 := pass("a2", scenario(scopeA)...)
	a2.Instances = a2.Instances[1:] // al-001 released
	out = w.cycle(scopePass{scope: scopeA, pass: a2}, scopePass{scope: scopeH, pass: pass("h2", scenario(scopeH)...)})
	golden(t, "scenario_next.golden", goldenDoc{Intents: out.Intents, Alerts: out.Alerts, Run: out.Run, Decisions: out.Decisions, Orphans: out.Orphans})
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file; diff with go test -update and git diff:\n%s", name, firstDiff(want, got))
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("length %d vs %d lines", len(al), len(bl))
}

var _ = mirror.Entry{}
