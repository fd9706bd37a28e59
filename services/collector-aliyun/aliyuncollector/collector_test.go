package aliyuncollector

import (
	"bytes"
	"os"
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
	"github.com/jmssync/jmssync/libs/sim/aliyunsim"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

func TestMain(m *testing.M) {
	// The Aliyun SDK sends even loopback traffic through a configured proxy.
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

const secret = "collector-test-secret-do-not-leak"

// fixture is one simulator, one bus and a config loaded from the environment
// the way the binary loads it.
type fixture struct {
	sim *aliyunsim.Server
	inv *cloudinv.Inventory
	js  jetstream.JetStream

	logs *logtest.Buffer
	log  zerolog.Logger
}

func newFixture(t *testing.T, regions []string, perRegion int, keys ...cloudinv.Key) *fixture {
	t.Helper()
	inv := cloudinv.New(cloudinv.Spec{Provider: cloudinv.Aliyun, Seed: 42, Regions: regions, PerRegion: perRegion})
	if len(keys) == 0 {
		keys = []cloudinv.Key{{ID: "LTAIgood", Secret: secret, Account: "1888", Permission: cloudinv.CanList}}
	}
	sim := aliyunsim.Start(t, aliyunsim.Options{Inventory: inv, Keys: keys})
	_, js := natstest.Connect(t)
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{}); err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	f := &fixture{sim: sim, inv: inv, js: js, logs: logs}
	f.log = logging.New(logs, "debug", Service, logging.WithSecrets(secret))
	return f
}

// load parses the configuration from an environment as main does.
func (f *fixture) load(t *testing.T, extra map[string]string) Config {
	t.Helper()
	env := map[string]string{
		"JMSSYNC_ALIYUN_ENDPOINT":                     f.sim.URL,
		"JMSSYNC_ALIYUN_TIMEOUT":                      "30s", // generous: CI runs many race-enabled tests at once
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ID":                "prod",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_NAME":              "生产账号",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID":     "LTAIgood",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET": secret,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS":           strings.Join(f.inv.Regions(), ","),
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

func (f *fixture) runner(t *testing.T, cfg Config, replica string) *collector.Runner {
	t.Helper()
	r, err := collector.New(collector.Options{JS: f.js, Replica: replica, Provider: asset.Aliyun,
		LeaseTTL: cfg.LeaseTTL, Interval: time.Hour, AccountConcurrency: cfg.AccountConcurrency, Logger: f.log})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) cycle(t *testing.T, cfg Config) []*collectortest.Pass {
	t.Helper()
	targets, err := Targets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.runner(t, cfg, "r1").RunCycle(t.Context(), targets)
	passes, _ := collectortest.ReadPasses(t, f.js)
	return passes
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
	f := newFixture(t, []string{"cn-hangzhou", "cn-beijing"}, 2500)
	passes := f.cycle(t, f.load(t, nil))
	if len(passes) != 2 {
		t.Fatalf("%d passes, want 2", len(passes))
	}
	for region, p := range collectortest.Latest(passes) {
		c := p.Close
		if c.Status != events.PassComplete || c.InstanceCount != 2500 || c.AccountIdentity != "1888" {
			t.Fatalf("%s: status %s (%s %s), %d instances, identity %q", region, c.Status, c.Reason, c.Detail, c.InstanceCount, c.AccountIdentity)
		}
		if bad := p.Verify(); len(bad) > 0 {
			t.Fatalf("%s: pass does not verify: %v", region, bad)
		}
		if !slices.Equal(p.IDs(), inventoryIDs(f.inv, region)) {
			t.Fatalf("%s: listed ids differ from the cloud's", region)
		}
		if c.Scope.AccountID != "prod" || c.Scope.AccountName != "生产账号" || c.FencingToken == 0 {
			t.Fatalf("%s: scope %+v fencing %d", region, c.Scope, c.FencingToken)
		}
	}
	// No page was read twice: 25 pages of 100 per region, plus one DryRun each.
	if n := f.sim.Counters()["DescribeInstances"]; n != 2*(25+1) {
		t.Fatalf("DescribeInstances called %d times, want %d", n, 2*26)
	}
}

func TestFailedPageFailsOnlyThatRegion(t *testing.T) {
	f := newFixture(t, []string{"cn-hangzhou", "cn-beijing"}, 500)
	f.inv.SetFaults(cloudinv.Faults{FailPage: 3, FailPageRegion: "cn-beijing"})
	latest := collectortest.Latest(f.cycle(t, f.load(t, nil)))
	bj, hz := latest["cn-beijing"], latest["cn-hangzhou"]
	if bj.Close.Status != events.PassFailed || bj.Close.Reason != events.ReasonAPIError || bj.Chunks != 0 {
		t.Fatalf("cn-beijing: %s %s, %d chunks; want a failed pass with no chunks", bj.Close.Status, bj.Close.Reason, bj.Chunks)
	}
	if !strings.Contains(bj.Close.Detail, "prod") || !strings.Contains(bj.Close.Detail, "cn-beijing") {
		t.Fatalf("detail %q does not name the account and region", bj.Close.Detail)
	}
	if hz.Close.Status != events.PassComplete || hz.Close.InstanceCount != 500 {
		t.Fatalf("cn-hangzhou should complete: %s %d", hz.Close.Status, hz.Close.InstanceCount)
	}
}

func TestThrottledCallsAreRetried(t *testing.T) {
	f := newFixture(t, []string{"cn-hangzhou"}, 1000)
	f.inv.SetFaults(cloudinv.Faults{ThrottleEvery: 3})
	p := collectortest.Latest(f.cycle(t, f.load(t, nil)))["cn-hangzhou"]
	if p.Close.Status != events.PassComplete || p.Close.InstanceCount != 1000 {
		t.Fatalf("throttled pass: %s %s %d", p.Close.Status, p.Close.Reason, p.Close.InstanceCount)
	}
	if got := f.sim.Counters()["DescribeInstances:Throttling.User"]; got == 0 {
		t.Fatal("the simulator throttled nothing; the test proves nothing")
	}
}

func TestBadCredentialsFailWithoutLeakingTheSecret(t *testing.T) {
	f := newFixture(t, []string{"cn-hangzhou"}, 10,
		cloudinv.Key{ID: "LTAIgood", Secret: "the-real-secret", Account: "1888"})
	p := collectortest.Latest(f.cycle(t, f.load(t, nil)))["cn-hangzhou"] // configured with `secret`, which is wrong
	if p.Close.Status != events.PassFailed || p.Close.Reason != events.ReasonAuth {
		t.Fatalf("wrong secret: %s %s", p.Close.Status, p.Close.Reason)
	}
	if !strings.Contains(p.Close.Detail, "prod") || !strings.Contains(p.Close.Detail, "cn-hangzhou") {
		t.Fatalf("detail %q does not name account and region", p.Close.Detail)
	}
	_, raws := collectortest.ReadPasses(t, f.js)
	for _, r := range raws {
		if bytes.Contains(r.Data, []byte(secret)) {
			t.Fatalf("the secret is in a message on %s", r.Subject)
		}
	}
	if len(f.logs.Bytes()) == 0 {
		t.Fatal("no logs captured; the scan proves nothing")
	}
	if bytes.Contains(f.logs.Bytes(), []byte(secret)) {
		t.Fatal("the secret is in the logs")
	}
}

func TestKeysWithoutListPermission(t *testing.T) {
	for _, perm := range []cloudinv.Permission{cloudinv.ListForbidden, cloudinv.ListEmpty} {
		f := newFixture(t, []string{"cn-hangzhou"}, 20,
			cloudinv.Key{ID: "LTAIgood", Secret: secret, Account: "1888", Permission: perm})
		p := collectortest.Latest(f.cycle(t, f.load(t, nil)))["cn-hangzhou"]
		if p.Close.Status != events.PassFailed || p.Close.Reason != events.ReasonPermission {
			t.Fatalf("permission %d: %s %s — an empty list must never pass as complete", perm, p.Close.Status, p.Close.Reason)
		}
	}
}

func TestReleaseBetweenPagesIsReportedFaithfully(t *testing.T) {
	f := newFixture(t, []string{"cn-hangzhou"}, 450)
	f.inv.SetFaults(cloudinv.Faults{Churn: []cloudinv.Churn{{Region: "cn-hangzhou", AfterPage: 2, Release: true}}})
	p := collectortest.Latest(f.cycle(t, f.load(t, nil)))["cn-hangzhou"]
	if f.inv.ChurnDone() != 1 {
		t.Fatal("the release between pages did not happen")
	}
	if p.Close.Status != events.PassComplete {
		t.Fatalf("pass %s %s", p.Close.Status, p.Close.Reason)
	}
	// Token paging: every instance that still exists is listed, none skipped;
	// the one released after it was listed may appear (it existed then).
	ids := p.IDs()
	for _, id := range inventoryIDs(f.inv, "cn-hangzhou") {
		if _, ok := slices.BinarySearch(ids, id); !ok {
			t.Fatalf("instance %s existed throughout but is missing from the pass", id)
		}
	}
	if len(ids) != 449 && len(ids) != 450 {
		t.Fatalf("%d instances listed; want 449 or 450", len(ids))
	}
}

func TestTwoReplicasSplitRegionsAndTakeOver(t *testing.T) {
	f := newFixture(t, []string{"cn-hangzhou", "cn-beijing", "cn-shanghai", "cn-shenzhen"}, 30)
	targets, err := Targets(f.load(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 2 * time.Second
	collectortest.CheckSplitAndTakeover(t, f.js, targets, ttl, func(replica string) *collector.Runner {
		r, err := collector.New(collector.Options{JS: f.js, Replica: replica, Provider: asset.Aliyun,
			LeaseTTL: ttl, Interval: 300 * time.Millisecond, Logger: f.log})
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

func TestConfigProblemsAreAllReported(t *testing.T) {
	_, err := config.Load[Config](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(map[string]string{
		"JMSSYNC_ALIYUN_ACCOUNTS_0_NAME":              "a",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET": secret,
		"JMSSYNC_INTERVAL":                            "soon",
	}))
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID", "JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS", "JMSSYNC_INTERVAL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatal("the secret is in the config error")
	}
}
