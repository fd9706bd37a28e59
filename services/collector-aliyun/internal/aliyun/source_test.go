package aliyun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/collector/sourcetest"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/aliyunsim"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

func TestMain(m *testing.M) {
	// The SDK sends even loopback traffic through these (Source also sets
	// its no-proxy list; TestLoopbackIgnoresProxyEnv checks that).
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"} {
		os.Unsetenv(v)
	}
	os.Exit(m.Run())
}

var (
	keyOK     = cloudinv.Key{ID: "LTAI5tCollectorList01", Secret: "s3cr3t-list-Q9vX", Account: "1111222233334444", Permission: cloudinv.CanList}
	keyNoPerm = cloudinv.Key{ID: "LTAI5tCollectorDeny02", Secret: "s3cr3t-deny-Z7kP", Account: "1111222233334444", Permission: cloudinv.ListForbidden}
	keyEmpty  = cloudinv.Key{ID: "LTAI5tCollectorEmpty3", Secret: "s3cr3t-empty-M2wR", Account: "5555666677778888", Permission: cloudinv.ListEmpty}
	allKeys   = []cloudinv.Key{keyOK, keyNoPerm, keyEmpty}
)

func inventory(perRegion int, regions ...string) *cloudinv.Inventory {
	if len(regions) == 0 {
		regions = []string{"cn-hangzhou", "cn-beijing"}
	}
	return cloudinv.New(cloudinv.Spec{Provider: cloudinv.Aliyun, Seed: 7, Regions: regions, PerRegion: perRegion})
}

func startSim(t *testing.T, inv *cloudinv.Inventory) *aliyunsim.Server {
	t.Helper()
	return aliyunsim.Start(t, aliyunsim.Options{Inventory: inv, Keys: allKeys})
}

// newSource builds a Source aimed at the simulator with a fast backoff.
func newSource(t *testing.T, s *aliyunsim.Server, k cloudinv.Key, edit func(*Config)) *Source {
	t.Helper()
	return sourcetest.Build(t, Config{
		AccessKeyID: k.ID, AccessKeySecret: k.Secret, AccountID: "acct-test", AccountName: "测试账号",
		Regions: s.Inventory.Regions(), Endpoint: s.Addr, Timeout: 5 * time.Second,
		Backoff: collector.Backoff{Base: time.Millisecond, Max: 4 * time.Millisecond, Attempts: 6},
	}, edit, New)
}

// listErr asserts err is a *collector.ListError with reason and no listing.
func listErr(t *testing.T, l *collector.Listing, err error, reason string) *collector.ListError {
	t.Helper()
	return sourcetest.ListError(t, l, err, reason, "acct-test")
}

var probes = sourcetest.Probes

// checkAgainst compares a listed instance with the inventory's.
func checkAgainst(t *testing.T, got asset.Instance, want *cloudinv.Instance) {
	t.Helper()
	status := aliyunsim.StatusOf(want.State)
	sourcetest.CheckInstance(t, got, want, asset.Aliyun, "acct-test",
		sourcetest.Field{Name: "image", Got: got.ImageName, Want: want.ImageID},
		sourcetest.Field{Name: "status", Got: got.Status, Want: status},
		sourcetest.Field{Name: "state", Got: got.State, Want: asset.NormalizeState(asset.Aliyun, status)},
		sourcetest.Field{Name: "public ips", Got: fmt.Sprint(got.PublicIPs), Want: fmt.Sprint(want.PublicIPs)},
		sourcetest.Field{Name: "eip", Got: got.EIP, Want: want.EIP})
}

// The acceptance test: 2 regions × 2,500 listed completely, in parallel
// through one Source, one call per page plus the probe.
func TestListTwoRegionsOf2500(t *testing.T) {
	inv := inventory(2500)
	s := startSim(t, inv)
	src := newSource(t, s, keyOK, nil)
	regions := inv.Regions()
	listings := sourcetest.ListAll(t, src, regions)
	var noIP, eip, windows, multiNIC, stopped, transitional int
	for i, r := range regions {
		l, want := listings[i], inv.All(r)
		if len(l.Instances) != 2500 || len(want) != 2500 {
			t.Fatalf("%s: listed %d of %d", r, len(l.Instances), len(want))
		}
		if l.Pages != 25 || l.Calls != 26 || probes(l.Probes) != "dry_run=ok" {
			t.Errorf("%s: pages %d calls %d probes %s, want 25, 26 (25 pages + dry run), dry_run=ok", r, l.Pages, l.Calls, probes(l.Probes))
		}
		for j := range want {
			checkAgainst(t, l.Instances[j], want[j])
			got := l.Instances[j]
			if len(got.PrivateIPs) == 0 {
				noIP++
			}
			if got.EIP != "" && len(got.PublicIPs) > 0 {
				eip++
			}
			if got.OSType == asset.Windows {
				windows++
			}
			if len(want[j].NICs) > 1 {
				multiNIC++
			}
			switch got.State {
			case asset.Stopped:
				stopped++
			case asset.Transitional:
				transitional++
			}
		}
	}
	if noIP == 0 || eip == 0 || windows == 0 || multiNIC == 0 || stopped == 0 || transitional == 0 {
		t.Errorf("edge cases missing: noIP=%d eip+public=%d windows=%d multiNIC=%d stopped=%d transitional=%d", noIP, eip, windows, multiNIC, stopped, transitional)
	}
	c := s.Counters()
	if c["DescribeInstances"] != 52 || c["DescribeInstances:DryRunOperation"] != 2 {
		t.Errorf("server counted %d DescribeInstances (%d dry runs), want 52 (2)", c["DescribeInstances"], c["DescribeInstances:DryRunOperation"])
	}
	// No page twice: every NextToken was sent once.
	tokens := map[string]bool{}
	for _, e := range s.Log() {
		if tok := e.Params["NextToken"]; tok != "" {
			if tokens[tok] {
				t.Fatalf("NextToken sent twice")
			}
			tokens[tok] = true
		}
		if e.Params["MaxResults"] != "100" || e.Params["PageNumber"] != "" {
			t.Fatalf("not token paging with MaxResults=100: %v", e.Params)
		}
	}
	if len(tokens) != 48 {
		t.Errorf("%d tokens sent, want 48", len(tokens))
	}
}

func TestPageFailureFailsThePass(t *testing.T) {
	inv := inventory(500, "cn-hangzhou")
	s := startSim(t, inv)
	src := newSource(t, s, keyOK, nil)
	inv.SetFaults(cloudinv.Faults{FailPage: 3})
	l, err := src.List(t.Context(), "cn-hangzhou")
	le := listErr(t, l, err, events.ReasonAPIError)
	for _, want := range []string{"region cn-hangzhou", "page 3", "InternalError", "HTTP 500", "request id "} {
		if !strings.Contains(le.Detail, want) {
			t.Errorf("detail lacks %q: %s", want, le.Detail)
		}
	}
	// dry run + pages 1, 2 + page 3 and its one retry.
	if le.Calls != 5 || probes(le.Probes) != "dry_run=ok" {
		t.Errorf("calls %d probes %s, want 5 and dry_run=ok", le.Calls, probes(le.Probes))
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "InternalError" || ae.HTTPStatus != 500 || ae.RequestID == "" {
		t.Errorf("APIError %+v", ae)
	}
	// A region that is down: 503 after one retry.
	inv.SetFaults(cloudinv.Faults{FailRegions: map[string]bool{"cn-hangzhou": true}})
	l, err = src.List(t.Context(), "cn-hangzhou")
	if le := listErr(t, l, err, events.ReasonAPIError); !strings.Contains(le.Detail, "ServiceUnavailable") || le.Calls != 3 {
		t.Errorf("region down: calls %d: %s", le.Calls, le.Detail)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	inv := inventory(1000, "cn-hangzhou")
	s := startSim(t, inv)
	src := newSource(t, s, keyOK, nil)
	inv.SetFaults(cloudinv.Faults{ThrottleEvery: 3})
	l, err := src.List(t.Context(), "cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Instances) != 1000 || l.Pages != 10 {
		t.Fatalf("%d instances in %d pages", len(l.Instances), l.Pages)
	}
	// 10 pages take 14 list calls when every 3rd is throttled, plus the dry run.
	if l.Calls != 15 || s.Counters()["DescribeInstances:Throttling.User"] != 4 {
		t.Errorf("calls %d, throttled %d; want 15 and 4", l.Calls, s.Counters()["DescribeInstances:Throttling.User"])
	}
	for i, in := range inv.All("cn-hangzhou") {
		if l.Instances[i].InstanceID != in.ID {
			t.Fatalf("instance %d is %s, want %s", i, l.Instances[i].InstanceID, in.ID)
		}
	}
}

func TestThrottlingBeyondTheBudget(t *testing.T) {
	inv := inventory(300, "cn-hangzhou")
	s := startSim(t, inv)
	src := newSource(t, s, keyOK, func(c *Config) { c.Backoff.Attempts = 3 })
	inv.SetFaults(cloudinv.Faults{ThrottleEvery: 1})
	l, err := src.List(t.Context(), "cn-hangzhou")
	le := listErr(t, l, err, events.ReasonThrottled)
	if le.Calls != 1+4 || !strings.Contains(le.Detail, "Throttling.User") || !strings.Contains(le.Detail, "page 1") {
		t.Errorf("calls %d: %s", le.Calls, le.Detail)
	}
}

func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	sourcetest.AssertNoLeak(t, err, secrets, []string{"Signature=", "string to sign"})
}

func TestCredentialsRejected(t *testing.T) {
	inv := inventory(20, "cn-hangzhou")
	s := startSim(t, inv)
	wrong := keyOK
	wrong.Secret = "Wrong-Secret-Do-Not-Print-77"
	for _, skip := range []bool{false, true} {
		src := newSource(t, s, wrong, func(c *Config) { c.SkipDryRunProbe = skip })
		l, err := src.List(t.Context(), "cn-hangzhou")
		le := listErr(t, l, err, events.ReasonAuth)
		if !strings.Contains(le.Detail, "SignatureDoesNotMatch") {
			t.Errorf("detail: %s", le.Detail)
		}
		assertNoSecret(t, err, wrong.Secret, keyOK.Secret)
		_, err = src.Identity(t.Context(), "cn-hangzhou")
		listErr(t, nil, err, events.ReasonAuth)
		assertNoSecret(t, err, wrong.Secret, keyOK.Secret)
	}
	unknown := cloudinv.Key{ID: "LTAI5tNobodyKnowsMe", Secret: "nobody-secret-31"}
	src := newSource(t, s, unknown, nil)
	l, err := src.List(t.Context(), "cn-hangzhou")
	le := listErr(t, l, err, events.ReasonAuth)
	if !strings.Contains(le.Detail, "InvalidAccessKeyId.NotFound") || !strings.Contains(le.Detail, "HTTP 404") {
		t.Errorf("detail: %s", le.Detail)
	}
	assertNoSecret(t, err, unknown.Secret)
	_, err = src.Identity(t.Context(), "")
	listErr(t, nil, err, events.ReasonAuth)
}

func TestKeyWithoutListPermission(t *testing.T) {
	inv := inventory(20, "cn-hangzhou")
	s := startSim(t, inv)
	// Forbidden.RAM: the probe is denied; without the probe the list call is.
	for _, skip := range []bool{false, true} {
		l, err := newSource(t, s, keyNoPerm, func(c *Config) { c.SkipDryRunProbe = skip }).List(t.Context(), "cn-hangzhou")
		le := listErr(t, l, err, events.ReasonPermission)
		if !strings.Contains(le.Detail, "Forbidden.RAM") || !strings.Contains(le.Detail, "HTTP 403") {
			t.Errorf("detail: %s", le.Detail)
		}
		wantProbe := "dry_run=denied"
		if skip {
			wantProbe = "dry_run=skipped"
		}
		if probes(le.Probes) != wantProbe {
			t.Errorf("probes %s, want %s", probes(le.Probes), wantProbe)
		}
		assertNoSecret(t, err, keyNoPerm.Secret)
	}
	// ListEmpty (the pre-2025-12-20 behaviour): the list call succeeds
	// empty; only the DryRun probe tells it from an empty region.
	l, err := newSource(t, s, keyEmpty, nil).List(t.Context(), "cn-hangzhou")
	le := listErr(t, l, err, events.ReasonPermission)
	// Two calls: the probe and the first page, listed beside it.
	if probes(le.Probes) != "dry_run=denied" || le.Calls != 2 || !strings.Contains(le.Detail, "DryRun probe") {
		t.Errorf("ListEmpty: calls %d probes %s: %s", le.Calls, probes(le.Probes), le.Detail)
	}
	// With the probe off the empty listing is returned as is, the skipped
	// probe recorded: the reconciler treats a populated scope that lists
	// empty as suspicious (safety rule 2), so this cannot delete anything.
	l, err = newSource(t, s, keyEmpty, func(c *Config) { c.SkipDryRunProbe = true }).List(t.Context(), "cn-hangzhou")
	if err != nil || len(l.Instances) != 0 || l.Calls != 1 || l.Pages != 1 || probes(l.Probes) != "dry_run=skipped" {
		t.Fatalf("ListEmpty without probe: %+v, %v", l, err)
	}
}

func TestEmptyRegionIsAnEmptyListing(t *testing.T) {
	inv := inventory(5, "cn-hangzhou")
	inv.AddRegion("cn-shanghai")
	s := startSim(t, inv)
	l, err := newSource(t, s, keyOK, nil).List(t.Context(), "cn-shanghai")
	if err != nil || len(l.Instances) != 0 || probes(l.Probes) != "dry_run=ok" || l.Calls != 2 {
		t.Fatalf("empty region: %+v, %v", l, err)
	}
}

func TestChurnWithTokenPaging(t *testing.T) {
	inv := inventory(250, "cn-hangzhou")
	s := startSim(t, inv)
	src := newSource(t, s, keyOK, nil)
	before := inv.All("cn-hangzhou")
	inv.SetFaults(cloudinv.Faults{Churn: []cloudinv.Churn{
		{Region: "cn-hangzhou", AfterPage: 1, Release: true},
		{Region: "cn-hangzhou", AfterPage: 2, Create: true},
	}})
	l, err := src.List(t.Context(), "cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	if inv.ChurnDone() != 2 {
		t.Fatal("churn did not fire")
	}
	listed := sourcetest.Listed(l)
	existed := map[string]bool{}
	for _, in := range before {
		existed[in.ID] = true
	}
	after := inv.All("cn-hangzhou")
	for _, in := range after {
		if !listed[in.ID] {
			t.Errorf("%s exists (since the start: %t) but was not listed", in.ID, existed[in.ID])
		}
	}
	// What was listed beyond the end state is what was released mid-listing.
	if len(l.Instances) != len(after)+1 || !listed[before[0].ID] {
		t.Errorf("listed %d, inventory now %d", len(l.Instances), len(after))
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	inv := inventory(50, "cn-hangzhou")
	s := startSim(t, inv)
	inv.SetFaults(cloudinv.Faults{Hang: 4 * time.Second})

	// A hanging list call past Timeout.
	src := newSource(t, s, keyOK, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	start := time.Now()
	l, err := src.List(t.Context(), "cn-hangzhou")
	le := listErr(t, l, err, events.ReasonTimeout)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v", d)
	}
	if probes(le.Probes) != "dry_run=ok" || !strings.Contains(le.Detail, "page 1") || !strings.Contains(le.Detail, "request timeout") {
		t.Errorf("probes %s: %s", probes(le.Probes), le.Detail)
	}

	// A cancelled context ends the pass promptly although Timeout is long.
	src = newSource(t, s, keyOK, func(c *Config) { c.Timeout = 30 * time.Second })
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	l, err = src.List(ctx, "cn-hangzhou")
	listErr(t, l, err, events.ReasonCanceled)
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %v", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, context.Canceled) = false: %v", err)
	}

	// A pass deadline shorter than Timeout is a timeout.
	ctx, cancel2 := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel2()
	start = time.Now()
	l, err = src.List(ctx, "cn-hangzhou")
	listErr(t, l, err, events.ReasonTimeout)
	if d := time.Since(start); d > time.Second {
		t.Errorf("deadline took %v", d)
	}

	// Latency under Timeout is fine.
	inv.SetFaults(cloudinv.Faults{Latency: 50 * time.Millisecond})
	if l, err := src.List(t.Context(), "cn-hangzhou"); err != nil || len(l.Instances) != 50 {
		t.Fatalf("with latency: %v", err)
	}
}

func TestIdentity(t *testing.T) {
	s := startSim(t, inventory(1, "cn-hangzhou"))
	for _, k := range []cloudinv.Key{keyOK, keyEmpty} {
		id, err := newSource(t, s, k, nil).Identity(t.Context(), "cn-hangzhou")
		if err != nil || id != k.Account {
			t.Fatalf("%s: identity %q, %v; want %s", k.ID, id, err, k.Account)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := newSource(t, s, keyOK, nil).Identity(ctx, "cn-hangzhou")
	listErr(t, nil, err, events.ReasonCanceled)
	// STS on its own endpoint; a dead one is identity_unknown.
	_, err = newSource(t, s, keyOK, func(c *Config) { c.STSEndpoint = "127.0.0.1:1"; c.Timeout = time.Second }).Identity(t.Context(), "cn-hangzhou")
	le := listErr(t, nil, err, events.ReasonIdentityUnknown)
	if !strings.Contains(le.Detail, "GetCallerIdentity") || strings.Contains(le.Detail, "?") {
		t.Errorf("detail: %s", le.Detail)
	}
}

// The SDK honours HTTP_PROXY even for 127.0.0.1; Source's no-proxy entry
// for a loopback endpoint keeps the traffic local.
func TestLoopbackIgnoresProxyEnv(t *testing.T) {
	s := startSim(t, inventory(3, "cn-hangzhou"))
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	src := newSource(t, s, keyOK, nil)
	if l, err := src.List(t.Context(), "cn-hangzhou"); err != nil || len(l.Instances) != 3 {
		t.Fatalf("through a proxy env: %v", err)
	}
	if _, err := src.Identity(t.Context(), "cn-hangzhou"); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidRegion(t *testing.T) {
	s := startSim(t, inventory(3, "cn-hangzhou"))
	src := newSource(t, s, keyOK, nil)
	l, err := src.List(t.Context(), "cn-atlantis")
	le := listErr(t, l, err, events.ReasonAPIError)
	if !strings.Contains(le.Detail, "InvalidRegionId.NotFound") {
		t.Errorf("detail: %s", le.Detail)
	}
	l, err = src.List(t.Context(), "bad region/")
	listErr(t, l, err, events.ReasonAPIError)
}

func TestListingIsNeverPartial(t *testing.T) {
	// Listing.Instances are normalised, carry account and region, and are
	// unique; Identity and List share the pooled clients concurrently.
	inv := inventory(120)
	s := startSim(t, inv)
	src := newSource(t, s, keyOK, func(c *Config) { c.PageSize = 7 })
	var wg sync.WaitGroup
	for range 3 {
		for _, r := range inv.Regions() {
			wg.Go(func() {
				l, err := src.List(t.Context(), r)
				sourcetest.CheckListing(t, l, err, r, "acct-test", 120, 18)
			})
			wg.Go(func() {
				if _, err := src.Identity(t.Context(), r); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
}

// Sources built at the same time (two accounts, two all-in-one stacks in one
// process) must not race on the SDK's lazily built endpoint tables; run
// with -race. The tables are reset as on a fresh start.
func TestNewConcurrently(t *testing.T) {
	ecs.EndpointMap, sts.EndpointMap = nil, nil
	sdkTables = sync.Once{}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			_, err := New(Config{AccessKeyID: "LTAIconcurrent0001", AccessKeySecret: "secret-concurrent",
				AccountID: fmt.Sprintf("acct-%d", i), Regions: []string{"cn-hangzhou"}, Endpoint: "127.0.0.1:1"})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// The account id is asked once and reused for the next passes (an
// AccessKey cannot change account); a failure is not remembered.
func TestIdentityReused(t *testing.T) {
	s := startSim(t, inventory(1, "cn-hangzhou"))
	src := newSource(t, s, keyOK, nil)
	for range 3 {
		if id, err := src.Identity(t.Context(), "cn-hangzhou"); err != nil || id != keyOK.Account {
			t.Fatalf("identity %q, %v", id, err)
		}
	}
	if n := s.Counters()["GetCallerIdentity"]; n != 1 {
		t.Fatalf("GetCallerIdentity asked %d times, want once", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	fresh := newSource(t, s, keyOK, nil)
	if _, err := fresh.Identity(ctx, "cn-hangzhou"); err == nil {
		t.Fatal("identity with a canceled context succeeded")
	}
	if id, err := fresh.Identity(t.Context(), "cn-hangzhou"); err != nil || id != keyOK.Account {
		t.Fatalf("after a failure: %q, %v", id, err)
	}
}
