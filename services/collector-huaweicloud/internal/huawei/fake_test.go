package huawei

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/collector/sourcetest"
	"github.com/jmssync/jmssync/libs/events"
)

const fakeProject = "0123456789abcdef0123456789abcdef"

// fakeECS answers ListServersDetails without checking signatures: it plays
// API behaviours the simulator does not have. page answers the n-th
// (1-based) list call given its marker and limit.
type fakeECS struct {
	page  func(n int, marker string, limit int) (status int, body string)
	calls atomic.Int64
}

func (f *fakeECS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "application/json")
	n := int(f.calls.Add(1))
	w.Header().Set("X-Request-Id", fmt.Sprintf("req-%d", n))
	limit, _ := strconv.Atoi(q.Get("limit"))
	status, body := f.page(n, q.Get("marker"), limit)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// servers renders a page of minimal servers of fakeProject.
func servers(count int, ids ...string) string {
	list := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		list = append(list, map[string]any{"id": id, "status": "ACTIVE", "tenant_id": fakeProject, "metadata": map[string]string{"os_type": "Linux"}})
	}
	b, _ := json.Marshal(map[string]any{"count": count, "servers": list})
	return string(b)
}

func fakeSource(t *testing.T, f *fakeECS) *Source {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return sourcetest.Build(t, Config{AccessKeyID: "HWFAKEAK", SecretAccessKey: "fake-secret-1", AccountID: "acct-test",
		Regions: []string{regionA}, ProjectIDs: map[string]string{regionA: fakeProject}, Endpoint: srv.URL,
		Backoff: collector.Backoff{Base: 1, Max: 1}}, nil, New)
}

// ids returns "s-<from>" … "s-<to-1>".
func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("s-%04d", i))
	}
	return out
}

// byMarker serves total servers s-0000… in pages of at most per (the
// endpoint's own cap), continuing after the marker.
func byMarker(total, per int) func(int, string, int) (int, string) {
	all := ids(0, total)
	return func(_ int, marker string, limit int) (int, string) {
		start := 0
		if marker != "" {
			n, _ := strconv.Atoi(strings.TrimPrefix(marker, "s-"))
			start = n + 1
		}
		end := min(start+min(limit, per), total)
		if start > total {
			start = total
		}
		return 200, servers(total, all[start:end]...)
	}
}

func TestPagingEdgeCases(t *testing.T) {
	// An endpoint that caps limit below what was asked: a short page while
	// fewer than count were listed does not end the listing.
	f := &fakeECS{page: byMarker(250, 100)}
	l, err := fakeSource(t, f).List(t.Context(), regionA)
	if err != nil || len(l.Instances) != 250 || l.Pages != 3 || l.Calls != 3 {
		t.Fatalf("capped limit: %d instances, %d pages, %d calls, %v", len(l.Instances), l.Pages, l.Calls, err)
	}
	// A multiple of the page size ends with one empty page.
	f = &fakeECS{page: byMarker(2000, 1000)}
	l, err = fakeSource(t, f).List(t.Context(), regionA)
	if err != nil || len(l.Instances) != 2000 || l.Pages != 3 {
		t.Fatalf("2000: %d instances in %d pages, %v", len(l.Instances), l.Pages, err)
	}
	// One 5xx is retried once; the listing completes.
	inner := byMarker(10, 1000)
	f = &fakeECS{page: func(n int, m string, lim int) (int, string) {
		if n == 1 {
			return 502, `{"error_code":"APIGW.0203","error_msg":"Backend timeout"}`
		}
		return inner(n, m, lim)
	}}
	l, err = fakeSource(t, f).List(t.Context(), regionA)
	if err != nil || len(l.Instances) != 10 || l.Calls != 2 || l.Pages != 1 {
		t.Fatalf("one 502: %+v %v", l, err)
	}
}

func TestInconsistentAnswersFailThePass(t *testing.T) {
	for _, tc := range []struct {
		name, reason, detail string
		page                 func(n int, marker string, limit int) (int, string)
	}{
		{"a server listed twice", events.ReasonChurn, "s-0001 listed twice", func(n int, _ string, _ int) (int, string) {
			if n == 1 {
				return 200, servers(3, ids(0, 1000)...)
			}
			return 200, servers(3, "s-0001", "s-2000")
		}},
		{"a server of another project", events.ReasonAPIError, `reports project "ffff"`, func(int, string, int) (int, string) {
			return 200, `{"count":1,"servers":[{"id":"s-1","status":"ACTIVE","tenant_id":"ffff"}]}`
		}},
		{"paging ends before count with a stable count", events.ReasonAPIError, "reported count 2500 on every page but paging ended after 1000", func(n int, _ string, _ int) (int, string) {
			if n == 1 {
				return 200, servers(2500, ids(0, 1000)...)
			}
			return 200, servers(2500)
		}},
		{"a server without an id", events.ReasonAPIError, "instance_id: required", func(int, string, int) (int, string) {
			return 200, servers(2, "s-1", "")
		}},
		{"a body the SDK cannot decode", events.ReasonAPIError, "does not decode", func(int, string, int) (int, string) {
			return 200, `{"count":1,"servers":[{"id":"s-1","status":"ACTIVE","addresses":{"v":[{"version":4,"addr":"10.0.0.1"}]}}]}`
		}},
		{"a bare 403", events.ReasonPermission, "HTTP 403", func(int, string, int) (int, string) { return 403, `forbidden` }},
		{"a bare 401", events.ReasonAuth, "HTTP 401", func(int, string, int) (int, string) { return 401, `{}` }},
		{"a persistent 500 after one retry", events.ReasonAPIError, "Ecs.0000 (HTTP 500), request id req-2", func(int, string, int) (int, string) {
			return 500, `{"error":{"code":"Ecs.0000","message":"Internal server error."}}`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := fakeSource(t, &fakeECS{page: tc.page}).List(t.Context(), regionA)
			le := listErr(t, l, err, tc.reason)
			if !strings.Contains(le.Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", le.Detail, tc.detail)
			}
			assertNoSecret(t, err, "fake-secret-1")
		})
	}
}

// A real gateway's 401 quotes its canonical request; none of it may reach
// an error, nor the secret should a server echo it.
func TestGatewayMessagesAreSanitised(t *testing.T) {
	f := &fakeECS{page: func(int, string, int) (int, string) {
		return 401, `{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail, canonicalRequest:GET|/v1/p/cloudservers/detail/|limit=1000|user-agent:x|x-sdk-date:20260101T000000Z|fake-secret-1","request_id":"r"}`
	}}
	l, err := fakeSource(t, f).List(t.Context(), regionA)
	le := listErr(t, l, err, events.ReasonAuth)
	if !strings.HasSuffix(le.Detail, "APIGW.0301 (HTTP 401), request id req-1: Incorrect IAM authentication information: verify aksk signature fail") {
		t.Errorf("detail: %s", le.Detail)
	}
	assertNoSecret(t, err, "fake-secret-1")
	for _, tc := range []struct{ in, want string }{
		{"ak X not exist", "ak X not exist"},
		{"bad StringToSign: abc", "bad"},
		{"Get \"http://h:1/v1/p?limit=1&marker=x\": dial tcp: refused", `Get "http://h:1/v1/p": dial tcp: refused`},
		{"secret s3cr3t here", "secret [REDACTED] here"},
		{strings.Repeat("é", 200), strings.Repeat("é", 80) + "…"},
	} {
		if got := sanitize(tc.in, "s3cr3t"); got != tc.want {
			t.Errorf("sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
