package aliyun

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/collector/sourcetest"
	"github.com/jmssync/jmssync/libs/events"
)

// fakeECS answers DescribeInstances without checking signatures: it plays
// API behaviours the simulator does not have. dry answers a DryRun call
// (nil = a normal listing); page answers the n-th (1-based) list call.
type fakeECS struct {
	dry   func(w http.ResponseWriter)
	page  func(n int, token string) (ids []string, region, next string)
	calls atomic.Int64
}

func (f *fakeECS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "application/json")
	if q.Get("DryRun") == "true" && f.dry != nil {
		f.dry(w)
		return
	}
	n := int(f.calls.Add(1))
	ids, region, next := f.page(n, q.Get("NextToken"))
	var insts []map[string]any
	for _, id := range ids {
		insts = append(insts, map[string]any{"InstanceId": id, "Status": "Running", "RegionId": region, "OSType": "linux"})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"RequestId": fmt.Sprintf("req-%d", n), "NextToken": next, "Instances": map[string]any{"Instance": insts}})
}

func apiErr(status int, code string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"RequestId":"req-dry","Code":%q,"Message":"m"}`, code)
	}
}

func fakeSource(t *testing.T, f *fakeECS) *Source {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return sourcetest.Build(t, Config{AccessKeyID: "LTAI5tFake", AccessKeySecret: "fake-secret-1", AccountID: "acct-test",
		Regions: []string{"cn-hangzhou"}, Endpoint: srv.URL, Backoff: collector.Backoff{Base: 1, Max: 1}}, nil, New)
}

func onePage(ids ...string) func(int, string) ([]string, string, string) {
	return func(int, string) ([]string, string, string) { return ids, "cn-hangzhou", "" }
}

func TestDryRunOutcomes(t *testing.T) {
	// The endpoint ignores DryRun and answers a listing: unsupported, and the
	// listing goes on (an empty one is for the reconciler to judge).
	l, err := fakeSource(t, &fakeECS{page: onePage()}).List(t.Context(), "cn-hangzhou")
	if err != nil || probes(l.Probes) != "dry_run=unsupported" || len(l.Instances) != 0 {
		t.Fatalf("DryRun ignored: %+v %v", l, err)
	}
	// The probe fails (a 5xx, retried once): a non-empty listing proves the
	// permission by itself...
	f := &fakeECS{dry: apiErr(503, "ServiceUnavailable"), page: onePage("i-1", "i-2")}
	l, err = fakeSource(t, f).List(t.Context(), "cn-hangzhou")
	if err != nil || probes(l.Probes) != "dry_run=error" || len(l.Instances) != 2 || l.Calls != 3 {
		t.Fatalf("probe error, non-empty: %+v %v", l, err)
	}
	if !strings.Contains(l.Probes[0].Detail, "ServiceUnavailable (HTTP 503)") {
		t.Errorf("probe detail %q", l.Probes[0].Detail)
	}
	// ...an empty one cannot be trusted.
	l, err = fakeSource(t, &fakeECS{dry: apiErr(500, "InternalError"), page: onePage()}).List(t.Context(), "cn-hangzhou")
	le := listErr(t, l, err, events.ReasonAPIError)
	if !strings.Contains(le.Detail, "empty listing not verified") || probes(le.Probes) != "dry_run=error" {
		t.Errorf("probe error, empty: %s", le.Detail)
	}
	// A bare 403 without an Aliyun code is a denial too.
	l, err = fakeSource(t, &fakeECS{dry: apiErr(403, ""), page: onePage("i-1")}).List(t.Context(), "cn-hangzhou")
	listErr(t, l, err, events.ReasonPermission)
}

func TestInconsistentAnswersFailThePass(t *testing.T) {
	ok := func(w http.ResponseWriter) { apiErr(400, "DryRunOperation")(w) }
	for _, tc := range []struct {
		name, reason, detail string
		page                 func(n int, token string) ([]string, string, string)
	}{
		{"an instance listed twice", events.ReasonChurn, "i-2 listed twice", func(n int, _ string) ([]string, string, string) {
			if n == 1 {
				return []string{"i-1", "i-2"}, "cn-hangzhou", "t1"
			}
			return []string{"i-2", "i-3"}, "cn-hangzhou", ""
		}},
		{"an instance of another region", events.ReasonAPIError, `reports region "cn-beijing"`, func(int, string) ([]string, string, string) {
			return []string{"i-1"}, "cn-beijing", ""
		}},
		{"a NextToken that comes back", events.ReasonAPIError, "NextToken already used", func(n int, _ string) ([]string, string, string) {
			return []string{fmt.Sprintf("i-%d", n)}, "cn-hangzhou", "same"
		}},
		{"an instance without an id", events.ReasonAPIError, "instance_id: required", func(int, string) ([]string, string, string) {
			return []string{"i-1", ""}, "cn-hangzhou", ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := fakeSource(t, &fakeECS{dry: ok, page: tc.page}).List(t.Context(), "cn-hangzhou")
			le := listErr(t, l, err, tc.reason)
			if !strings.Contains(le.Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", le.Detail, tc.detail)
			}
		})
	}
}
