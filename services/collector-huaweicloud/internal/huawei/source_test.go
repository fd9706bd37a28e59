package huawei

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/collector/sourcetest"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/huaweisim"
)

func TestMain(m *testing.M) {
	// The SDK's default transport ignores these and so does Source's; unset
	// them anyway so that a developer's proxy never sees test traffic.
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"} {
		os.Unsetenv(v)
	}
	os.Exit(m.Run())
}

const (
	regionA = "cn-north-4"
	regionB = "cn-east-3"
	domain  = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	listRt  = "GET /v1/{project_id}/cloudservers/detail"
	iamRt   = "GET /v3/projects"
)

// akSeq gives every key its own AK: discovered project ids are cached (by
// each Source here, and by the SDK per AK+region for the whole process if
// its own discovery ever ran), so tests must not share one.
var akSeq atomic.Int64

func newKey(p cloudinv.Permission) cloudinv.Key {
	n := akSeq.Add(1)
	return cloudinv.Key{ID: fmt.Sprintf("HWCOLTESTAK%09d", n), Secret: fmt.Sprintf("hw-col-secret-%09d-Q9vX", n), Account: domain, Permission: p}
}

func inventory(perRegion int, regions ...string) *cloudinv.Inventory {
	if len(regions) == 0 {
		regions = []string{regionA, regionB}
	}
	return cloudinv.New(cloudinv.Spec{Provider: cloudinv.Huawei, Seed: 11, Regions: regions, PerRegion: perRegion})
}

func startSim(t *testing.T, inv *cloudinv.Inventory, keys ...cloudinv.Key) *huaweisim.Server {
	t.Helper()
	return huaweisim.Start(t, huaweisim.Options{Inventory: inv, Keys: keys})
}

// explicitProjects is ProjectIDs for every region of the simulator.
func explicitProjects(s *huaweisim.Server, k cloudinv.Key) map[string]string {
	m := map[string]string{}
	for _, r := range s.Inventory().Regions() {
		m[r] = s.ProjectID(k.Account, r)
	}
	return m
}

// newSource builds a Source aimed at the simulator with a fast backoff and
// IAM discovery; edit may set ProjectIDs.
func newSource(t *testing.T, s *huaweisim.Server, k cloudinv.Key, edit func(*Config)) *Source {
	t.Helper()
	return sourcetest.Build(t, Config{
		AccessKeyID: k.ID, SecretAccessKey: k.Secret, AccountID: "acct-test", AccountName: "华为测试账号",
		Regions: s.Inventory().Regions(), Endpoint: s.URL, Timeout: 5 * time.Second,
		Backoff: collector.Backoff{Base: time.Millisecond, Max: 4 * time.Millisecond, Attempts: 6},
	}, edit, New)
}

// listErr asserts err is a *collector.ListError with reason and no listing.
func listErr(t *testing.T, l *collector.Listing, err error, reason string) *collector.ListError {
	t.Helper()
	return sourcetest.ListError(t, l, err, reason, "acct-test")
}

var probes = sourcetest.Probes

// wantState is the State the collector must derive from an inventory state.
func wantState(s cloudinv.State) asset.State {
	switch s {
	case cloudinv.Running:
		return asset.Running
	case cloudinv.Stopped:
		return asset.Stopped
	}
	return asset.Transitional // starting (SHUTOFF+powering-on), stopping (ACTIVE+powering-off), pending (BUILD)
}

// checkAgainst compares a listed instance with the inventory's.
func checkAgainst(t *testing.T, got asset.Instance, want *cloudinv.Instance) {
	t.Helper()
	// Every public address of a Huawei server is a floating IP (an EIP):
	// the first is EIP, the others PublicIPs.
	floating := slices.Clone(want.PublicIPs)
	if want.EIP != "" {
		floating = append([]string{want.EIP}, floating...)
	}
	wantEIP, wantPublic := "", []string(nil)
	if len(floating) > 0 {
		wantEIP = floating[0]
		if len(floating) > 1 {
			wantPublic = floating[1:]
		}
	}
	status, _, _, _ := huaweisim.Status(want.State)
	sourcetest.CheckInstance(t, got, want, asset.HuaweiCloud, "acct-test",
		sourcetest.Field{Name: "image", Got: got.ImageName, Want: want.OSName},
		sourcetest.Field{Name: "status", Got: got.Status, Want: status},
		sourcetest.Field{Name: "state", Got: got.State, Want: wantState(want.State)},
		sourcetest.Field{Name: "public ips", Got: fmt.Sprint(got.PublicIPs), Want: fmt.Sprint(wantPublic)},
		sourcetest.Field{Name: "eip", Got: got.EIP, Want: wantEIP})
}

// listAll lists every region of inv in parallel through src and checks
// each listing against the inventory, in order, with its edge cases.
func listAll(t *testing.T, src *Source, inv *cloudinv.Inventory, perRegion int) []*collector.Listing {
	t.Helper()
	regions := inv.Regions()
	listings := sourcetest.ListAll(t, src, regions)
	edge := map[string]int{}
	for i, r := range regions {
		l, want := listings[i], inv.All(r)
		if len(l.Instances) != perRegion || len(want) != perRegion {
			t.Fatalf("%s: listed %d of %d", r, len(l.Instances), len(want))
		}
		if probes(l.Probes) != "dry_run=unsupported" {
			t.Errorf("%s: probes %s", r, probes(l.Probes))
		}
		for j := range want {
			checkAgainst(t, l.Instances[j], want[j])
			got := l.Instances[j]
			switch {
			case len(got.PrivateIPs) == 0:
				edge["no private ip"]++
			case len(got.PrivateIPs) > 1:
				edge["several private ips"]++
			}
			if got.EIP != "" && len(got.PublicIPs) > 0 {
				edge["eip+public"]++
			}
			if got.OSType == asset.Windows {
				edge["windows"]++
			}
			if strings.Contains(got.Name, "twin-db") || strings.Contains(got.Name, "winery") {
				edge["win-in-a-linux-name"]++
			}
			if len(want[j].NICs) > 1 {
				edge["several NICs"]++
			}
			if _, ok := got.Tags["legacy"]; ok {
				edge["tag without ="]++
			}
			edge[string(got.State)]++
		}
	}
	for _, e := range []string{"no private ip", "several private ips", "eip+public", "windows", "win-in-a-linux-name", "several NICs", "tag without =", "running", "stopped", "transitional"} {
		if edge[e] == 0 {
			t.Errorf("edge case %q missing from the listing", e)
		}
	}
	return listings
}

// checkListRequests: every list call was verified, used limit=1000, marker
// paging (never offset), all_granted_eps, and no marker was sent twice.
func checkListRequests(t *testing.T, s *huaweisim.Server, wantMarkers int) {
	t.Helper()
	markers := map[string]bool{}
	for _, e := range s.Log() {
		if e.Route != "/v1/{project_id}/cloudservers/detail" {
			continue
		}
		if !e.Verified || e.Status != 200 {
			t.Fatalf("list request failed or unverified: %+v", e)
		}
		if strings.Contains(e.Path, "{") || strings.Contains(e.Path, "%7B") {
			t.Fatalf("literal project id placeholder: %s", e.Path)
		}
		if !strings.Contains(e.Query, "limit=1000") || strings.Contains(e.Query, "offset=") || !strings.Contains(e.Query, "enterprise_project_id=all_granted_eps") {
			t.Fatalf("query %q: want limit=1000, marker paging, all_granted_eps", e.Query)
		}
		if i := strings.Index(e.Query, "marker="); i >= 0 {
			m := strings.SplitN(e.Query[i+7:], "&", 2)[0]
			if markers[m] {
				t.Fatalf("marker %s sent twice: a page fetched twice", m)
			}
			markers[m] = true
		}
	}
	if len(markers) != wantMarkers {
		t.Errorf("%d markers sent, want %d", len(markers), wantMarkers)
	}
}

// The acceptance test, explicit project ids: 2 regions × 2,500 listed
// completely, in parallel through one Source, one call per page, no IAM call.
func TestListTwoRegionsOf2500ExplicitProjects(t *testing.T) {
	inv := inventory(2500)
	k := newKey(cloudinv.CanList)
	s := startSim(t, inv, k)
	src := newSource(t, s, k, func(c *Config) { c.ProjectIDs = explicitProjects(s, k) })
	for _, l := range listAll(t, src, inv, 2500) {
		if l.Pages != 3 || l.Calls != 3 {
			t.Errorf("pages %d calls %d, want 3 and 3", l.Pages, l.Calls)
		}
	}
	c := s.Counts()
	if c[listRt] != 6 || c[iamRt] != 0 {
		t.Errorf("server counted %d list calls and %d IAM calls, want 6 and 0", c[listRt], c[iamRt])
	}
	checkListRequests(t, s, 4)
}

// The acceptance test, project ids looked up through IAM.
func TestListTwoRegionsOf2500ProjectDiscovery(t *testing.T) {
	inv := inventory(2500)
	k := newKey(cloudinv.CanList)
	s := startSim(t, inv, k)
	src := newSource(t, s, k, nil)
	for _, l := range listAll(t, src, inv, 2500) {
		if l.Pages != 3 || l.Calls != 4 {
			t.Errorf("pages %d calls %d, want 3 and 4 (3 pages + the IAM lookup)", l.Pages, l.Calls)
		}
	}
	c := s.Counts()
	if c[listRt] != 6 || c[iamRt] != 2 {
		t.Errorf("server counted %d list calls and %d IAM calls, want 6 and 2", c[listRt], c[iamRt])
	}
	checkListRequests(t, s, 4)
	for _, e := range s.Log() {
		if e.Route == "/v3/projects" && (!e.Verified || !strings.HasPrefix(e.Query, "name=cn-")) {
			t.Fatalf("IAM call %+v", e)
		}
	}
	// The ids found are kept: a second pass makes no IAM call.
	l, err := src.List(t.Context(), regionA)
	if err != nil || l.Calls != 3 || s.Counts()[iamRt] != 2 {
		t.Fatalf("second pass: %v, calls %d, IAM calls %d", err, l.Calls, s.Counts()[iamRt])
	}
}

func TestPageFailureFailsThePass(t *testing.T) {
	inv := inventory(500, regionA)
	k := newKey(cloudinv.CanList)
	s := startSim(t, inv, k)
	src := newSource(t, s, k, func(c *Config) { c.ProjectIDs, c.PageSize = explicitProjects(s, k), 100 })
	inv.SetFaults(cloudinv.Faults{FailPage: 3})
	l, err := src.List(t.Context(), regionA)
	le := listErr(t, l, err, events.ReasonAPIError)
	for _, want := range []string{"region " + regionA, "page 3", "Ecs.0000", "HTTP 500", "request id "} {
		if !strings.Contains(le.Detail, want) {
			t.Errorf("detail lacks %q: %s", want, le.Detail)
		}
	}
	// pages 1, 2 + page 3 and its one retry.
	if le.Calls != 4 || probes(le.Probes) != "dry_run=unsupported" {
		t.Errorf("calls %d probes %s, want 4 and dry_run=unsupported", le.Calls, probes(le.Probes))
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "Ecs.0000" || ae.HTTPStatus != 500 || ae.RequestID == "" {
		t.Errorf("APIError %+v", ae)
	}
	// A region that is down: 503 after one retry.
	inv.SetFaults(cloudinv.Faults{FailRegions: map[string]bool{regionA: true}})
	l, err = src.List(t.Context(), regionA)
	if le := listErr(t, l, err, events.ReasonAPIError); !strings.Contains(le.Detail, "APIGW.0202") || le.Calls != 2 {
		t.Errorf("region down: calls %d: %s", le.Calls, le.Detail)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	inv := inventory(1000, regionA)
	k := newKey(cloudinv.CanList)
	s := startSim(t, inv, k)
	src := newSource(t, s, k, func(c *Config) { c.ProjectIDs, c.PageSize = explicitProjects(s, k), 100 })
	inv.SetFaults(cloudinv.Faults{ThrottleEvery: 3})
	l, err := src.List(t.Context(), regionA)
	if err != nil {
		t.Fatal(err)
	}
	// 11 pages (the 11th empty: 1000 is a multiple of 100) take 16 calls
	// when every 3rd is throttled.
	if len(l.Instances) != 1000 || l.Pages != 11 || l.Calls != 16 {
		t.Fatalf("%d instances in %d pages, %d calls; want 1000, 11, 16", len(l.Instances), l.Pages, l.Calls)
	}
	throttled := 0
	for _, e := range s.Log() {
		if e.ErrorCode == "APIGW.0308" {
			throttled++
		}
	}
	if throttled != 5 {
		t.Errorf("%d throttled answers, want 5", throttled)
	}
	for i, in := range inv.All(regionA) {
		if l.Instances[i].InstanceID != in.ID {
			t.Fatalf("instance %d is %s, want %s", i, l.Instances[i].InstanceID, in.ID)
		}
	}
}

func TestThrottlingBeyondTheBudget(t *testing.T) {
	inv := inventory(300, regionA)
	k := newKey(cloudinv.CanList)
	s := startSim(t, inv, k)
	src := newSource(t, s, k, func(c *Config) { c.ProjectIDs, c.Backoff.Attempts = explicitProjects(s, k), 3 })
	inv.SetFaults(cloudinv.Faults{ThrottleEvery: 1})
	l, err := src.List(t.Context(), regionA)
	le := listErr(t, l, err, events.ReasonThrottled)
	if le.Calls != 4 || !strings.Contains(le.Detail, "APIGW.0308") || !strings.Contains(le.Detail, "page 1") || !strings.Contains(le.Detail, "HTTP 429") {
		t.Errorf("calls %d: %s", le.Calls, le.Detail)
	}
}

func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	sourcetest.AssertNoLeak(t, err, secrets, []string{"canonicalRequest", "SDK-HMAC-SHA256", "x-sdk-date", "Signature="})
}

func TestCredentialsRejected(t *testing.T) {
	inv := inventory(20, regionA)
	k := newKey(cloudinv.CanList)
	s := startSim(t, inv, k)
	wrong := k
	wrong.Secret = "Wrong-Secret-Do-Not-Print-77"
	for _, discover := range []bool{false, true} {
		src := newSource(t, s, wrong, func(c *Config) {
			if !discover {
				c.ProjectIDs = explicitProjects(s, k)
			}
		})
		l, err := src.List(t.Context(), regionA)
		le := listErr(t, l, err, events.ReasonAuth)
		if !strings.Contains(le.Detail, "APIGW.0301") || !strings.Contains(le.Detail, "HTTP 401") || !strings.Contains(le.Detail, "verify aksk signature fail") {
			t.Errorf("detail: %s", le.Detail)
		}
		if discover != strings.Contains(le.Detail, "project id lookup") {
			t.Errorf("discover=%t: detail %s", discover, le.Detail)
		}
		assertNoSecret(t, err, wrong.Secret, k.Secret)
		_, err = src.Identity(t.Context(), regionA)
		listErr(t, nil, err, events.ReasonAuth)
		assertNoSecret(t, err, wrong.Secret, k.Secret)
	}
	unknown := cloudinv.Key{ID: "HWCOLNOBODYKNOWSME01", Secret: "nobody-secret-31"}
	src := newSource(t, s, unknown, func(c *Config) { c.ProjectIDs = explicitProjects(s, k) })
	l, err := src.List(t.Context(), regionA)
	le := listErr(t, l, err, events.ReasonAuth)
	if !strings.Contains(le.Detail, "APIGW.0301") || !strings.Contains(le.Detail, "not exist") {
		t.Errorf("detail: %s", le.Detail)
	}
	assertNoSecret(t, err, unknown.Secret)
	_, err = src.Identity(t.Context(), "")
	listErr(t, nil, err, events.ReasonAuth)
}

func TestProjectLookupFailures(t *testing.T) {
	inv := inventory(5, regionA)
	k1, k2, k3 := newKey(cloudinv.CanList), newKey(cloudinv.CanList), newKey(cloudinv.CanList)
	s := startSim(t, inv, k1, k2, k3)

	s.SetIAMMode(huaweisim.IAMNone)
	l, err := newSource(t, s, k1, nil).List(t.Context(), regionA)
	le := listErr(t, l, err, ReasonProjectUnresolved)
	if !strings.Contains(le.Detail, "no project named") || !strings.Contains(le.Detail, `ProjectIDs["cn-north-4"]`) || le.Calls != 1 {
		t.Errorf("zero projects: calls %d: %s", le.Calls, le.Detail)
	}
	_, err = newSource(t, s, k1, nil).Identity(t.Context(), regionA)
	listErr(t, nil, err, events.ReasonIdentityUnknown)

	s.SetIAMMode(huaweisim.IAMTwo)
	src := newSource(t, s, k2, nil)
	l, err = src.List(t.Context(), regionA)
	le = listErr(t, l, err, ReasonProjectUnresolved)
	if !strings.Contains(le.Detail, "2 projects named") || !strings.Contains(le.Detail, s.ProjectID(domain, regionA)) {
		t.Errorf("two projects: %s", le.Detail)
	}
	// Both projects are the account's: the identity is still clear, but no
	// project id is kept from an ambiguous answer.
	if id, err := src.Identity(t.Context(), regionA); err != nil || id != domain {
		t.Fatalf("identity with two projects: %q, %v", id, err)
	}
	if _, err := src.List(t.Context(), regionA); err == nil {
		t.Fatal("an ambiguous lookup was cached")
	}
	// A configured project id needs no lookup at all.
	l, err = newSource(t, s, k2, func(c *Config) { c.ProjectIDs = explicitProjects(s, k2) }).List(t.Context(), regionA)
	if err != nil || len(l.Instances) != 5 {
		t.Fatalf("explicit project with IAM answering two: %v", err)
	}

	// A region the account has no project in.
	s.SetIAMMode(huaweisim.IAMOne)
	l, err = newSource(t, s, k3, nil).List(t.Context(), "ap-southeast-9")
	listErr(t, l, err, ReasonProjectUnresolved)
	for _, e := range s.Log() {
		if strings.Contains(e.Path, "{") || strings.Contains(e.Path, "%7B") {
			t.Fatalf("a literal {project_id} was sent: %s", e.Path)
		}
	}
}

func TestKeyWithoutListPermission(t *testing.T) {
	inv := inventory(20, regionA)
	forbidden, empty := newKey(cloudinv.ListForbidden), newKey(cloudinv.ListEmpty)
	s := startSim(t, inv, forbidden, empty)
	l, err := newSource(t, s, forbidden, nil).List(t.Context(), regionA)
	le := listErr(t, l, err, events.ReasonPermission)
	if !strings.Contains(le.Detail, "Ecs.0319") || !strings.Contains(le.Detail, "HTTP 403") || probes(le.Probes) != "dry_run=unsupported" {
		t.Errorf("detail %s, probes %s", le.Detail, probes(le.Probes))
	}
	assertNoSecret(t, err, forbidden.Secret)

	// ListEmpty: the list call succeeds empty. Without a DryRun nothing
	// tells it from an empty region: the empty listing is returned as is,
	// the unsupported probe recorded, and the reconciler treats a populated
	// scope that lists empty as suspicious (safety rule 2).
	l, err = newSource(t, s, empty, func(c *Config) { c.ProjectIDs = explicitProjects(s, empty) }).List(t.Context(), regionA)
	if err != nil || len(l.Instances) != 0 || l.Calls != 1 || l.Pages != 1 || probes(l.Probes) != "dry_run=unsupported" {
		t.Fatalf("ListEmpty: %+v, %v", l, err)
	}
}

func TestEmptyRegionIsAnEmptyListing(t *testing.T) {
	inv := inventory(5, regionA)
	inv.AddRegion("cn-south-1")
	k := newKey(cloudinv.CanList)
	s := startSim(t, inv, k)
	l, err := newSource(t, s, k, nil).List(t.Context(), "cn-south-1")
	if err != nil || len(l.Instances) != 0 || probes(l.Probes) != "dry_run=unsupported" || l.Calls != 2 || l.Pages != 1 {
		t.Fatalf("empty region: %+v, %v", l, err)
	}
}

func TestChurnWithMarkerPaging(t *testing.T) {
	inv := inventory(250, regionA)
	k := newKey(cloudinv.CanList)
	s := startSim(t, inv, k)
	src := newSource(t, s, k, func(c *Config) { c.ProjectIDs, c.PageSize = explicitProjects(s, k), 100 })
	before := inv.All(regionA)
	inv.SetFaults(cloudinv.Faults{Churn: []cloudinv.Churn{
		// After page 1: the first server (already listed) is released and
		// one is created at the end. (The simulator numbers a marker page
		// by its position, which the release shifts, so both fire at once.)
		{Region: regionA, AfterPage: 1, Release: true},
		{Region: regionA, AfterPage: 1, Create: true},
	}})
	l, err := src.List(t.Context(), regionA)
	if err != nil {
		t.Fatal(err)
	}
	if inv.ChurnDone() != 2 {
		t.Fatal("churn did not fire")
	}
	listed := sourcetest.Listed(l)
	after := inv.All(regionA)
	for _, in := range after {
		if !listed[in.ID] {
			t.Errorf("%s exists but was not listed", in.ID)
		}
	}
	for _, in := range before[1:] {
		if !listed[in.ID] {
			t.Errorf("%s existed throughout but was not listed", in.ID)
		}
	}
	// What was listed beyond the end state is what was released mid-listing.
	if len(l.Instances) != len(after)+1 || !listed[before[0].ID] || l.Calls != 3 {
		t.Errorf("listed %d in %d calls, inventory now %d", len(l.Instances), l.Calls, len(after))
	}

}

func TestTimeoutAndCancel(t *testing.T) {
	inv := inventory(50, regionA)
	k := newKey(cloudinv.CanList)
	s := startSim(t, inv, k)
	inv.SetFaults(cloudinv.Faults{Hang: 4 * time.Second})
	explicit := explicitProjects(s, k)

	// A hanging list call past Timeout.
	src := newSource(t, s, k, func(c *Config) { c.ProjectIDs, c.Timeout = explicit, 300*time.Millisecond })
	start := time.Now()
	l, err := src.List(t.Context(), regionA)
	le := listErr(t, l, err, events.ReasonTimeout)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v", d)
	}
	if !strings.Contains(le.Detail, "page 1") || !strings.Contains(le.Detail, "request timeout") || le.Calls != 1 {
		t.Errorf("calls %d: %s", le.Calls, le.Detail)
	}

	// A cancelled context ends the pass promptly although Timeout is long.
	src = newSource(t, s, k, func(c *Config) { c.ProjectIDs, c.Timeout = explicit, 30*time.Second })
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	l, err = src.List(ctx, regionA)
	listErr(t, l, err, events.ReasonCanceled)
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %v", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, context.Canceled) = false: %v", err)
	}
	// Both requests were aborted, not abandoned: the simulator (which
	// records a request once its handler returns, and hangs 4 s unless the
	// client goes away) has seen both end.
	for deadline := time.Now().Add(time.Second); s.Counts()[listRt] != 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the aborted requests are still running: %d of 2 ended", s.Counts()[listRt])
		}
	}

	// A pass deadline shorter than Timeout is a timeout.
	ctx, cancel2 := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel2()
	start = time.Now()
	l, err = src.List(ctx, regionA)
	if le := listErr(t, l, err, events.ReasonTimeout); !strings.Contains(le.Detail, "deadline") {
		t.Errorf("detail: %s", le.Detail)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("deadline took %v", d)
	}

	// Latency under Timeout is fine.
	inv.SetFaults(cloudinv.Faults{Latency: 50 * time.Millisecond})
	if l, err := src.List(t.Context(), regionA); err != nil || len(l.Instances) != 50 {
		t.Fatalf("with latency: %v", err)
	}

	// A cancelled context fails the IAM lookup too, without a call.
	ctx, cancel3 := context.WithCancel(t.Context())
	cancel3()
	l, err = newSource(t, s, k, nil).List(ctx, regionA)
	if le := listErr(t, l, err, events.ReasonCanceled); !strings.Contains(le.Detail, "project id lookup") {
		t.Errorf("detail: %s", le.Detail)
	}
}

func TestIdentity(t *testing.T) {
	inv := inventory(1)
	k := newKey(cloudinv.CanList)
	other := newKey(cloudinv.ListEmpty)
	other.Account = "ffffffffffffffffffffffffffffffff"
	s := startSim(t, inv, k, other)
	for _, key := range []cloudinv.Key{k, other} {
		src := newSource(t, s, key, nil)
		id, err := src.Identity(t.Context(), regionA)
		if err != nil || id != key.Account {
			t.Fatalf("%s: identity %q, %v; want %s", key.ID, id, err, key.Account)
		}
		// The project found is kept: the listing that follows makes no IAM call.
		iam := s.Counts()[iamRt]
		l, err := src.List(t.Context(), regionA)
		if err != nil || l.Calls != 1 || s.Counts()[iamRt] != iam {
			t.Fatalf("%s: list after identity: %v, calls %d", key.ID, err, l.Calls)
		}
	}
	// "" is the first configured region.
	if id, err := newSource(t, s, k, nil).Identity(t.Context(), ""); err != nil || id != domain {
		t.Fatalf("identity of the first region: %q %v", id, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := newSource(t, s, k, nil).Identity(ctx, regionA)
	listErr(t, nil, err, events.ReasonCanceled)
	// IAM on its own endpoint; a dead one is identity_unknown.
	_, err = newSource(t, s, k, func(c *Config) { c.IAMEndpoint = "http://127.0.0.1:1"; c.Timeout = time.Second }).Identity(t.Context(), regionA)
	le := listErr(t, nil, err, events.ReasonIdentityUnknown)
	if !strings.Contains(le.Detail, "KeystoneListProjects") || strings.Contains(le.Detail, "?") {
		t.Errorf("detail: %s", le.Detail)
	}
}

func TestInvalidRegion(t *testing.T) {
	k := newKey(cloudinv.CanList)
	s := startSim(t, inventory(3, regionA), k)
	src := newSource(t, s, k, nil)
	l, err := src.List(t.Context(), "bad region/")
	listErr(t, l, err, events.ReasonAPIError)
	_, err = src.Identity(t.Context(), "bad region/")
	listErr(t, nil, err, events.ReasonIdentityUnknown)
}

func TestConcurrentListingsAndIdentity(t *testing.T) {
	// Listings through one Source in parallel, Identity beside them; page
	// size 7 for many pages.
	inv := inventory(120)
	k := newKey(cloudinv.CanList)
	s := startSim(t, inv, k)
	src := newSource(t, s, k, func(c *Config) { c.PageSize = 7 })
	var wg sync.WaitGroup
	for range 3 {
		for _, r := range inv.Regions() {
			wg.Go(func() {
				l, err := src.List(t.Context(), r)
				sourcetest.CheckListing(t, l, err, r, "acct-test", 120, 18)
			})
			wg.Go(func() {
				if id, err := src.Identity(t.Context(), r); err != nil || id != domain {
					t.Errorf("identity %q %v", id, err)
				}
			})
		}
	}
	wg.Wait()
}
