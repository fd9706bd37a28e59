package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
)

// benchInput builds 100,000 listed instances in 4 scopes against 100,000
// mirror entries, with 1 % changes: 500 addresses changed, 252 instances new
// (252 entries absent), 100 labels missing, 100 human-deactivated.
func benchInput(tb testing.TB) Input {
	tb.Helper()
	const perScope = 25_000
	p := testPolicy()
	scopes := []events.Scope{
		scopeA, scopeB, scopeH,
		{Provider: asset.HuaweiCloud, AccountID: "hw", Region: "cn-east-3"},
	}
	var all [][]asset.Instance
	for si, s := range scopes {
		ins := make([]asset.Instance, perScope)
		for i := range ins {
			ins[i] = vm(s, fmt.Sprintf("i-%d-%08d", si, i), fmt.Sprintf("srv-%d-%d", si, i%20_000), fmt.Sprintf("10.%d.%d.%d", si, i/250, i%250+1))
			if i%7 == 0 {
				ins[i].OSType = asset.Windows
			}
		}
		all = append(all, ins)
	}
	// The mirror as the applier would have written it for every instance.
	in := Input{Now: t0, RunID: "seed", Policy: p, Mirror: map[string]*mirror.Entry{}}
	for i, s := range scopes {
		in.Scopes = append(in.Scopes, ScopeInput{Scope: s, Pass: &Pass{ID: "seed", Instances: all[i]}})
	}
	out, err := Diff(in)
	if err != nil {
		tb.Fatal(err)
	}
	m := applyIntents(nil, out.Intents, t0)
	if len(m) != 4*perScope {
		tb.Fatalf("mirror has %d entries", len(m))
	}
	// 1 % changes.
	n := 0
	for si := range all {
		for i := range all[si] {
			switch {
			case i%200 == 1: // 500 address changes
				all[si][i].PrivateIPs = []string{fmt.Sprintf("172.20.%d.%d", i/250, i%250+1)}
			case i%400 == 3: // 252 new, their old selves absent
				all[si][i].InstanceID += "-new"
			case i%1000 == 5: // 100 labels lost
				e := m[all[si][i].ID().Key()]
				e.State.Labels = e.State.Labels[1:]
			case i%1000 == 7: // 100 deactivated by hand
				m[all[si][i].ID().Key()].State.IsActive = false
			}
			n++
		}
	}
	in = Input{Now: t0.Add(time.Hour), RunID: "bench", Policy: p, Mirror: m}
	for i, s := range scopes {
		in.Scopes = append(in.Scopes, ScopeInput{Scope: s, Pass: &Pass{ID: "p1", Instances: all[i]}, State: out.Scopes[i].State})
	}
	return in
}

func BenchmarkDiff100k(b *testing.B) {
	in := benchInput(b)
	out, err := Diff(in)
	if err != nil {
		b.Fatal(err)
	}
	if c := ops(out); c[events.OpUpdate] != 600 || c[events.OpCreate] != 252 || len(out.Intents) != 852 {
		b.Fatalf("intents %v", c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Diff(in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDiff100kShape runs the benchmark's input once so a broken benchmark
// fails the ordinary test run, and checks the counts (-short and -race
// skip it: the race detector makes it slow and it has no goroutines).
func TestDiff100kShape(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("100k")
	}
	in := benchInput(t)
	start := time.Now()
	out, err := Diff(in)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Diff of 100,000 instances: %s, %d intents", time.Since(start), len(out.Intents))
	c := ops(out)
	if c[events.OpUpdate] != 600 || c[events.OpCreate] != 252 || len(out.Intents) != 852 {
		t.Fatalf("intents %v", c)
	}
	absent := 0
	for _, s := range out.Scopes {
		absent += len(s.State.Absent)
	}
	if absent != 252 {
		t.Fatalf("%d absent, want 252", absent)
	}
}
