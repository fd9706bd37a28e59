package huaweicollector

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/collector/collectortest"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/logging/logtest"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/huaweisim"
)

const (
	secret = "huawei-collector-test-sk-do-not-leak"
	domain = "0f0e0d0c0b0a09080706050403020100"
)

type fixture struct {
	sim  *huaweisim.Server
	inv  *cloudinv.Inventory
	js   jetstream.JetStream
	logs *logtest.Buffer
	log  zerolog.Logger
}

func newFixture(t *testing.T, regions []string, perRegion int, keys ...cloudinv.Key) *fixture {
	t.Helper()
	inv := cloudinv.New(cloudinv.Spec{Provider: cloudinv.Huawei, Seed: 42, Regions: regions, PerRegion: perRegion})
	if len(keys) == 0 {
		keys = []cloudinv.Key{{ID: "HWAKGOOD", Secret: secret, Account: domain, Permission: cloudinv.CanList}}
	}
	sim := huaweisim.Start(t, huaweisim.Options{Inventory: inv, Keys: keys})
	_, js := natstest.Connect(t)
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{}); err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	return &fixture{sim: sim, inv: inv, js: js, logs: logs,
		log: logging.New(logs, "debug", Service, logging.WithSecrets(secret))}
}

// load parses the configuration from an environment as main does. Project
// ids are left to IAM discovery unless extra sets them.
func (f *fixture) load(t *testing.T, extra map[string]string) Config {
	t.Helper()
	env := map[string]string{
		"JMSSYNC_HUAWEI_ENDPOINT":                     f.sim.URL,
		"JMSSYNC_HUAWEI_TIMEOUT":                      "30s", // generous: CI runs many race-enabled tests at once
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ID":                "hw-prod",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_NAME":              "华为生产",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ACCESS_KEY_ID":     "HWAKGOOD",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_SECRET_ACCESS_KEY": secret,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_REGIONS":           strings.Join(f.inv.Regions(), ","),
		"JMSSYNC_LEASE_TTL":                           "5s",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load[Config](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(env))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (f *fixture) cycle(t *testing.T, cfg Config) map[string]*collectortest.Pass {
	t.Helper()
	targets, err := Targets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := collector.New(collector.Options{JS: f.js, Replica: "r1", Provider: asset.HuaweiCloud,
		LeaseTTL: cfg.LeaseTTL, Interval: time.Hour, Logger: f.log})
	if err != nil {
		t.Fatal(err)
	}
	r.RunCycle(t.Context(), targets)
	passes, _ := collectortest.ReadPasses(t, f.js)
	return collectortest.Latest(passes)
}

func inventoryIDs(inv *cloudinv.Inventory, region string) []string {
	var ids []string
	for _, in := range inv.All(region) {
		ids = append(ids, in.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestCompletePassesTwoRegions(t *testing.T) {
	f := newFixture(t, []string{"cn-north-4", "cn-east-3"}, 2500)
	// One region with a configured project id, one discovered through IAM.
	latest := f.cycle(t, f.load(t, map[string]string{
		"JMSSYNC_HUAWEI_ACCOUNTS_0_PROJECT_IDS": "cn-north-4:" + f.sim.ProjectID(domain, "cn-north-4"),
	}))
	if len(latest) != 2 {
		t.Fatalf("%d regions closed, want 2", len(latest))
	}
	for region, p := range latest {
		c := p.Close
		if c.Status != events.PassComplete || c.InstanceCount != 2500 || c.AccountIdentity != domain {
			t.Fatalf("%s: %s (%s %s), %d instances, identity %q", region, c.Status, c.Reason, c.Detail, c.InstanceCount, c.AccountIdentity)
		}
		if bad := p.Verify(); len(bad) > 0 {
			t.Fatalf("%s: pass does not verify: %v", region, bad)
		}
		if !slices.Equal(p.IDs(), inventoryIDs(f.inv, region)) {
			t.Fatalf("%s: listed ids differ from the cloud's", region)
		}
	}
	// limit 1000 with marker paging: 3 pages per region, none read twice.
	if n := f.sim.Counts()["GET /v1/{project_id}/cloudservers/detail"]; n != 6 {
		t.Fatalf("ListServersDetails called %d times, want 6", n)
	}
}

func TestFailedPageFailsOnlyThatRegion(t *testing.T) {
	f := newFixture(t, []string{"cn-north-4", "cn-east-3"}, 2500)
	f.inv.SetFaults(cloudinv.Faults{FailPage: 3, FailPageRegion: "cn-east-3"})
	latest := f.cycle(t, f.load(t, nil))
	bad, good := latest["cn-east-3"], latest["cn-north-4"]
	if bad.Close.Status != events.PassFailed || bad.Chunks != 0 {
		t.Fatalf("cn-east-3: %s %s with %d chunks; want failed with none", bad.Close.Status, bad.Close.Reason, bad.Chunks)
	}
	if !strings.Contains(bad.Close.Detail, "hw-prod") || !strings.Contains(bad.Close.Detail, "cn-east-3") {
		t.Fatalf("detail %q does not name account and region", bad.Close.Detail)
	}
	if good.Close.Status != events.PassComplete || good.Close.InstanceCount != 2500 {
		t.Fatalf("cn-north-4 should complete: %s %d", good.Close.Status, good.Close.InstanceCount)
	}
}

func TestThrottledCallsAreRetried(t *testing.T) {
	f := newFixture(t, []string{"cn-north-4"}, 2500)
	f.inv.SetFaults(cloudinv.Faults{ThrottleEvery: 2})
	p := f.cycle(t, f.load(t, nil))["cn-north-4"]
	if p.Close.Status != events.PassComplete || p.Close.InstanceCount != 2500 {
		t.Fatalf("throttled pass: %s %s %d", p.Close.Status, p.Close.Reason, p.Close.InstanceCount)
	}
}

func TestBadCredentialsFailWithoutLeakingTheSecret(t *testing.T) {
	f := newFixture(t, []string{"cn-north-4"}, 10,
		cloudinv.Key{ID: "HWAKGOOD", Secret: "the-real-sk", Account: domain})
	p := f.cycle(t, f.load(t, map[string]string{
		"JMSSYNC_HUAWEI_ACCOUNTS_0_PROJECT_IDS": "cn-north-4:" + f.sim.ProjectID(domain, "cn-north-4"),
	}))["cn-north-4"]
	if p.Close.Status != events.PassFailed || p.Close.Reason != events.ReasonAuth {
		t.Fatalf("wrong secret: %s %s", p.Close.Status, p.Close.Reason)
	}
	if !strings.Contains(p.Close.Detail, "hw-prod") || !strings.Contains(p.Close.Detail, "cn-north-4") {
		t.Fatalf("detail %q does not name account and region", p.Close.Detail)
	}
	_, raws := collectortest.ReadPasses(t, f.js)
	for _, r := range raws {
		if bytes.Contains(r.Data, []byte(secret)) {
			t.Fatalf("the secret is in a message on %s", r.Subject)
		}
	}
	if logs := f.logs.Bytes(); len(logs) == 0 || bytes.Contains(logs, []byte(secret)) {
		t.Fatalf("logs empty (%d bytes) or carry the secret", len(logs))
	}
}

func TestKeysWithoutListPermission(t *testing.T) {
	f := newFixture(t, []string{"cn-north-4"}, 20,
		cloudinv.Key{ID: "HWAKGOOD", Secret: secret, Account: domain, Permission: cloudinv.ListForbidden})
	p := f.cycle(t, f.load(t, nil))["cn-north-4"]
	if p.Close.Status != events.PassFailed || p.Close.Reason != events.ReasonPermission {
		t.Fatalf("forbidden key: %s %s", p.Close.Status, p.Close.Reason)
	}

	// Huawei has no DryRun: a key that lists nothing is reported as what it
	// is — a complete, empty pass whose probe says the check was impossible —
	// and the reconciler treats a populated scope listed empty as suspicious.
	f = newFixture(t, []string{"cn-north-4"}, 20,
		cloudinv.Key{ID: "HWAKGOOD", Secret: secret, Account: domain, Permission: cloudinv.ListEmpty})
	p = f.cycle(t, f.load(t, nil))["cn-north-4"]
	if p.Close.InstanceCount != 0 || !hasProbe(p.Close, events.ProbeDryRun, events.ProbeUnsupported) {
		t.Fatalf("empty-list key: %s, %d instances, probes %+v", p.Close.Status, p.Close.InstanceCount, p.Close.Probes)
	}
}

func hasProbe(c *events.PassClose, name, outcome string) bool {
	for _, p := range c.Probes {
		if p.Name == name && p.Outcome == outcome {
			return true
		}
	}
	return false
}

func TestReleaseBetweenPagesIsReportedFaithfully(t *testing.T) {
	f := newFixture(t, []string{"cn-north-4"}, 2500)
	f.inv.SetFaults(cloudinv.Faults{Churn: []cloudinv.Churn{{Region: "cn-north-4", AfterPage: 1, Release: true}}})
	p := f.cycle(t, f.load(t, nil))["cn-north-4"]
	if f.inv.ChurnDone() != 1 || p.Close.Status != events.PassComplete {
		t.Fatalf("churn fired %d, pass %s %s", f.inv.ChurnDone(), p.Close.Status, p.Close.Reason)
	}
	ids := p.IDs()
	for _, id := range inventoryIDs(f.inv, "cn-north-4") {
		if _, ok := slices.BinarySearch(ids, id); !ok {
			t.Fatalf("server %s existed throughout but is missing from the pass", id)
		}
	}
}

func TestTwoReplicasSplitRegionsAndTakeOver(t *testing.T) {
	f := newFixture(t, []string{"cn-north-4", "cn-east-3", "cn-south-1", "ap-southeast-1"}, 30)
	targets, err := Targets(f.load(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 2 * time.Second
	collectortest.CheckSplitAndTakeover(t, f.js, targets, ttl, func(replica string) *collector.Runner {
		r, err := collector.New(collector.Options{JS: f.js, Replica: replica, Provider: asset.HuaweiCloud,
			LeaseTTL: ttl, Interval: 300 * time.Millisecond, Logger: f.log})
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

func TestConfigProblemsAreAllReported(t *testing.T) {
	_, err := config.Load[Config](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(map[string]string{
		"JMSSYNC_HUAWEI_ACCOUNTS_0_NAME":              "a",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_SECRET_ACCESS_KEY": secret,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_REGIONS":           "cn-north-4",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_PROJECT_IDS":       "cn-east-3:abc",
		"JMSSYNC_LEASE_TTL":                           "1ms",
	}))
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"JMSSYNC_HUAWEI_ACCOUNTS_0_ACCESS_KEY_ID", "JMSSYNC_HUAWEI_ACCOUNTS_0_PROJECT_IDS", "JMSSYNC_LEASE_TTL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatal("the secret is in the config error")
	}
}
