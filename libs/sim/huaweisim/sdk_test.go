package huaweisim

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/invoker/retry"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	ecs "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2/model"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

const (
	regionA = "cn-north-4"
	regionB = "cn-east-3"
	account = "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
)

// akSeq gives every test its own access key: the SDK caches discovered
// project ids per AK+region for the whole process.
var akSeq atomic.Int64

func newKey(p cloudinv.Permission) cloudinv.Key {
	n := akSeq.Add(1)
	return cloudinv.Key{
		ID:         fmt.Sprintf("HWSIMTESTAK%09d", n),
		Secret:     fmt.Sprintf("HWSIMTESTSK%029d", n),
		Account:    account,
		Permission: p,
	}
}

func newInventory(perRegion int, regions ...string) *cloudinv.Inventory {
	return cloudinv.New(cloudinv.Spec{Provider: cloudinv.Huawei, Seed: 42, Regions: regions, PerRegion: perRegion})
}

func httpConfig() *config.HttpConfig {
	return config.DefaultHttpConfig().WithTimeout(30 * time.Second)
}

// explicitClient is Variant A of cloud-apis.md §2.9: explicit project id,
// endpoint override, no IAM call.
func explicitClient(t *testing.T, url string, k cloudinv.Key, projectID string) *ecs.EcsClient {
	t.Helper()
	cred, err := basic.NewCredentialsBuilder().WithAk(k.ID).WithSk(k.Secret).WithProjectId(projectID).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := ecs.EcsClientBuilder().
		WithEndpoints([]string{url}).
		WithCredential(cred).
		WithHttpConfig(httpConfig()).
		SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	return ecs.NewEcsClient(hc)
}

// discoveryClient is Variant B: region + IAM endpoint override, project id
// discovered by GET /v3/projects?name=<region>.
func discoveryClient(url string, k cloudinv.Key, regionID string) (*ecs.EcsClient, error) {
	cred, err := basic.NewCredentialsBuilder().WithAk(k.ID).WithSk(k.Secret).
		WithIamEndpointOverride(url).SafeBuild()
	if err != nil {
		return nil, err
	}
	hc, err := ecs.EcsClientBuilder().
		WithRegion(region.NewRegion(regionID, url)).
		WithCredential(cred).
		WithHttpConfig(httpConfig()).
		SafeBuild()
	if err != nil {
		return nil, err
	}
	return ecs.NewEcsClient(hc), nil
}

func i32(n int) *int32 { v := int32(n); return &v }

// listOffset pages with offset = page number until count servers are seen
// or a page comes back short.
func listOffset(c *ecs.EcsClient, limit int, base model.ListServersDetailsRequest) ([]model.ServerDetail, error) {
	var out []model.ServerDetail
	for page := 1; ; page++ {
		if page > 20 {
			return out, errors.New("offset paging does not end")
		}
		req := base
		req.Limit, req.Offset = i32(limit), i32(page)
		resp, err := c.ListServersDetails(&req)
		if err != nil {
			return out, err
		}
		servers := *resp.Servers
		out = append(out, servers...)
		if len(servers) < limit || len(out) >= int(*resp.Count) {
			return out, nil
		}
	}
}

// listMarker pages with marker = id of the last server seen.
func listMarker(c *ecs.EcsClient, limit int) ([]model.ServerDetail, error) {
	var out []model.ServerDetail
	req := model.ListServersDetailsRequest{Limit: i32(limit)}
	for pages := 0; ; pages++ {
		if pages > 20 {
			return out, errors.New("marker paging does not advance")
		}
		resp, err := c.ListServersDetails(&req)
		if err != nil {
			return out, err
		}
		servers := *resp.Servers
		out = append(out, servers...)
		if len(servers) < limit {
			return out, nil
		}
		last := servers[len(servers)-1].Id
		req.Marker = &last
	}
}

func asServiceError(t *testing.T, err error) *sdkerr.ServiceResponseError {
	t.Helper()
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) {
		t.Fatalf("want *sdkerr.ServiceResponseError, got %T: %v", err, err)
	}
	return se
}

func wantServiceError(t *testing.T, err error, status int, code string) *sdkerr.ServiceResponseError {
	t.Helper()
	if err == nil {
		t.Fatalf("want %d %s, got success", status, code)
	}
	se := asServiceError(t, err)
	if se.StatusCode != status || se.ErrorCode != code {
		t.Fatalf("want %d %s, got %d %q: %s", status, code, se.StatusCode, se.ErrorCode, se.ErrorMessage)
	}
	if se.RequestId == "" {
		t.Fatalf("RequestId empty: the SDK reads it from X-Request-Id")
	}
	return se
}

// checkServer compares one decoded server with the inventory instance.
func checkServer(t *testing.T, in *cloudinv.Instance, s model.ServerDetail, projectID string) {
	t.Helper()
	fail := func(field string, got, want any) {
		t.Helper()
		t.Fatalf("server %s (%s): %s = %v, want %v", in.ID, in.Name, field, got, want)
	}
	if s.Id != in.ID {
		fail("id", s.Id, in.ID)
	}
	if s.Name != in.Name {
		fail("name", s.Name, in.Name)
	}
	st, vm, _, power := Status(in.State)
	if s.Status != st || s.OSEXTSTSvmState != vm || int(s.OSEXTSTSpowerState) != power {
		fail("status", s.Status+"/"+s.OSEXTSTSvmState, st+"/"+vm)
	}
	if s.TenantId != projectID {
		fail("tenant_id", s.TenantId, projectID)
	}
	if s.OSEXTAZavailabilityZone != in.Zone {
		fail("availability zone", s.OSEXTAZavailabilityZone, in.Zone)
	}
	if s.OSEXTSRVATTRhostname != in.HostName {
		fail("hostname", s.OSEXTSRVATTRhostname, in.HostName)
	}
	if s.EnterpriseProjectId == nil || *s.EnterpriseProjectId != in.EnterpriseProjectID {
		fail("enterprise_project_id", s.EnterpriseProjectId, in.EnterpriseProjectID)
	}
	if s.Flavor == nil || s.Flavor.Id != in.InstanceType || s.Flavor.Vcpus != strconv.Itoa(in.CPU) || s.Flavor.Ram != strconv.Itoa(in.MemoryMiB) {
		fail("flavor", s.Flavor, in.InstanceType)
	}
	wantOS := map[string]string{"linux": "Linux", "windows": "Windows"}[in.OSType]
	if s.Metadata["os_type"] != wantOS || s.Metadata["image_name"] != in.OSName || s.Metadata["vpc_id"] != in.VPCID {
		fail("metadata", s.Metadata, wantOS+" "+in.OSName)
	}
	created, err := time.Parse(time.RFC3339, s.Created)
	if err != nil || !created.Equal(in.CreatedAt) {
		fail("created", s.Created, in.CreatedAt)
	}
	var tags []string
	if s.Tags != nil {
		tags = *s.Tags
	}
	if !slices.Equal(tags, TagStrings(in.Tags)) {
		fail("tags", tags, TagStrings(in.Tags))
	}
	var fixed4, fixed6, floating []string
	for vpc, list := range s.Addresses {
		if vpc != in.VPCID {
			fail("addresses key", vpc, in.VPCID)
		}
		for _, a := range list {
			if a.OSEXTIPStype == nil {
				fail("OS-EXT-IPS:type", nil, "fixed/floating")
			}
			switch typ := a.OSEXTIPStype.Value(); {
			case typ == "floating":
				floating = append(floating, a.Addr)
			case typ == "fixed" && a.Version == "4":
				fixed4 = append(fixed4, a.Addr)
			case typ == "fixed" && a.Version == "6":
				fixed6 = append(fixed6, a.Addr)
			default:
				fail("address", typ+"/"+a.Version, "fixed|floating / 4|6")
			}
			if a.OSEXTIPSMACmacAddr == nil || *a.OSEXTIPSMACmacAddr == "" {
				fail("mac", a.OSEXTIPSMACmacAddr, "a MAC")
			}
		}
	}
	if !slices.Equal(fixed4, in.PrivateIPs()) {
		fail("fixed IPv4", fixed4, in.PrivateIPs())
	}
	var v6 []string
	for _, n := range in.NICs {
		v6 = append(v6, n.IPv6...)
	}
	if !slices.Equal(fixed6, v6) {
		fail("fixed IPv6", fixed6, v6)
	}
	var wantFloat []string
	if in.EIP != "" {
		wantFloat = append(wantFloat, in.EIP)
	}
	wantFloat = append(wantFloat, in.PublicIPs...)
	if !slices.Equal(floating, wantFloat) {
		fail("floating", floating, wantFloat)
	}
}

// checkListing checks a complete listing against the inventory, in order.
func checkListing(t *testing.T, inv *cloudinv.Inventory, regionID, projectID string, got []model.ServerDetail) {
	t.Helper()
	want := inv.All(regionID)
	if len(got) != len(want) {
		t.Fatalf("%s: listed %d servers, inventory has %d", regionID, len(got), len(want))
	}
	for i := range want {
		checkServer(t, want[i], got[i], projectID)
	}
}

func TestSDKExplicitProjectListsTwoRegionsOf2500(t *testing.T) {
	inv := newInventory(2500, regionA, regionB)
	k := newKey(cloudinv.CanList)
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k}})
	edge := map[string]int{}
	for _, r := range []string{regionA, regionB} {
		pid := srv.ProjectID(k.Account, r)
		got, err := listOffset(explicitClient(t, srv.URL, k, pid), 1000, model.ListServersDetailsRequest{})
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		checkListing(t, inv, r, pid, got)
		names := map[string]int{}
		for _, s := range got {
			names[s.Name]++
			if strings.ContainsFunc(s.Name, func(r rune) bool { return r > 127 }) {
				edge["chinese"]++
			}
			if s.Metadata["os_type"] == "Windows" {
				edge["windows"]++
			}
			if s.Status == "SHUTOFF" {
				edge["shutoff"]++
			}
			if len(s.Addresses) == 0 {
				edge["no-address"]++
			}
			if s.Tags != nil && slices.ContainsFunc(*s.Tags, func(t string) bool { return !strings.Contains(t, "=") }) {
				edge["tag-without-value"]++
			}
			for _, list := range s.Addresses {
				for _, a := range list {
					if a.Version == "6" {
						edge["ipv6"]++
					}
				}
			}
		}
		for _, n := range names {
			if n > 1 {
				edge["duplicate-name"]++
			}
		}
	}
	for _, e := range []string{"chinese", "windows", "shutoff", "no-address", "tag-without-value", "ipv6", "duplicate-name"} {
		if edge[e] == 0 {
			t.Errorf("no %s server in the listing", e)
		}
	}
	// 2 regions x 3 pages of 1000; every request verified, no IAM call.
	var lists int
	for _, e := range srv.Log() {
		if !e.Verified || e.Status != 200 {
			t.Fatalf("request not verified or failed: %+v", e)
		}
		if e.Route != "/v1/{project_id}/cloudservers/detail" {
			t.Fatalf("unexpected route %q", e.Route)
		}
		if !slices.Equal(e.SignedHeaders, []string{"user-agent", "x-project-id", "x-sdk-date"}) {
			t.Fatalf("signed headers %v", e.SignedHeaders)
		}
		lists++
	}
	if lists != 6 {
		t.Fatalf("%d list calls, want 6", lists)
	}
}

func TestSDKDiscoveryListsTwoRegionsOf2500WithMarker(t *testing.T) {
	inv := newInventory(2500, regionA, regionB)
	k := newKey(cloudinv.CanList)
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k}})
	for _, r := range []string{regionA, regionB} {
		c, err := discoveryClient(srv.URL, k, r)
		if err != nil {
			t.Fatalf("%s: discovery: %v", r, err)
		}
		got, err := listMarker(c, 1000)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		checkListing(t, inv, r, srv.ProjectID(k.Account, r), got)
	}
	var iam []LogEntry
	for _, e := range srv.Log() {
		if e.Route == "/v3/projects" {
			iam = append(iam, e)
		}
	}
	if len(iam) != 2 {
		t.Fatalf("%d IAM calls, want 2", len(iam))
	}
	for _, e := range iam {
		if !e.Verified || !slices.Equal(e.SignedHeaders, []string{"x-sdk-date"}) || !strings.HasPrefix(e.Query, "name=cn-") {
			t.Fatalf("IAM call %+v", e)
		}
	}
	if n := srv.Counts()["GET /v1/{project_id}/cloudservers/detail"]; n != 6 {
		t.Fatalf("%d list calls counted, want 6", n)
	}
}

func TestSDKWrongSecretUnknownAKAndSkew(t *testing.T) {
	inv := newInventory(10, regionA)
	k := newKey(cloudinv.CanList)
	var skew atomic.Int64
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k},
		Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	pid := srv.ProjectID(k.Account, regionA)

	bad := k
	bad.Secret = "not-the-secret"
	_, err := explicitClient(t, srv.URL, bad, pid).ListServersDetails(&model.ListServersDetailsRequest{})
	se := wantServiceError(t, err, 401, "APIGW.0301")
	if !strings.Contains(se.ErrorMessage, "verify aksk signature fail") {
		t.Fatalf("message %q", se.ErrorMessage)
	}

	unknown := k
	unknown.ID = "HWSIMNOSUCHAK0000000"
	_, err = explicitClient(t, srv.URL, unknown, pid).ListServersDetails(&model.ListServersDetailsRequest{})
	se = wantServiceError(t, err, 401, "APIGW.0301")
	if !strings.Contains(se.ErrorMessage, "not exist") {
		t.Fatalf("message %q", se.ErrorMessage)
	}

	skew.Store(int64(16 * time.Minute))
	_, err = explicitClient(t, srv.URL, k, pid).ListServersDetails(&model.ListServersDetailsRequest{})
	se = wantServiceError(t, err, 401, "APIGW.0301")
	if !strings.Contains(se.ErrorMessage, "signature expired") {
		t.Fatalf("message %q", se.ErrorMessage)
	}
	skew.Store(int64(14 * time.Minute))
	if _, err = explicitClient(t, srv.URL, k, pid).ListServersDetails(&model.ListServersDetailsRequest{}); err != nil {
		t.Fatalf("14 min skew must pass: %v", err)
	}

	// Discovery with a wrong secret fails at build time with the IAM 401.
	_, err = discoveryClient(srv.URL, bad, regionA)
	if err == nil || !strings.Contains(err.Error(), "APIGW.0301") {
		t.Fatalf("discovery with a wrong secret: %v", err)
	}
	for _, e := range srv.Log() {
		if e.Verified != (e.Status == 200) {
			t.Fatalf("verified flag wrong: %+v", e)
		}
	}
}

func TestSDKPagingSemantics(t *testing.T) {
	inv := newInventory(130, regionA)
	k := newKey(cloudinv.CanList)
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k}})
	c := explicitClient(t, srv.URL, k, srv.ProjectID(k.Account, regionA))
	all := inv.All(regionA)

	page := func(limit, offset *int32) *model.ListServersDetailsResponse {
		t.Helper()
		resp, err := c.ListServersDetails(&model.ListServersDetailsRequest{Limit: limit, Offset: offset})
		if err != nil {
			t.Fatal(err)
		}
		if *resp.Count != 130 {
			t.Fatalf("count %d, want 130 (total, not page length)", *resp.Count)
		}
		return resp
	}
	if r := page(nil, nil); len(*r.Servers) != 25 || (*r.Servers)[0].Id != all[0].ID {
		t.Fatalf("default page: %d servers", len(*r.Servers))
	}
	p0, p1 := page(i32(50), i32(0)), page(i32(50), i32(1))
	if (*p0.Servers)[0].Id != (*p1.Servers)[0].Id {
		t.Fatal("offset 0 must equal offset 1")
	}
	if r := page(i32(50), i32(3)); len(*r.Servers) != 30 || (*r.Servers)[0].Id != all[100].ID {
		t.Fatalf("offset is a page number: page 3 of 50 starts at 100, got %d servers", len(*r.Servers))
	}
	if r := page(i32(50), i32(4)); len(*r.Servers) != 0 {
		t.Fatalf("past the end: %d servers", len(*r.Servers))
	}
	if r := page(i32(5000), i32(1)); len(*r.Servers) != 130 {
		t.Fatalf("limit above 1000 caps: %d servers", len(*r.Servers))
	}
	_, err := c.ListServersDetails(&model.ListServersDetailsRequest{Limit: i32(-1)})
	wantServiceError(t, err, 400, "Ecs.0005")
	bogus := "00000000-0000-4000-8000-000000000000"
	_, err = c.ListServersDetails(&model.ListServersDetailsRequest{Marker: &bogus})
	wantServiceError(t, err, 400, "Ecs.0005")
}

func TestSDKFilters(t *testing.T) {
	inv := newInventory(300, regionA)
	k := newKey(cloudinv.CanList)
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k}})
	pid := srv.ProjectID(k.Account, regionA)
	c := explicitClient(t, srv.URL, k, pid)
	str := func(s string) *string { return &s }
	cases := []struct {
		name string
		req  model.ListServersDetailsRequest
		keep func(*cloudinv.Instance) bool
	}{
		{"status", model.ListServersDetailsRequest{Status: str("SHUTOFF")}, func(in *cloudinv.Instance) bool {
			return in.State == cloudinv.Stopped || in.State == cloudinv.Starting
		}},
		{"name", model.ListServersDetailsRequest{Name: str("-dup")}, func(in *cloudinv.Instance) bool { return strings.Contains(in.Name, "-dup") }},
		{"tags", model.ListServersDetailsRequest{Tags: str("env=prod")}, func(in *cloudinv.Instance) bool {
			return slices.Contains(TagStrings(in.Tags), "env=prod")
		}},
		{"ep", model.ListServersDetailsRequest{EnterpriseProjectId: str("ep-" + regionA)}, func(in *cloudinv.Instance) bool {
			return in.EnterpriseProjectID == "ep-"+regionA
		}},
		{"ep0", model.ListServersDetailsRequest{EnterpriseProjectId: str("0")}, func(in *cloudinv.Instance) bool {
			return in.EnterpriseProjectID == "0"
		}},
		{"all_granted_eps", model.ListServersDetailsRequest{EnterpriseProjectId: str(AllGrantedEPs)}, nil},
	}
	for _, tc := range cases {
		want := inv.List(regionA, tc.keep)
		if len(want) == 0 || (tc.keep != nil && len(want) == 300) {
			t.Fatalf("%s: filter selects %d of 300, not a useful test", tc.name, len(want))
		}
		got, err := listOffset(c, 100, tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d servers, want %d", tc.name, len(got), len(want))
		}
		for i := range want {
			checkServer(t, want[i], got[i], pid)
		}
	}
	// server_id overrides other filters; an unknown id comes back with id and fault only.
	ids := []string{inv.All(regionA)[5].ID, "11111111-2222-4333-8444-555555555555"}
	resp, err := c.ListServersDetails(&model.ListServersDetailsRequest{ServerId: str(strings.Join(ids, ",")), Name: str("zzz")})
	if err != nil {
		t.Fatal(err)
	}
	srvs := *resp.Servers
	if len(srvs) != 2 || srvs[0].Id != ids[0] || srvs[0].Name == "" || srvs[1].Id != ids[1] || srvs[1].Fault == nil || srvs[1].Name != "" {
		t.Fatalf("server_id: %+v", srvs)
	}
}

func TestSDKEnterpriseProjectScopedKey(t *testing.T) {
	inv := newInventory(100, regionA)
	k := newKey(cloudinv.CanList)
	ep := "ep-" + regionA
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k}, EnterpriseProjects: map[string][]string{k.ID: {ep}}})
	c := explicitClient(t, srv.URL, k, srv.ProjectID(k.Account, regionA))
	want := len(inv.List(regionA, func(in *cloudinv.Instance) bool { return in.EnterpriseProjectID == ep }))

	got, err := listOffset(c, 50, model.ListServersDetailsRequest{})
	if err != nil || len(got) != 0 {
		t.Fatalf("no enterprise_project_id: %d servers, %v; want 0 (default project not granted)", len(got), err)
	}
	all := AllGrantedEPs
	got, err = listOffset(c, 50, model.ListServersDetailsRequest{EnterpriseProjectId: &all})
	if err != nil || len(got) != want || want == 0 {
		t.Fatalf("all_granted_eps: %d servers, %v; want %d", len(got), err, want)
	}
	zero := "0"
	_, err = c.ListServersDetails(&model.ListServersDetailsRequest{EnterpriseProjectId: &zero})
	wantServiceError(t, err, 403, "Ecs.0319")
}

func TestSDKFaults(t *testing.T) {
	inv := newInventory(300, regionA, regionB)
	k := newKey(cloudinv.CanList)
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k}})
	cA := explicitClient(t, srv.URL, k, srv.ProjectID(k.Account, regionA))
	cB := explicitClient(t, srv.URL, k, srv.ProjectID(k.Account, regionB))

	t.Run("page failure", func(t *testing.T) {
		inv.SetFaults(cloudinv.Faults{FailPage: 2})
		defer inv.SetFaults(cloudinv.Faults{})
		got, err := listOffset(cA, 100, model.ListServersDetailsRequest{})
		wantServiceError(t, err, 500, "Ecs.0000")
		if len(got) != 100 {
			t.Fatalf("page 1 should have succeeded, got %d servers", len(got))
		}
	})
	t.Run("region down", func(t *testing.T) {
		inv.SetFaults(cloudinv.Faults{FailRegions: map[string]bool{regionB: true}})
		defer inv.SetFaults(cloudinv.Faults{})
		_, err := cB.ListServersDetails(&model.ListServersDetailsRequest{})
		wantServiceError(t, err, 503, "APIGW.0202")
		if _, err := cA.ListServersDetails(&model.ListServersDetailsRequest{}); err != nil {
			t.Fatalf("the other region must work: %v", err)
		}
	})
	t.Run("throttle every 2nd call, invoker retry recovers", func(t *testing.T) {
		inv.SetFaults(cloudinv.Faults{ThrottleEvery: 2})
		defer inv.SetFaults(cloudinv.Faults{})
		req := &model.ListServersDetailsRequest{}
		if _, err := cA.ListServersDetails(req); err != nil {
			t.Fatal(err)
		}
		_, err := cA.ListServersDetails(req)
		wantServiceError(t, err, 429, "APIGW.0308")
		if _, err := cA.ListServersDetails(req); err != nil {
			t.Fatal(err)
		}
		var attempts int
		iv := cA.ListServersDetailsInvoker(req)
		iv.WithRetry(3, func(_ interface{}, err error) bool {
			attempts++
			var se *sdkerr.ServiceResponseError
			return errors.As(err, &se) && se.StatusCode == 429
		}, retry.NewExponential())
		if _, err := iv.Invoke(); err != nil {
			t.Fatalf("retry should recover from one 429: %v", err)
		}
		if attempts < 2 {
			t.Fatalf("checker saw %d attempts, want a retry", attempts)
		}
	})
	t.Run("latency", func(t *testing.T) {
		inv.SetFaults(cloudinv.Faults{Latency: 150 * time.Millisecond})
		defer inv.SetFaults(cloudinv.Faults{})
		start := time.Now()
		if _, err := cA.ListServersDetails(&model.ListServersDetailsRequest{}); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) < 150*time.Millisecond {
			t.Fatal("latency not applied")
		}
	})
}

func TestSDKRateLimiter(t *testing.T) {
	inv := newInventory(10, regionA)
	k, k2 := newKey(cloudinv.CanList), newKey(cloudinv.CanList)
	base := time.Now()
	var offset atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(offset.Load())) } // frozen unless advanced
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k, k2}, RateLimit: 1, RateBurst: 2, Now: now})
	c := explicitClient(t, srv.URL, k, srv.ProjectID(k.Account, regionA))
	list := func() error { _, err := c.ListServersDetails(&model.ListServersDetailsRequest{}); return err }
	for i := 0; i < 2; i++ {
		if err := list(); err != nil {
			t.Fatalf("call %d within burst: %v", i+1, err)
		}
	}
	se := wantServiceError(t, list(), 429, "APIGW.0308")
	if !strings.Contains(se.ErrorMessage, "limit:1,time:1 second") {
		t.Fatalf("message %q", se.ErrorMessage)
	}
	// Another AK has its own bucket.
	if _, err := explicitClient(t, srv.URL, k2, srv.ProjectID(k2.Account, regionA)).ListServersDetails(&model.ListServersDetailsRequest{}); err != nil {
		t.Fatalf("second AK throttled by the first one's bucket: %v", err)
	}
	offset.Store(int64(time.Second)) // one token back
	if err := list(); err != nil {
		t.Fatalf("after 1 s: %v", err)
	}
	wantServiceError(t, list(), 429, "APIGW.0308")
}

func TestSDKChurnOffsetSkipsMarkerDoesNot(t *testing.T) {
	inv := newInventory(300, regionA)
	k := newKey(cloudinv.CanList)
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k}})
	c := explicitClient(t, srv.URL, k, srv.ProjectID(k.Account, regionA))
	before := inv.All(regionA)
	churn := cloudinv.Faults{Churn: []cloudinv.Churn{{Region: regionA, AfterPage: 1, Release: true}}}

	inv.SetFaults(churn)
	got, err := listOffset(c, 100, model.ListServersDetailsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if inv.ChurnDone() != 1 {
		t.Fatal("churn did not fire")
	}
	seen := map[string]bool{}
	for _, s := range got {
		seen[s.Id] = true
	}
	var missing []string
	for _, in := range before {
		if !seen[in.ID] {
			missing = append(missing, in.ID)
		}
	}
	if len(missing) != 1 || missing[0] != before[100].ID {
		t.Fatalf("offset paging under churn should skip exactly the 101st server, missing %v", missing)
	}

	inv.Put(*before[0]) // bring the released one back (it goes to the end)
	before = inv.All(regionA)
	inv.SetFaults(churn)
	got, err = listMarker(c, 100)
	if err != nil {
		t.Fatal(err)
	}
	if inv.ChurnDone() != 1 {
		t.Fatal("churn did not fire")
	}
	seen = map[string]bool{}
	for _, s := range got {
		seen[s.Id] = true
	}
	for _, in := range before {
		if !seen[in.ID] {
			t.Fatalf("marker paging skipped %s", in.ID)
		}
	}
	if len(got) != 300 {
		t.Fatalf("marker paging: %d servers, want 300", len(got))
	}

	// A marker whose server was released meanwhile still works.
	inv.SetFaults(cloudinv.Faults{})
	all := inv.All(regionA)
	marker := all[49].ID
	inv.Release(marker)
	resp, err := c.ListServersDetails(&model.ListServersDetailsRequest{Limit: i32(10), Marker: &marker})
	if err != nil {
		t.Fatal(err)
	}
	if (*resp.Servers)[0].Id != all[50].ID {
		t.Fatalf("after a released marker: got %s, want %s", (*resp.Servers)[0].Id, all[50].ID)
	}
}

func TestSDKKeyPermissions(t *testing.T) {
	inv := newInventory(20, regionA)
	forbidden, empty := newKey(cloudinv.ListForbidden), newKey(cloudinv.ListEmpty)
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{forbidden, empty}})
	_, err := explicitClient(t, srv.URL, forbidden, srv.ProjectID(account, regionA)).ListServersDetails(&model.ListServersDetailsRequest{})
	se := wantServiceError(t, err, 403, "Ecs.0319")
	if !strings.Contains(se.ErrorMessage, "ecs:cloudServers:list") {
		t.Fatalf("message %q", se.ErrorMessage)
	}
	resp, err := explicitClient(t, srv.URL, empty, srv.ProjectID(account, regionA)).ListServersDetails(&model.ListServersDetailsRequest{})
	if err != nil || *resp.Count != 0 || len(*resp.Servers) != 0 {
		t.Fatalf("ListEmpty: %v %+v", err, resp)
	}
}

func TestSDKIAMModes(t *testing.T) {
	inv := newInventory(5, regionA)
	k1, k2, k3 := newKey(cloudinv.CanList), newKey(cloudinv.CanList), newKey(cloudinv.CanList)
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k1, k2, k3}})

	srv.SetIAMMode(IAMNone)
	if _, err := discoveryClient(srv.URL, k1, regionA); err == nil || !strings.Contains(err.Error(), "failed to get project id") {
		t.Fatalf("zero projects: %v", err)
	}
	srv.SetIAMMode(IAMTwo)
	if _, err := discoveryClient(srv.URL, k2, regionA); err == nil || !strings.Contains(err.Error(), "multiple project ids found") {
		t.Fatalf("two projects: %v", err)
	}
	srv.SetIAMMode(IAMOne)
	if _, err := discoveryClient(srv.URL, k3, "ap-southeast-9"); err == nil || !strings.Contains(err.Error(), "failed to get project id") {
		t.Fatalf("unknown region: %v", err)
	}
	c, err := discoveryClient(srv.URL, k3, regionA)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.ListServersDetails(&model.ListServersDetailsRequest{})
	if err != nil || *resp.Count != 5 || (*resp.Servers)[0].TenantId != srv.ProjectID(account, regionA) {
		t.Fatalf("after discovery: %v %+v", err, resp)
	}
}

func TestSDKProjectIDChecks(t *testing.T) {
	inv := newInventory(5, regionA)
	k := newKey(cloudinv.CanList)
	other := newKey(cloudinv.CanList)
	other.Account = "ffffffffffffffffffffffffffffffff"
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k, other}})

	// WithEndpoints without project id or region: the SDK sends a literal {project_id}.
	cred, err := basic.NewCredentialsBuilder().WithAk(k.ID).WithSk(k.Secret).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := ecs.EcsClientBuilder().WithEndpoints([]string{srv.URL}).WithCredential(cred).WithHttpConfig(httpConfig()).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ecs.NewEcsClient(hc).ListServersDetails(&model.ListServersDetailsRequest{})
	wantServiceError(t, err, 404, "APIGW.0101")

	// Another account's project, and an unknown one.
	_, err = explicitClient(t, srv.URL, k, srv.ProjectID(other.Account, regionA)).ListServersDetails(&model.ListServersDetailsRequest{})
	wantServiceError(t, err, 403, "APIGW.0302")
	_, err = explicitClient(t, srv.URL, k, "0123456789abcdef0123456789abcdef").ListServersDetails(&model.ListServersDetailsRequest{})
	wantServiceError(t, err, 403, "APIGW.0302")
	// The other account lists the same region under its own project id.
	resp, err := explicitClient(t, srv.URL, other, srv.ProjectID(other.Account, regionA)).ListServersDetails(&model.ListServersDetailsRequest{})
	if err != nil || (*resp.Servers)[0].TenantId != srv.ProjectID(other.Account, regionA) {
		t.Fatalf("other account: %v", err)
	}
}
