package aliyunsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

func ctl(t *testing.T, s *Server, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func TestControlAPIRoundTrip(t *testing.T) {
	inv := smallInventory(20)
	s := Start(t, Options{Inventory: inv, Keys: allKeys})
	c := ecsClient(t, s, keyOK, "cn-hangzhou")
	one := func(id string) (ecs.Instance, bool) {
		t.Helper()
		req := ecs.CreateDescribeInstancesRequest()
		req.InstanceIds = fmt.Sprintf(`["%s"]`, id)
		resp, err := c.DescribeInstances(req)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Instances.Instance) == 0 {
			return ecs.Instance{}, false
		}
		return resp.Instances.Instance[0], true
	}

	var list []cloudinv.Instance
	if st := ctl(t, s, "GET", "/_sim/instances?region=cn-beijing", "", &list); st != 200 || len(list) != 20 || list[0].Region != "cn-beijing" {
		t.Fatalf("list: %d, %d", st, len(list))
	}
	var wire []map[string]any
	ctl(t, s, "GET", "/_sim/instances?region=cn-beijing&format=aliyun", "", &wire)
	if len(wire) != 20 || wire[0]["InstanceId"] != list[0].ID || wire[0]["HostName"] == nil {
		t.Fatalf("aliyun format: %v", wire[0])
	}

	var added cloudinv.Instance
	if st := ctl(t, s, "POST", "/_sim/instances/add", `{"region":"cn-hangzhou","name":"新的-web"}`, &added); st != 201 || added.ID == "" {
		t.Fatalf("add: %d %+v", st, added)
	}
	if got, ok := one(added.ID); !ok || got.InstanceName != "新的-web" || got.Status != "Running" {
		t.Fatalf("added instance not listed: %+v", got)
	}
	if st := ctl(t, s, "POST", "/_sim/instances/rename", `{"id":"`+added.ID+`","name":"renamed"}`, nil); st != 200 {
		t.Fatalf("rename: %d", st)
	}
	if st := ctl(t, s, "POST", "/_sim/instances/stop?id="+added.ID, "", nil); st != 200 {
		t.Fatalf("stop: %d", st)
	}
	var after cloudinv.Instance
	ctl(t, s, "POST", "/_sim/instances/reip", `{"id":"`+added.ID+`","ip":"192.168.7.7"}`, &after)
	got, _ := one(added.ID)
	if got.InstanceName != "renamed" || got.Status != "Stopped" || got.VpcAttributes.PrivateIpAddress.IpAddress[0] != "192.168.7.7" ||
		after.NICs[0].PrivateIPs[0] != "192.168.7.7" {
		t.Fatalf("after rename/stop/reip: %s %s %v", got.InstanceName, got.Status, got.VpcAttributes.PrivateIpAddress.IpAddress)
	}
	ctl(t, s, "POST", "/_sim/instances/start", `{"id":"`+added.ID+`"}`, nil)
	ctl(t, s, "POST", "/_sim/instances/state", `{"id":"`+added.ID+`","state":"stopping"}`, nil)
	if got, _ := one(added.ID); got.Status != "Stopping" {
		t.Fatalf("state: %s", got.Status)
	}
	if st := ctl(t, s, "POST", "/_sim/instances/release", `{"id":"`+added.ID+`"}`, nil); st != 200 {
		t.Fatalf("release: %d", st)
	}
	if _, ok := one(added.ID); ok {
		t.Fatal("released instance still listed")
	}
	if st := ctl(t, s, "POST", "/_sim/instances/release", `{"id":"`+added.ID+`"}`, nil); st != 404 {
		t.Fatalf("second release: %d", st)
	}
	if st := ctl(t, s, "POST", "/_sim/instances/rename", `{"id":"x"}`, nil); st != 400 {
		t.Fatalf("rename without name: %d", st)
	}

	// Faults: PUT, GET, and they bite.
	var f faultsOut
	if st := ctl(t, s, "PUT", "/_sim/faults", `{"FailRegions":{"cn-beijing":true},"Latency":"10ms","Churn":[{"Region":"cn-hangzhou","AfterPage":1,"Create":true}]}`, &f); st != 200 {
		t.Fatalf("put faults: %d", st)
	}
	ctl(t, s, "GET", "/_sim/faults", "", &f)
	if !f.FailRegions["cn-beijing"] || f.Latency != 10*time.Millisecond || len(f.Churn) != 1 || f.ChurnDone != 0 {
		t.Fatalf("faults read back: %+v", f)
	}
	_, _, err := listAll(t, c, "cn-beijing", byPage, 10, nil)
	serverError(t, err, 503, "ServiceUnavailable")
	if _, _, err := listAll(t, c, "cn-hangzhou", byToken, 100, nil); err != nil {
		t.Fatal(err)
	}
	ctl(t, s, "GET", "/_sim/faults", "", &f)
	if f.ChurnDone != 1 {
		t.Fatalf("churn not reported done: %+v", f)
	}
	if st := ctl(t, s, "PUT", "/_sim/faults", `{"Bogus":1}`, nil); st != 400 {
		t.Fatalf("unknown fault field accepted: %d", st)
	}

	var log []LogEntry
	ctl(t, s, "GET", "/_sim/log", "", &log)
	if len(log) == 0 || log[0].Action != "DescribeInstances" || !log[0].Verified || log[0].Params["InstanceIds"] == "" {
		t.Fatalf("log: %+v", log)
	}
	var counters struct {
		Actions  map[string]int64 `json:"actions"`
		Requests map[string]int64 `json:"requests"`
	}
	ctl(t, s, "GET", "/_sim/counters", "", &counters)
	if counters.Actions["DescribeInstances"] != int64(len(log)) || counters.Actions["DescribeInstances:ServiceUnavailable"] != 1 ||
		counters.Requests["POST /_sim/instances/add"] != 1 {
		t.Fatalf("counters: %+v", counters)
	}
	if st := ctl(t, s, "POST", "/_sim/reset", "", nil); st != 200 {
		t.Fatalf("reset: %d", st)
	}
	ctl(t, s, "GET", "/_sim/log", "", &log)
	ctl(t, s, "GET", "/_sim/faults", "", &f)
	if len(log) != 0 || len(f.FailRegions) != 0 || len(s.Counters()) != 0 {
		t.Fatalf("reset left log %d, faults %+v", len(log), f)
	}
	if _, _, err := listAll(t, c, "cn-beijing", byPage, 10, nil); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	if st := ctl(t, s, "GET", "/_sim/nothing", "", nil); st != 404 {
		t.Fatalf("unknown control path: %d", st)
	}
}
