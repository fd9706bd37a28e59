package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
	"github.com/jmssync/jmssync/libs/sim/simnet"
)

// simClient talks to the simulators' /_sim/ control APIs (never counted by
// the simulators as API traffic, except aliyunsim's "requests" map, which
// is why cloud calls are read from its "actions").
type simClient struct {
	hc                  *http.Client
	jms, aliyun, huawei string // base URLs
}

func (c *simClient) do(ctx context.Context, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (c *simClient) jmsState(ctx context.Context) (jmssim.State, error) {
	var st jmssim.State
	return st, c.do(ctx, "GET", c.jms+"/_sim/state", nil, &st)
}

func (c *simClient) jmsCounters(ctx context.Context) (jmssim.Counters, error) {
	var ct jmssim.Counters
	return ct, c.do(ctx, "GET", c.jms+"/_sim/counters", nil, &ct)
}

func (c *simClient) jmsResetCounters(ctx context.Context) error {
	return c.do(ctx, "POST", c.jms+"/_sim/counters/reset", nil, nil)
}

// timed is one JumpServer request on the phase's clock.
type timed struct {
	StartS float64 `json:"start_s"` // since the phase began (queueing for a worker included)
	EndS   float64 `json:"end_s"`
	Method string  `json:"method"`
	Path   string  `json:"path"`
	Status int     `json:"status"`
}

// jmsTimeline returns the JumpServer requests that ended after since.
func (c *simClient) jmsTimeline(ctx context.Context, since time.Time) ([]timed, error) {
	var log []simnet.Entry
	if err := c.do(ctx, "GET", c.jms+"/_sim/log?limit=100000", nil, &log); err != nil {
		return nil, err
	}
	var out []timed
	for _, e := range log {
		if e.Time.Before(since) {
			continue
		}
		out = append(out, timed{StartS: e.Time.Add(-e.Duration).Sub(since).Seconds(), EndS: e.Time.Sub(since).Seconds(),
			Method: e.Method, Path: e.Path, Status: e.Status})
	}
	return out, nil
}

// cloudInstance is an instance of either cloud, with its provider.
type cloudInstance struct {
	Provider asset.Provider
	cloudinv.Instance
}

func (c *simClient) instances(ctx context.Context) ([]cloudInstance, error) {
	var out []cloudInstance
	for _, s := range []struct {
		p   asset.Provider
		url string
	}{{asset.Aliyun, c.aliyun}, {asset.HuaweiCloud, c.huawei}} {
		var list []cloudinv.Instance
		if err := c.do(ctx, "GET", s.url+"/_sim/instances", nil, &list); err != nil {
			return nil, err
		}
		for _, in := range list {
			out = append(out, cloudInstance{Provider: s.p, Instance: in})
		}
	}
	return out, nil
}

func (c *simClient) cloudURL(p asset.Provider) string {
	if p == asset.Aliyun {
		return c.aliyun
	}
	return c.huawei
}

// mutate calls POST /_sim/instances/<op> on the instance's cloud.
func (c *simClient) mutate(ctx context.Context, p asset.Provider, op string, args map[string]string, out any) error {
	return c.do(ctx, "POST", c.cloudURL(p)+"/_sim/instances/"+op, args, out)
}

// cloudCalls are the API calls both clouds answered (control calls excluded).
type cloudCalls struct {
	Aliyun map[string]int64 `json:"aliyun"`
	Huawei map[string]int64 `json:"huaweicloud"`
	Total  int64            `json:"total"`
}

func (c *simClient) cloudCounters(ctx context.Context) (cloudCalls, error) {
	var a struct {
		Actions map[string]int64 `json:"actions"`
	}
	var h struct {
		Counters map[string]int64 `json:"counters"`
	}
	if err := c.do(ctx, "GET", c.aliyun+"/_sim/counters", nil, &a); err != nil {
		return cloudCalls{}, err
	}
	if err := c.do(ctx, "GET", c.huawei+"/_sim/counters", nil, &h); err != nil {
		return cloudCalls{}, err
	}
	out := cloudCalls{Aliyun: map[string]int64{}, Huawei: map[string]int64{}}
	for k, v := range a.Actions {
		if strings.Contains(k, ":") { // "Action:Code" repeats a failed call
			out.Aliyun[k] = v
			continue
		}
		out.Aliyun[k] = v
		out.Total += v
	}
	for k, v := range h.Counters {
		if strings.Contains(k, "/_sim/") {
			continue
		}
		out.Huawei[k] = v
		out.Total += v
	}
	return out, nil
}

// sub returns c - before (both cumulative).
func (c cloudCalls) sub(before cloudCalls) cloudCalls {
	out := cloudCalls{Aliyun: map[string]int64{}, Huawei: map[string]int64{}, Total: c.Total - before.Total}
	for k, v := range c.Aliyun {
		if d := v - before.Aliyun[k]; d != 0 {
			out.Aliyun[k] = d
		}
	}
	for k, v := range c.Huawei {
		if d := v - before.Huawei[k]; d != 0 {
			out.Huawei[k] = d
		}
	}
	return out
}

// waitReady polls every simulator until its control API answers.
func (c *simClient) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, u := range []string{c.jms + "/_sim/counters", c.aliyun + "/_sim/regions", c.huawei + "/_sim/counters"} {
		for {
			if err := c.do(ctx, "GET", u, nil, nil); err == nil {
				break
			} else if time.Now().After(deadline) {
				return fmt.Errorf("simulator not ready: %w", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// jmsRequests sums the JumpServer request counters by method.
type jmsRequests struct {
	ByMethod map[string]int64 `json:"by_method"`
	ByRoute  map[string]int64 `json:"by_route"`
	Total    int64            `json:"total"`
	Reads    int64            `json:"reads"`
	Writes   int64            `json:"writes"`
}

func summarizeRequests(ct jmssim.Counters) jmsRequests {
	r := jmsRequests{ByMethod: map[string]int64{}, ByRoute: ct.Requests, Reads: ct.Reads, Writes: ct.Writes}
	if r.ByRoute == nil {
		r.ByRoute = map[string]int64{}
	}
	for k, v := range ct.Requests {
		m, _, _ := strings.Cut(k, " ")
		r.ByMethod[m] += v
		r.Total += v
	}
	return r
}

func (r jmsRequests) methods() string {
	var ks []string
	for k := range r.ByMethod {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.ByMethod[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// background is the work the sync caused inside JumpServer.
type background struct {
	AssetsCreated    int64 `json:"assets_created"`
	AssetsUpdated    int64 `json:"assets_updated"`
	AssetsDeleted    int64 `json:"assets_deleted"`
	NodesCreated     int64 `json:"nodes_created"`
	AccountsCreated  int64 `json:"accounts_created"`
	PingTasks        int64 `json:"ping_tasks"`
	GatherFactsTasks int64 `json:"gather_facts_tasks"`
	AccountPushTasks int64 `json:"account_push_tasks"`
	LabelsCreated    int64 `json:"labels_created"`
	LabelRows        int   `json:"label_rows"`
	LabelLinks       int   `json:"label_links"`
	Assets           int   `json:"assets"`
	MaxInFlight      int64 `json:"max_in_flight"`
	Errors           int64 `json:"errors"` // throttled + 5xx + dropped + 401 + 403
}

func backgroundOf(ct jmssim.Counters) background {
	return background{
		AssetsCreated: ct.AssetsCreated, AssetsUpdated: ct.AssetsUpdated, AssetsDeleted: ct.AssetsDeleted,
		NodesCreated: ct.NodesCreated, AccountsCreated: ct.AccountsCreated,
		PingTasks: ct.PingTasks, GatherFactsTasks: ct.GatherFactsTasks, AccountPushTasks: ct.AccountPushTasks,
		LabelsCreated: ct.LabelsCreated, LabelRows: ct.LabelRows, LabelLinks: ct.LabelLinks, Assets: ct.Assets,
		MaxInFlight: ct.MaxInFlight,
		Errors:      ct.Throttled + ct.Injected500 + ct.Outage503 + ct.Dropped + ct.Unauthorized + ct.Forbidden,
	}
}
