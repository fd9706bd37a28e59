package aliyunsim

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

func TestPageKFailsAndRegionDown(t *testing.T) {
	inv := smallInventory(500)
	s := Start(t, Options{Inventory: inv, Keys: allKeys})
	c := ecsClient(t, s, keyOK, "cn-hangzhou")
	inv.SetFaults(cloudinv.Faults{FailPage: 3, FailPageRegion: "cn-hangzhou"})
	for _, mode := range []pageMode{byPage, byToken} {
		got, calls, err := listAll(t, c, "cn-hangzhou", mode, 100, nil)
		serverError(t, err, 500, "InternalError")
		if len(got) != 200 || calls != 3 {
			t.Fatalf("mode %d: failed after %d instances / %d calls, want 200 / 3", mode, len(got), calls)
		}
		// Other regions are unaffected.
		if got, _, err := listAll(t, c, "cn-beijing", mode, 100, nil); err != nil || len(got) != 500 {
			t.Fatalf("mode %d: cn-beijing: %d, %v", mode, len(got), err)
		}
	}
	inv.SetFaults(cloudinv.Faults{FailRegions: map[string]bool{"cn-beijing": true}})
	_, _, err := listAll(t, c, "cn-beijing", byToken, 100, nil)
	serverError(t, err, 503, "ServiceUnavailable")
	if got, _, err := listAll(t, c, "cn-hangzhou", byToken, 100, nil); err != nil || len(got) != 500 {
		t.Fatalf("cn-hangzhou while cn-beijing is down: %d, %v", len(got), err)
	}
	// The SDK's own AutoRetry re-sends 5xx (with fresh nonces), and the region stays down.
	before := s.Counters()["DescribeInstances:ServiceUnavailable"]
	c.GetConfig().AutoRetry = true
	c.GetConfig().MaxRetryTime = 2
	req := ecs.CreateDescribeInstancesRequest()
	req.RegionId = "cn-beijing"
	_, err = c.DescribeInstances(req)
	serverError(t, err, 503, "ServiceUnavailable")
	if n := s.Counters()["DescribeInstances:ServiceUnavailable"] - before; n != 3 {
		t.Errorf("AutoRetry sent %d requests, want 3", n)
	}
}

func TestThrottleEveryKthCall(t *testing.T) {
	inv := smallInventory(1000)
	s := Start(t, Options{Inventory: inv, Keys: allKeys})
	c := ecsClient(t, s, keyOK, "cn-hangzhou")
	inv.SetFaults(cloudinv.Faults{ThrottleEvery: 3})
	_, calls, err := listAll(t, c, "cn-hangzhou", byPage, 100, nil)
	se := serverError(t, err, 400, "Throttling.User")
	if calls != 3 || se.Message() != "Request was denied due to user flow control." {
		t.Fatalf("throttled on call %d: %s", calls, se.Message())
	}
	// The plain "Throttling" code can be chosen instead.
	s2 := Start(t, Options{Inventory: smallInventory(10), Keys: allKeys, ThrottleCode: "Throttling"})
	s2.Inventory.SetFaults(cloudinv.Faults{ThrottleEvery: 1})
	_, err = ecsClient(t, s2, keyOK, "cn-hangzhou").DescribeInstances(ecs.CreateDescribeInstancesRequest())
	serverError(t, err, 400, "Throttling")
	// A collector that backs off and retries gets everything, in both modes.
	for _, mode := range []pageMode{byPage, byToken} {
		inv.SetFaults(cloudinv.Faults{ThrottleEvery: 3})
		throttled := 0
		got, calls, err := listAll(t, c, "cn-hangzhou", mode, 100, func(err error) bool {
			if isThrottle(err) {
				throttled++
				return true
			}
			return false
		})
		if err != nil || len(got) != 1000 {
			t.Fatalf("mode %d: %d instances, %v", mode, len(got), err)
		}
		// 10 pages need 14 calls when every third is throttled (3, 6, 9 and 12).
		if throttled != 4 || calls != 14 {
			t.Errorf("mode %d: %d throttled of %d calls, want 4 of 14", mode, throttled, calls)
		}
	}
}

func TestPerMinuteLimiter(t *testing.T) {
	// A clock running at real speed but placed at second 5 of a minute, so
	// the SDK's real Timestamp stays within the skew window.
	real := time.Now()
	var offset atomic.Int64
	offset.Store(int64(real.Truncate(time.Minute).Add(time.Minute + 5*time.Second).Sub(real)))
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s := Start(t, Options{Inventory: smallInventory(20), Keys: allKeys, Now: now, ThrottleRPM: 3})
	c := ecsClient(t, s, keyOK, "cn-hangzhou")
	call := func() error {
		_, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
		return err
	}
	for i := 0; i < 3; i++ {
		if err := call(); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	serverError(t, call(), 400, "Throttling.User")
	// Other APIs and other keys have their own budget.
	if _, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest()); err != nil {
		t.Fatalf("DescribeRegions throttled with DescribeInstances: %v", err)
	}
	if _, err := ecsClient(t, s, keyEmpty, "cn-hangzhou").DescribeInstances(ecs.CreateDescribeInstancesRequest()); err != nil {
		t.Fatalf("another key throttled: %v", err)
	}
	// Still locked later in the same minute…
	offset.Add(int64(50 * time.Second))
	serverError(t, call(), 400, "Throttling.User")
	// …and free again from the next minute boundary.
	offset.Add(int64(10 * time.Second))
	if err := call(); err != nil {
		t.Fatalf("after the minute boundary: %v", err)
	}
}

func TestLatencyAndHang(t *testing.T) {
	inv := smallInventory(10)
	s := Start(t, Options{Inventory: inv, Keys: allKeys})
	c := ecsClient(t, s, keyOK, "cn-hangzhou")
	inv.SetFaults(cloudinv.Faults{Latency: 150 * time.Millisecond})
	for _, f := range []func() error{
		func() error { _, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest()); return err },
		func() error { _, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest()); return err },
	} {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("answered in %v despite 150ms latency", d)
		}
	}
	// Hang outlasts a client timeout; the SDK gives up, the server does not hold on.
	inv.SetFaults(cloudinv.Faults{Hang: 5 * time.Second})
	req := ecs.CreateDescribeInstancesRequest()
	req.SetReadTimeout(300 * time.Millisecond)
	start := time.Now()
	_, err := c.DescribeInstances(req)
	if err == nil {
		t.Fatal("a hanging call succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("client timeout took %v", d)
	}
	// The handler notices the client is gone and stops waiting.
	deadline := time.Now().Add(3 * time.Second)
	for s.Counters()["DescribeInstances:Sim.ClientClosedRequest"] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the hung handler did not end when the client left: %v", s.Counters())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestChurnBetweenPages(t *testing.T) {
	for _, tc := range []struct {
		mode            pageMode
		release, create bool
		wantMissing     int // live instances the listing missed
	}{
		{byPage, true, false, 1}, // offsets shift: one instance is skipped, as with the real API
		{byToken, true, false, 0},
		{byPage, false, true, 0},
		{byToken, false, true, 0},
	} {
		inv := smallInventory(250, "cn-hangzhou")
		s := Start(t, Options{Inventory: inv, Keys: allKeys})
		c := ecsClient(t, s, keyOK, "cn-hangzhou")
		first := inv.All("cn-hangzhou")
		inv.SetFaults(cloudinv.Faults{Churn: []cloudinv.Churn{{Region: "cn-hangzhou", AfterPage: 1, Release: tc.release, Create: tc.create}}})
		got, _, err := listAll(t, c, "cn-hangzhou", tc.mode, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if inv.ChurnDone() != 1 {
			t.Fatalf("churn did not fire")
		}
		seen := map[string]int{}
		for _, in := range got {
			seen[in.InstanceId]++
			if seen[in.InstanceId] > 1 {
				t.Fatalf("%+v: %s listed twice", tc, in.InstanceId)
			}
		}
		missing := 0
		var missed string
		for _, in := range inv.All("cn-hangzhou") {
			if seen[in.ID] == 0 {
				missing++
				missed = in.ID
			}
		}
		if missing != tc.wantMissing {
			t.Fatalf("%+v: listing missed %d live instances, want %d", tc, missing, tc.wantMissing)
		}
		if tc.mode == byPage && tc.release && missed != first[100].ID {
			t.Errorf("page mode skipped %s, want the one shifted onto page 1 (%s)", missed, first[100].ID)
		}
		if tc.create && len(got) != 251 {
			t.Errorf("%+v: %d listed, want 251 with the created one", tc, len(got))
		}
	}
}

func TestKeysWithoutListPermission(t *testing.T) {
	inv := smallInventory(50)
	s := Start(t, Options{Inventory: inv, Keys: allKeys})
	dry := func(k cloudinv.Key) error {
		req := ecs.CreateDescribeInstancesRequest()
		req.DryRun = requests.NewBoolean(true)
		_, err := ecsClient(t, s, k, "cn-hangzhou").DescribeInstances(req)
		return err
	}
	// A normal key: DryRun says "you could".
	serverError(t, dry(keyOK), 400, "DryRunOperation")

	// Forbidden (from 2025-12-20): 403 both ways.
	_, err := ecsClient(t, s, keyNoPerm, "cn-hangzhou").DescribeInstances(ecs.CreateDescribeInstancesRequest())
	se := serverError(t, err, 403, "Forbidden.RAM")
	if se.AccessDeniedDetail()["AuthAction"] != "ecs:DescribeInstances" {
		t.Errorf("AccessDeniedDetail %v", se.AccessDeniedDetail())
	}
	serverError(t, dry(keyNoPerm), 403, "Forbidden.RAM")

	// Empty (before): a successful empty list in both modes, 403 on DryRun.
	c := ecsClient(t, s, keyEmpty, "cn-hangzhou")
	for _, mode := range []pageMode{byPage, byToken} {
		got, calls, err := listAll(t, c, "cn-hangzhou", mode, 100, nil)
		if err != nil || len(got) != 0 || calls != 1 {
			t.Fatalf("ListEmpty mode %d: %d instances, %d calls, %v", mode, len(got), calls, err)
		}
	}
	resp, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
	if err != nil || resp.TotalCount != 0 || resp.Instances.Instance == nil && len(resp.Instances.Instance) != 0 {
		t.Fatalf("ListEmpty: %v %+v", err, resp)
	}
	serverError(t, dry(keyEmpty), 403, "Forbidden.RAM")
	if inv.Count("cn-hangzhou") != 50 {
		t.Fatal("inventory changed")
	}
	// DryRun is not a listing: it neither fails pages nor counts for ThrottleEvery.
	inv.SetFaults(cloudinv.Faults{ThrottleEvery: 2, FailPage: 1})
	for i := 0; i < 3; i++ {
		serverError(t, dry(keyOK), 400, "DryRunOperation")
	}
}
