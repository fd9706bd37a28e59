package huaweisim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2/model"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

// The known-answer vector of cloud-apis.md §2.2.
const (
	vectorURL       = "http://127.0.0.1:8080/v1/0123456789abcdef0123456789abcdef/cloudservers/detail?limit=100&offset=1"
	vectorProject   = "0123456789abcdef0123456789abcdef"
	vectorDate      = "20240101T000000Z"
	vectorAK        = "HWTESTAK"
	vectorSK        = "HWTESTSK"
	vectorSignature = "1a658b751f08adf7eb5f107ba942b60d39807ea98d2b45ca62f01cf7a2678f54"
)

func vectorRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, vectorURL, nil)
	r.Header.Set("X-Sdk-Date", vectorDate)
	r.Header.Set("X-Project-Id", vectorProject)
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestSignatureVector(t *testing.T) {
	r := vectorRequest()
	cr, err := canonicalRequest(r, []string{"x-project-id", "x-sdk-date"}, emptyPayloadSHA256)
	if err != nil {
		t.Fatal(err)
	}
	wantCR := "GET\n/v1/" + vectorProject + "/cloudservers/detail/\nlimit=100&offset=1\n" +
		"x-project-id:" + vectorProject + "\nx-sdk-date:" + vectorDate + "\n\nx-project-id;x-sdk-date\n" + emptyPayloadSHA256
	if cr != wantCR {
		t.Fatalf("canonical request\n%q\nwant\n%q", cr, wantCR)
	}
	if got := signature(vectorSK, stringToSign(vectorDate, cr)); got != vectorSignature {
		t.Fatalf("signature %s, want %s", got, vectorSignature)
	}

	// Sign (the client side helper) produces the same header.
	r = vectorRequest()
	r.Header.Del("X-Sdk-Date")
	if err := Sign(r, vectorAK, vectorSK, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), nil); err != nil {
		t.Fatal(err)
	}
	want := "SDK-HMAC-SHA256 Access=HWTESTAK, SignedHeaders=x-project-id;x-sdk-date, Signature=" + vectorSignature
	if got := r.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization %q, want %q", got, want)
	}
}

func TestEscapeAndCanonicalQuery(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/v1/p/cloudservers/detail?tags=env%3Dprod&name=%E6%95%B0%20a&marker=&b=2&b=1", nil)
	cr, err := canonicalRequest(r, nil, emptyPayloadSHA256)
	if err != nil {
		t.Fatal(err)
	}
	want := "GET\n/v1/p/cloudservers/detail/\nb=1&b=2&marker=&name=%E6%95%B0%20a&tags=env%3Dprod\n\n\n" + emptyPayloadSHA256
	if cr != want {
		t.Fatalf("canonical request\n%q\nwant\n%q", cr, want)
	}
}

// The server verifies the vector request (and rejects it once tampered).
func TestServerVerifiesVector(t *testing.T) {
	srv := New(Options{
		Inventory: cloudinv.New(cloudinv.Spec{Provider: cloudinv.Huawei, Regions: []string{"cn-north-4"}, PerRegion: 1}),
		Keys:      []cloudinv.Key{{ID: vectorAK, Secret: vectorSK, Account: "acct"}},
		Now:       func() time.Time { return time.Date(2024, 1, 1, 0, 10, 0, 0, time.UTC) },
	})
	serve := func(r *http.Request) (*httptest.ResponseRecorder, LogEntry) {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		log := srv.Log()
		return w, log[len(log)-1]
	}
	auth := "SDK-HMAC-SHA256 Access=HWTESTAK, SignedHeaders=x-project-id;x-sdk-date, Signature=" + vectorSignature

	r := vectorRequest()
	r.Header.Set("Authorization", auth)
	w, e := serve(r)
	// Signature good; the project is not one of this account's, hence 403.
	if !e.Verified || w.Code != http.StatusForbidden || e.ErrorCode != "APIGW.0302" {
		t.Fatalf("vector: status %d verified %v code %s: %s", w.Code, e.Verified, e.ErrorCode, w.Body)
	}

	r = httptest.NewRequest(http.MethodGet, strings.Replace(vectorURL, "offset=1", "offset=2", 1), nil)
	r.Header.Set("X-Sdk-Date", vectorDate)
	r.Header.Set("X-Project-Id", vectorProject)
	r.Header.Set("Authorization", auth)
	w, e = serve(r)
	if e.Verified || w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "offset=2") ||
		!strings.Contains(w.Body.String(), `"error_code":"APIGW.0301"`) {
		t.Fatalf("tampered: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("X-Request-Id") == "" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", w.Header())
	}
}

type rawClient struct {
	t   *testing.T
	url string
	key cloudinv.Key
}

func (c rawClient) get(path string, hdr map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	r, err := http.NewRequest(http.MethodGet, c.url+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if err := Sign(r, c.key.ID, c.key.Secret, time.Now(), nil); err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// The JSON types the SDK's strict decoder demands, checked on the raw body.
func TestRawJSONTypesAndHeaders(t *testing.T) {
	inv := newInventory(40, regionA)
	k := newKey(cloudinv.CanList)
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k}})
	pid := srv.ProjectID(k.Account, regionA)
	c := rawClient{t, srv.URL, k}
	resp, body := c.get("/v1/"+pid+"/cloudservers/detail?limit=40", map[string]string{"X-Project-Id": pid})
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["count"].(json.Number); !ok {
		t.Fatalf("count is %T", doc["count"])
	}
	for _, raw := range doc["servers"].([]any) {
		s := raw.(map[string]any)
		if _, ok := s["OS-EXT-STS:power_state"].(json.Number); !ok {
			t.Fatalf("power_state %T", s["OS-EXT-STS:power_state"])
		}
		if _, ok := s["locked"].(bool); !ok {
			t.Fatalf("locked %T", s["locked"])
		}
		for _, f := range []string{"vcpus", "ram", "disk"} {
			if _, ok := s["flavor"].(map[string]any)[f].(string); !ok {
				t.Fatalf("flavor.%s not a string", f)
			}
		}
		for k, v := range s["metadata"].(map[string]any) {
			if _, ok := v.(string); !ok {
				t.Fatalf("metadata %s is %T", k, v)
			}
		}
		for _, list := range s["addresses"].(map[string]any) {
			for _, a := range list.([]any) {
				am := a.(map[string]any)
				if v, ok := am["version"].(string); !ok || (v != "4" && v != "6") {
					t.Fatalf("version %v", am["version"])
				}
				if _, ok := am["primary"].(bool); !ok {
					t.Fatalf("primary %T", am["primary"])
				}
			}
		}
		for _, v := range s["os-extended-volumes:volumes_attached"].([]any) {
			if _, ok := v.(map[string]any)["delete_on_termination"].(string); !ok {
				t.Fatal("delete_on_termination not a string")
			}
		}
		if _, ok := s["tags"].([]any); !ok {
			t.Fatalf("tags %T", s["tags"])
		}
	}

	// X-Project-Id must agree with the path.
	resp, body = c.get("/v1/"+pid+"/cloudservers/detail", map[string]string{"X-Project-Id": strings.Repeat("a", 32)})
	if resp.StatusCode != 400 || !strings.Contains(string(body), "APIGW.0201") {
		t.Fatalf("mismatch: %d %s", resp.StatusCode, body)
	}
	// Unknown route.
	resp, body = c.get("/v2/"+pid+"/servers", nil)
	if resp.StatusCode != 404 || !strings.Contains(string(body), "APIGW.0101") || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("unknown route: %d %s", resp.StatusCode, body)
	}
	// Unsigned request.
	r, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/"+pid+"/cloudservers/detail", nil)
	uresp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	uresp.Body.Close()
	if uresp.StatusCode != 401 {
		t.Fatalf("unsigned: %d", uresp.StatusCode)
	}
}

func TestStatusMapping(t *testing.T) {
	for st, want := range map[cloudinv.State]string{
		cloudinv.Running: "ACTIVE", cloudinv.Stopped: "SHUTOFF", cloudinv.Starting: "SHUTOFF",
		cloudinv.Stopping: "ACTIVE", cloudinv.Pending: "BUILD",
	} {
		if got, _, _, _ := Status(st); got != want {
			t.Errorf("%s → %s, want %s", st, got, want)
		}
	}
	if OSType("windows") != "Windows" || OSType("linux") != "Linux" {
		t.Error("os_type spelling")
	}
	tags := TagStrings([]cloudinv.Tag{{Key: "env", Value: "prod", HasValue: true}, {Key: "legacy"}, {Key: "e", HasValue: true}})
	if strings.Join(tags, ",") != "env=prod,legacy,e=" {
		t.Errorf("tags %v", tags)
	}
}

func ctl(t *testing.T, method, url string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	r, _ := http.NewRequest(method, url, rd)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

func TestControlAPIRoundTrip(t *testing.T) {
	inv := newInventory(30, regionA)
	k := newKey(cloudinv.CanList)
	srv := Start(t, Options{Inventory: inv, Keys: []cloudinv.Key{k}})
	c := explicitClient(t, srv.URL, k, srv.ProjectID(k.Account, regionA))
	byID := func(id string) model.ServerDetail {
		t.Helper()
		resp, err := c.ListServersDetails(&model.ListServersDetailsRequest{ServerId: &id})
		if err != nil {
			t.Fatal(err)
		}
		return (*resp.Servers)[0]
	}

	var list []cloudinv.Instance
	if ctl(t, "GET", srv.URL+"/_sim/instances?region="+regionA, nil, &list) != 200 || len(list) != 30 {
		t.Fatalf("instances: %d", len(list))
	}
	var added cloudinv.Instance
	if ctl(t, "POST", srv.URL+"/_sim/instances/add", map[string]string{"region": regionA, "name": "新服务器-01"}, &added) != 200 {
		t.Fatal("add")
	}
	if s := byID(added.ID); s.Name != "新服务器-01" || s.Status != "ACTIVE" {
		t.Fatalf("added: %s %s", s.Name, s.Status)
	}
	ctl(t, "POST", srv.URL+"/_sim/instances/rename", map[string]string{"id": added.ID, "name": "renamed"}, nil)
	if s := byID(added.ID); s.Name != "renamed" {
		t.Fatalf("rename: %s", s.Name)
	}
	ctl(t, "POST", srv.URL+"/_sim/instances/stop", map[string]string{"id": added.ID}, nil)
	if s := byID(added.ID); s.Status != "SHUTOFF" {
		t.Fatalf("stop: %s", s.Status)
	}
	ctl(t, "POST", srv.URL+"/_sim/instances/start", map[string]string{"id": added.ID}, nil)
	if s := byID(added.ID); s.Status != "ACTIVE" {
		t.Fatalf("start: %s", s.Status)
	}
	var reip struct{ IP string }
	ctl(t, "POST", srv.URL+"/_sim/instances/reip", map[string]string{"id": added.ID, "ip": "10.99.0.7"}, &reip)
	s := byID(added.ID)
	if reip.IP != "10.99.0.7" || s.Addresses[added.VPCID][0].Addr != "10.99.0.7" {
		t.Fatalf("reip: %+v", s.Addresses)
	}
	ctl(t, "POST", srv.URL+"/_sim/instances/release", map[string]string{"id": added.ID}, nil)
	if s := byID(added.ID); s.Fault == nil || s.Name != "" {
		t.Fatalf("release: %+v", s)
	}
	if ctl(t, "POST", srv.URL+"/_sim/instances/stop", map[string]string{"id": added.ID}, nil) != 404 {
		t.Fatal("stop of a released instance must 404")
	}

	// Faults as JSON of cloudinv.Faults (durations as strings or ns).
	var f cloudinv.Faults
	if ctl(t, "PUT", srv.URL+"/_sim/faults", map[string]any{"FailPage": 1, "Latency": "1ms"}, &f) != 200 || f.FailPage != 1 || f.Latency != time.Millisecond {
		t.Fatalf("faults: %+v", f)
	}
	_, err := c.ListServersDetails(&model.ListServersDetailsRequest{})
	wantServiceError(t, err, 500, "Ecs.0000")
	if ctl(t, "PUT", srv.URL+"/_sim/faults", map[string]any{"NoSuchFault": 1}, nil) != 400 {
		t.Fatal("unknown fault field must be rejected")
	}

	var iam map[string]string
	if ctl(t, "PUT", srv.URL+"/_sim/iam", map[string]string{"mode": "two"}, &iam) != 200 || srv.getIAMMode() != IAMTwo {
		t.Fatal("iam mode")
	}
	var projects []Project
	ctl(t, "GET", srv.URL+"/_sim/projects", nil, &projects)
	if len(projects) != 1 || projects[0].ID != srv.ProjectID(k.Account, regionA) || projects[0].Name != regionA {
		t.Fatalf("projects %+v", projects)
	}

	var log []LogEntry
	ctl(t, "GET", srv.URL+"/_sim/log", nil, &log)
	if len(log) != 7 || !log[0].Verified || log[0].AK != k.ID || len(log[0].SignedHeaders) == 0 || log[len(log)-1].Status != 500 {
		t.Fatalf("log: %d entries, first %+v", len(log), log[0])
	}
	var counters struct {
		Total    int64
		Counters map[string]int64
	}
	ctl(t, "GET", srv.URL+"/_sim/counters", nil, &counters)
	if counters.Total != int64(len(log)) || counters.Counters["GET /v1/{project_id}/cloudservers/detail"] != int64(len(log)) {
		t.Fatalf("counters %+v (log %d)", counters, len(log))
	}

	if ctl(t, "POST", srv.URL+"/_sim/reset", nil, nil) != 200 {
		t.Fatal("reset")
	}
	ctl(t, "GET", srv.URL+"/_sim/counters", nil, &counters)
	if counters.Total != 0 || srv.getIAMMode() != IAMOne || inv.Faults().FailPage != 0 {
		t.Fatalf("after reset: %+v", counters)
	}
	if _, err := c.ListServersDetails(&model.ListServersDetailsRequest{}); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	if ctl(t, "GET", srv.URL+"/_sim/nothing", nil, nil) != 404 {
		t.Fatal("unknown control endpoint")
	}
}

func TestListenAndDefaults(t *testing.T) {
	srv := New(Options{})
	if err := srv.Listen("0.0.0.0:0"); err == nil {
		srv.Close()
		t.Fatal("non-loopback address accepted")
	}
	if err := srv.Listen(""); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %s", srv.URL)
	}
	k := cloudinv.Key{ID: DefaultAK, Secret: DefaultSK, Account: DefaultAccount}
	c, err := discoveryClient(srv.URL, k, "cn-east-3")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.ListServersDetails(&model.ListServersDetailsRequest{Limit: i32(1000)})
	if err != nil || *resp.Count != 100 {
		t.Fatalf("defaults: %v", err)
	}
}
