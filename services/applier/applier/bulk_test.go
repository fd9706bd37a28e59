package applier

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// TestBulk4000: 4,000 create intents (licensed) become exactly 4,000 hosts
// with the right node, platform, protocols, labels, account template and
// zone, in bulk requests; re-sending every intent makes zero writes. In 4.7
// and 4.10 modes.
func TestBulk4000(t *testing.T) {
	const n = 4000
	for _, v := range []string{jmssim.V410, jmssim.V47} {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, jmssim.Options{Version: v, Knobs: jmssim.Knobs{Licensed: true}}, nil)
			r := e.start(testHooks{})
			waitFor(t, 10*time.Second, "mirror ready", func() bool { _, ok := readyInfo(t, e); return ok })
			begin := time.Now()
			ins := creates(e, 0, n, 1)
			e.publish(ins, "")
			waitFor(t, 90*time.Second, "4000 facts", func() bool { return e.factCount() >= n && e.pendingIntents() == 0 })
			t.Logf("%s: 4000 creates applied in %s", v, time.Since(begin))

			hs := e.checkOnePerIdentity(n)
			if len(hs) != n {
				t.Fatalf("%d hosts, want %d", len(hs), n)
			}
			for i := range n {
				h := hs[assetIDOf(e, i).String()]
				d := desired(i)
				wantLabels := []string{"jmssync-account:acct-1", "jmssync-provider:aliyun", "jmssync-region:cn-hangzhou", "jmssync:" + testInstall}
				labels := slices.Sorted(slices.Values(h.Labels))
				switch {
				case h.Name != d.Name, h.Address != d.Address, h.Platform != "Linux":
					t.Fatalf("host %d: %+v", i, h)
				case len(h.Nodes) != 1 || h.Nodes[0] != testNodePath:
					t.Fatalf("host %d nodes %v", i, h.Nodes)
				case len(h.Protocols) != 1 || h.Protocols[0].Name != "ssh" || h.Protocols[0].Port != 22:
					t.Fatalf("host %d protocols %v", i, h.Protocols)
				case !slices.Equal(labels, wantLabels):
					t.Fatalf("host %d labels %v", i, labels)
				case h.Zone != testZone:
					t.Fatalf("host %d zone %q", i, h.Zone)
				case len(h.Accounts) != 1 || !strings.HasPrefix(h.Accounts[0], testTemplate+"(root)"):
					t.Fatalf("host %d accounts %v", i, h.Accounts)
				case !h.IsActive:
					t.Fatalf("host %d inactive", i)
				}
			}
			c := e.sim.Counters()
			posts := c.Requests["POST /api/v1/assets/hosts/"]
			if posts > n/100+5 {
				t.Errorf("%d bulk POSTs for %d hosts: not in bulk", posts, n)
			}
			if c.AssetsCreated != n {
				t.Errorf("simulator created %d assets, want %d", c.AssetsCreated, n)
			}
			if len(e.dlq()) != 0 {
				t.Fatalf("dead letters: %d", len(e.dlq()))
			}
			if ri, ok := readyInfo(t, e); !ok || ri.RootNode != "DEFAULT" {
				t.Fatalf("ready info %+v", ri)
			}

			t.Logf("%s: checked at %s", v, time.Since(begin))
			// re-sending every intent: as the reconciler would (newer
			// generation) and as a redelivery (same generation): zero writes.
			e.sim.ResetCounters()
			again := creates(e, 0, n, 2)
			e.publish(again, "")
			e.publish(ins[:400], "-resent") // a sample: the stale path reads no asset at all
			waitFor(t, 90*time.Second, "resent intents settled", func() bool { return e.pendingIntents() == 0 && e.factCount() >= 2*n })
			t.Logf("%s: resent settled at %s", v, time.Since(begin))
			time.Sleep(200 * time.Millisecond)
			c = e.sim.Counters()
			if c.Writes != 0 {
				t.Fatalf("re-sending made %d writes: %v", c.Writes, c.Requests)
			}
			if got := e.factCount(); got != 2*n {
				t.Fatalf("%d facts, want %d (4000 created + 4000 updated-without-change; stale ones publish none)", got, 2*n)
			}
			if len(e.hosts()) != n {
				t.Fatal("host count changed")
			}
			r.stop()
		})
	}
}
