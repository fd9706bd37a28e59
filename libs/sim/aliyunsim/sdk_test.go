package aliyunsim

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

// checkInstance compares what the SDK decoded with the inventory, field by field.
func checkInstance(t *testing.T, got ecs.Instance, want *cloudinv.Instance) {
	t.Helper()
	fail := func(field string, g, w any) { t.Errorf("%s: %s = %v, want %v", want.ID, field, g, w) }
	eq := func(field string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			fail(field, g, w)
		}
	}
	eq("InstanceId", got.InstanceId, want.ID)
	eq("InstanceName", got.InstanceName, want.Name)
	eq("HostName", got.HostName, want.HostName)
	eq("Description", got.Description, want.Description)
	eq("Status", got.Status, StatusOf(want.State))
	eq("RegionId", got.RegionId, want.Region)
	eq("ZoneId", got.ZoneId, want.Zone)
	eq("InstanceType", got.InstanceType, want.InstanceType)
	eq("Cpu", got.Cpu, want.CPU)
	eq("Memory", got.Memory, want.MemoryMiB)
	eq("OSType", got.OSType, want.OSType)
	eq("OSName", got.OSName, want.OSName)
	eq("OSNameEn", got.OSNameEn, want.OSNameEn)
	eq("ImageId", got.ImageId, want.ImageID)
	eq("CreationTime", got.CreationTime, want.CreatedAt.UTC().Format("2006-01-02T15:04Z"))
	eq("VpcId", got.VpcAttributes.VpcId, want.VPCID)
	var wantVPCIP []string
	if len(want.NICs) > 0 && len(want.NICs[0].PrivateIPs) > 0 {
		wantVPCIP = want.NICs[0].PrivateIPs[:1]
	}
	eq("VpcAttributes.PrivateIpAddress", got.VpcAttributes.PrivateIpAddress.IpAddress, wantVPCIP)
	eq("InnerIpAddress", len(got.InnerIpAddress.IpAddress), 0)
	eq("PublicIpAddress", got.PublicIpAddress.IpAddress, want.PublicIPs)
	eq("EipAddress.IpAddress", got.EipAddress.IpAddress, want.EIP)
	if len(got.NetworkInterfaces.NetworkInterface) != len(want.NICs) {
		fail("NetworkInterfaces", len(got.NetworkInterfaces.NetworkInterface), len(want.NICs))
	} else {
		for i, n := range got.NetworkInterfaces.NetworkInterface {
			w := want.NICs[i]
			eq("NIC id", n.NetworkInterfaceId, w.ID)
			eq("NIC mac", n.MacAddress, w.MAC)
			var ips, v6 []string
			for k, p := range n.PrivateIpSets.PrivateIpSet {
				ips = append(ips, p.PrivateIpAddress)
				eq("PrivateIpSet.Primary", p.Primary, k == 0)
			}
			for _, p := range n.Ipv6Sets.Ipv6Set {
				v6 = append(v6, p.Ipv6Address)
			}
			eq("NIC private ips", ips, w.PrivateIPs)
			eq("NIC ipv6", v6, w.IPv6)
			wantType := "Secondary"
			if i == 0 {
				wantType = "Primary"
			}
			eq("NIC type", n.Type, wantType)
		}
	}
	var tags []string
	for _, tg := range got.Tags.Tag {
		tags = append(tags, tg.TagKey+"="+tg.TagValue)
	}
	var wantTags []string
	for _, tg := range want.Tags {
		wantTags = append(wantTags, tg.Key+"="+tg.Value)
	}
	eq("Tags", tags, wantTags)
}

// The acceptance test: the real SDK lists 2 regions × 2,500
// instances completely and correctly, in both paging modes.
func TestSDKListsTwoRegionsOf2500BothModes(t *testing.T) {
	inv := smallInventory(2500)
	s := Start(t, Options{Inventory: inv, Keys: allKeys})
	c := ecsClient(t, s, keyOK, "cn-hangzhou")
	for _, mode := range []pageMode{byPage, byToken} {
		for _, region := range inv.Regions() {
			want := inv.All(region)
			got, calls, err := listAll(t, c, region, mode, 100, nil)
			if err != nil {
				t.Fatalf("mode %d %s: %v", mode, region, err)
			}
			if len(got) != 2500 || len(want) != 2500 {
				t.Fatalf("mode %d %s: listed %d, inventory %d, want 2500", mode, region, len(got), len(want))
			}
			if calls != 25 {
				t.Errorf("mode %d %s: %d calls, want 25", mode, region, calls)
			}
			for i := range want {
				checkInstance(t, got[i], want[i])
				if t.Failed() {
					t.FailNow()
				}
			}
		}
	}
	// Edge cases made it through the wire.
	var noIP, eipAndPublic, windows, chinese, multiNIC, v6 int
	for _, in := range inv.All("") {
		if len(in.PrivateIPs()) == 0 {
			noIP++
		}
		if in.EIP != "" && len(in.PublicIPs) > 0 {
			eipAndPublic++
		}
		if in.OSType == "windows" {
			windows++
		}
		if strings.ContainsFunc(in.Name, func(r rune) bool { return r > 127 }) {
			chinese++
		}
		if len(in.NICs) > 1 {
			multiNIC++
		}
		if len(in.NICs[0].IPv6) > 0 {
			v6++
		}
	}
	if noIP == 0 || eipAndPublic == 0 || windows == 0 || chinese == 0 || multiNIC == 0 || v6 == 0 {
		t.Errorf("inventory lacks edge cases: noIP=%d eip+public=%d windows=%d chinese=%d multiNIC=%d ipv6=%d", noIP, eipAndPublic, windows, chinese, multiNIC, v6)
	}
	for _, e := range s.Log() {
		if !e.Verified || e.Status != 200 {
			t.Fatalf("request not verified or failed: %+v", e)
		}
		if _, ok := e.Params["Signature"]; ok {
			t.Fatal("the log keeps the Signature")
		}
		if e.Params["SignatureType"] != "" || e.Params["Version"] != ECSVersion {
			t.Fatalf("unexpected logged params %v", e.Params)
		}
	}
	if n := s.Counters()["DescribeInstances"]; n != 100 {
		t.Errorf("counter DescribeInstances = %d, want 100", n)
	}
	if n := s.Recorder.Counts()["POST DescribeInstances"]; n != 100 {
		t.Errorf("recorder POST DescribeInstances = %d, want 100", n)
	}
}

func TestWrongSecretIsSignatureDoesNotMatch(t *testing.T) {
	s := Start(t, Options{Inventory: smallInventory(5), Keys: allKeys})
	bad := keyOK
	bad.Secret = "not-the-secret"
	_, err := ecsClient(t, s, bad, "cn-hangzhou").DescribeInstances(ecs.CreateDescribeInstancesRequest())
	se := serverError(t, err, 400, "SignatureDoesNotMatch")
	if !contains(se.Message(), "server string to sign is:POST&%2F&AccessKeyId%3D"+keyOK.ID) {
		t.Errorf("message lacks the server string to sign: %s", se.Message())
	}
	// The SDK compares our string to sign with its own: equal means "your secret is wrong".
	if !contains(se.Recommend(), "InvalidAccessKeySecret") {
		t.Errorf("SDK did not diagnose a wrong secret (string to sign differs?): %s", se.Recommend())
	}
	if e := s.Log()[0]; e.Verified || e.Code != "SignatureDoesNotMatch" {
		t.Errorf("log entry %+v", e)
	}
	// Tampering with a parameter after signing fails too.
	v := rawParams(keyOK, "DescribeInstances", s.now())
	v.Set("Signature", Sign("POST", v, keyOK.Secret))
	v.Set("PageSize", "5")
	st, body := rawDo(t, s, "POST", v, "")
	wantCode(t, st, body, 400, "SignatureDoesNotMatch")
	// …and the same request signed for GET but sent as POST.
	v = rawParams(keyOK, "DescribeInstances", s.now())
	v.Set("Signature", Sign("GET", v, keyOK.Secret))
	st, body = rawDo(t, s, "POST", v, "")
	wantCode(t, st, body, 400, "SignatureDoesNotMatch")
}

func TestUnknownAccessKey(t *testing.T) {
	s := Start(t, Options{Inventory: smallInventory(5), Keys: allKeys})
	_, err := ecsClient(t, s, cloudinv.Key{ID: "LTAI-nobody", Secret: "x"}, "cn-hangzhou").DescribeInstances(ecs.CreateDescribeInstancesRequest())
	serverError(t, err, 404, "InvalidAccessKeyId.NotFound")
}

func TestRegionFilterAndInvalidRegion(t *testing.T) {
	inv := smallInventory(30, "cn-hangzhou", "cn-beijing", "ap-southeast-1")
	s := Start(t, Options{Inventory: inv, Keys: allKeys})
	c := ecsClient(t, s, keyOK, "cn-hangzhou")
	for _, r := range inv.Regions() {
		got, _, err := listAll(t, c, r, byToken, 7, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 30 {
			t.Fatalf("%s: %d instances", r, len(got))
		}
		for _, in := range got {
			if in.RegionId != r {
				t.Fatalf("listing %s returned %s from %s", r, in.InstanceId, in.RegionId)
			}
		}
	}
	// A client made for another region still lists by req.RegionId; without it, by its own.
	resp, err := ecsClient(t, s, keyOK, "cn-beijing").DescribeInstances(ecs.CreateDescribeInstancesRequest())
	if err != nil || resp.TotalCount != 30 || resp.Instances.Instance[0].RegionId != "cn-beijing" || len(resp.Instances.Instance) != 10 {
		t.Fatalf("default page: %v %+v", err, resp)
	}
	req := ecs.CreateDescribeInstancesRequest()
	req.RegionId = "cn-atlantis"
	_, err = c.DescribeInstances(req)
	se := serverError(t, err, 404, "InvalidRegionId.NotFound")
	if se.HostId() != "ecs.cn-atlantis.aliyuncs.com" {
		t.Errorf("HostId %q", se.HostId())
	}
}

func TestPageSizeLimits(t *testing.T) {
	s := Start(t, Options{Inventory: smallInventory(150), Keys: allKeys})
	c := ecsClient(t, s, keyOK, "cn-hangzhou")
	for _, tc := range []struct {
		name string
		set  func(*ecs.DescribeInstancesRequest)
	}{
		{"PageSize=101", func(r *ecs.DescribeInstancesRequest) { r.PageSize = requests.NewInteger(101) }},
		{"PageSize=0", func(r *ecs.DescribeInstancesRequest) { r.PageSize = requests.NewInteger(0) }},
		{"PageNumber=0", func(r *ecs.DescribeInstancesRequest) { r.PageNumber = requests.NewInteger(0) }},
		{"MaxResults=101", func(r *ecs.DescribeInstancesRequest) { r.MaxResults = requests.NewInteger(101) }},
		{"NextToken=garbage", func(r *ecs.DescribeInstancesRequest) { r.NextToken = "garbage" }},
	} {
		req := ecs.CreateDescribeInstancesRequest()
		tc.set(req)
		_, err := c.DescribeInstances(req)
		if err == nil {
			t.Errorf("%s accepted", tc.name)
			continue
		}
		code := "InvalidParameter"
		if tc.name == "NextToken=garbage" {
			code = "InvalidParameter.NextToken"
		}
		serverError(t, err, 400, code)
	}
	// 100 is fine and gives 100; no page params gives 10.
	req := ecs.CreateDescribeInstancesRequest()
	req.PageSize = requests.NewInteger(100)
	resp, err := c.DescribeInstances(req)
	if err != nil || len(resp.Instances.Instance) != 100 || resp.TotalCount != 150 || resp.PageNumber != 1 {
		t.Fatalf("PageSize=100: %v", err)
	}
	resp, err = c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	if err != nil || len(resp.Instances.Instance) != 10 || resp.PageSize != 10 {
		t.Fatalf("default page size: %v", err)
	}
	// Token parameters win over page parameters.
	req = ecs.CreateDescribeInstancesRequest()
	req.PageNumber = requests.NewInteger(3)
	req.PageSize = requests.NewInteger(5)
	req.MaxResults = requests.NewInteger(20)
	resp, err = c.DescribeInstances(req)
	if err != nil || len(resp.Instances.Instance) != 20 || resp.NextToken == "" || resp.Instances.Instance[0].InstanceId != s.Inventory.All("cn-hangzhou")[0].ID {
		t.Fatalf("token mode did not take precedence: %v", err)
	}
	// A token from one region is refused in another.
	req = ecs.CreateDescribeInstancesRequest()
	req.RegionId = "cn-beijing"
	req.NextToken = resp.NextToken
	_, err = c.DescribeInstances(req)
	serverError(t, err, 400, "InvalidParameter.NextToken")
}

func TestFilters(t *testing.T) {
	inv := smallInventory(200)
	s := Start(t, Options{Inventory: inv, Keys: allKeys})
	c := ecsClient(t, s, keyOK, "cn-hangzhou")
	all := inv.All("cn-hangzhou")
	count := func(set func(*ecs.DescribeInstancesRequest)) []ecs.Instance {
		t.Helper()
		req := ecs.CreateDescribeInstancesRequest()
		req.PageSize = requests.NewInteger(100)
		set(req)
		resp, err := c.DescribeInstances(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.TotalCount < len(resp.Instances.Instance) {
			t.Fatalf("TotalCount %d < page", resp.TotalCount)
		}
		return resp.Instances.Instance
	}
	got := count(func(r *ecs.DescribeInstancesRequest) {
		r.InstanceIds = fmt.Sprintf(`["%s","%s","i-missing"]`, all[3].ID, all[150].ID)
	})
	if len(got) != 2 || got[0].InstanceId != all[3].ID || got[1].InstanceId != all[150].ID {
		t.Fatalf("InstanceIds filter gave %d", len(got))
	}
	stopped := 0
	for _, in := range all {
		if in.State == cloudinv.Stopped {
			stopped++
		}
	}
	if got := count(func(r *ecs.DescribeInstancesRequest) { r.Status = "Stopped" }); len(got) != stopped || stopped == 0 {
		t.Fatalf("Status=Stopped gave %d, want %d", len(got), stopped)
	}
	var chinese *cloudinv.Instance
	for _, in := range all {
		if strings.ContainsFunc(in.Name, func(r rune) bool { return r > 127 }) {
			chinese = in
			break
		}
	}
	if got := count(func(r *ecs.DescribeInstancesRequest) { r.InstanceName = chinese.Name }); len(got) != 1 || got[0].InstanceId != chinese.ID {
		t.Fatalf("InstanceName=%s gave %d", chinese.Name, len(got))
	}
	prefix := strings.SplitN(chinese.Name, "-", 2)[0]
	if got := count(func(r *ecs.DescribeInstancesRequest) { r.InstanceName = prefix + "*" }); len(got) == 0 || !strings.HasPrefix(got[0].InstanceName, prefix) {
		t.Fatalf("InstanceName=%s* gave %d", prefix, len(got))
	}
	want := 0
	for _, in := range all {
		for _, tg := range in.Tags {
			if tg.Key == "env" && tg.Value == "prod" {
				want++
			}
		}
	}
	got = count(func(r *ecs.DescribeInstancesRequest) {
		r.Tag = &[]ecs.DescribeInstancesTag{{Key: "env", Value: "prod"}}
		r.PageSize = requests.NewInteger(100)
	})
	if want == 0 || (want <= 100 && len(got) != want) {
		t.Fatalf("Tag env=prod gave %d, want %d", len(got), want)
	}
	req := ecs.CreateDescribeInstancesRequest()
	req.InstanceIds = "i-1,i-2"
	_, err := c.DescribeInstances(req)
	serverError(t, err, 400, "InvalidInstanceIds.Malformed")
}

func TestDescribeRegions(t *testing.T) {
	inv := smallInventory(1, "cn-hangzhou", "cn-beijing", "ap-southeast-1")
	s := Start(t, Options{Inventory: inv, Keys: allKeys})
	for _, k := range allKeys { // every key may describe regions
		resp, err := ecsClient(t, s, k, "cn-hangzhou").DescribeRegions(ecs.CreateDescribeRegionsRequest())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range resp.Regions.Region {
			ids = append(ids, r.RegionId)
			if r.Status != "available" || r.RegionEndpoint != "ecs."+r.RegionId+".aliyuncs.com" {
				t.Errorf("region %+v", r)
			}
		}
		if !slices.Equal(ids, inv.Regions()) {
			t.Fatalf("regions %v, want %v", ids, inv.Regions())
		}
		if resp.Regions.Region[0].LocalName != "华东1（杭州）" || resp.RequestId == "" {
			t.Errorf("LocalName %q", resp.Regions.Region[0].LocalName)
		}
	}
	req := ecs.CreateDescribeRegionsRequest()
	req.AcceptLanguage = "en-US"
	resp, err := ecsClient(t, s, keyOK, "cn-beijing").DescribeRegions(req)
	if err != nil || resp.Regions.Region[2].LocalName != "Singapore" {
		t.Fatalf("en-US: %v %+v", err, resp)
	}
}

func TestGetCallerIdentity(t *testing.T) {
	s := Start(t, Options{Inventory: smallInventory(1), Keys: allKeys})
	for _, k := range []cloudinv.Key{keyOK, keyEmpty} {
		resp, err := stsClient(t, s, k).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
		if err != nil {
			t.Fatal(err)
		}
		if resp.AccountId != k.Account || resp.IdentityType != "RAMUser" || resp.UserId == "" || resp.RequestId == "" ||
			resp.Arn != "acs:ram::"+k.Account+":user/"+strings.ToLower("sim-"+k.ID) {
			t.Fatalf("identity %+v", resp)
		}
	}
	e := s.Log()[0]
	if e.Action != "GetCallerIdentity" || e.Params["Version"] != STSVersion || !e.Verified {
		t.Fatalf("log %+v", e)
	}
	bad := keyOK
	bad.Secret = "wrong"
	_, err := stsClient(t, s, bad).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	if se := serverError(t, err, 400, "SignatureDoesNotMatch"); se.HostId() != "sts.aliyuncs.com" {
		t.Errorf("HostId %q", se.HostId())
	}
}
