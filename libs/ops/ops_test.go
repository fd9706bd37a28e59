package ops_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
	"github.com/jmssync/jmssync/libs/ops"
)

func TestHandler(t *testing.T) {
	logging.RegisterSecrets("ops-test-secret-991")
	ok := ops.Check{Name: "nats", Fn: func(context.Context) error { return nil }}
	down := ops.Check{Name: "topology", Fn: func(context.Context) error { return errors.New("not ensured: auth ops-test-secret-991") }}
	slow := ops.Check{Name: "slow", Fn: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	boom := ops.Check{Name: "boom", Fn: func(context.Context) error { panic("bug") }}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "jmssync_up 1\n") })

	tests := []struct {
		name     string
		checks   []ops.Check
		method   string
		path     string
		wantCode int
		wantBody string // substring
		// wantChecks: name → ok, for /readyz
		wantChecks map[string]bool
	}{
		{name: "healthz", method: "GET", path: "/healthz", wantCode: 200, wantBody: `"status":"ok"`},
		{name: "healthz ignores failing checks", checks: []ops.Check{down}, method: "GET", path: "/healthz", wantCode: 200},
		{name: "healthz head", method: "HEAD", path: "/healthz", wantCode: 200},
		{name: "healthz post", method: "POST", path: "/healthz", wantCode: 405},
		{name: "readyz without checks", method: "GET", path: "/readyz", wantCode: 200, wantBody: `"status":"ready"`},
		{name: "readyz all pass", checks: []ops.Check{ok}, method: "GET", path: "/readyz", wantCode: 200, wantChecks: map[string]bool{"nats": true}},
		{name: "readyz one fails", checks: []ops.Check{ok, down}, method: "GET", path: "/readyz", wantCode: 503,
			wantBody: "not ensured", wantChecks: map[string]bool{"nats": true, "topology": false}},
		{name: "readyz check times out", checks: []ops.Check{slow, ok}, method: "GET", path: "/readyz", wantCode: 503,
			wantBody: "timed out", wantChecks: map[string]bool{"slow": false, "nats": true}},
		{name: "readyz check panics", checks: []ops.Check{boom}, method: "GET", path: "/readyz", wantCode: 503, wantChecks: map[string]bool{"boom": false}},
		{name: "metrics", method: "GET", path: "/metrics", wantCode: 200, wantBody: "jmssync_up 1"},
		{name: "unknown path", method: "GET", path: "/debug", wantCode: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ops.Handler(ops.Options{Checks: tt.checks, Metrics: metrics, CheckTimeout: 100 * time.Millisecond})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, nil))
			body := rec.Body.String()
			if rec.Code != tt.wantCode {
				t.Fatalf("code %d, want %d (%s)", rec.Code, tt.wantCode, body)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %q lacks %q", body, tt.wantBody)
			}
			if strings.Contains(body, "ops-test-secret-991") {
				t.Errorf("body leaks a secret: %s", body)
			}
			if tt.wantChecks != nil {
				var rd ops.Readiness
				if err := json.Unmarshal(rec.Body.Bytes(), &rd); err != nil {
					t.Fatal(err)
				}
				if len(rd.Checks) != len(tt.wantChecks) {
					t.Fatalf("checks %+v", rd.Checks)
				}
				for _, c := range rd.Checks {
					if want, ok := tt.wantChecks[c.Name]; !ok || c.OK != want || (!c.OK && c.Error == "") {
						t.Errorf("check %+v, want ok=%v with an error when failing", c, want)
					}
				}
			}
		})
	}
}

func TestServeLoopbackAndGracefulShutdown(t *testing.T) {
	ln, err := ops.Listen(":0")
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if !net.ParseIP(host).IsLoopback() {
		t.Fatalf("bound to %s, want loopback", host)
	}
	var flag ops.Flag
	nc, _ := natstest.Connect(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- ops.ServeListener(ctx, ln, ops.Options{Checks: []ops.Check{ops.NATSConnected(nc), flag.Check("topology")}})
	}()
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/readyz"); code != 503 {
		t.Errorf("readyz before the flag = %d", code)
	}
	flag.Set()
	if code := get("/readyz"); code != 200 {
		t.Errorf("readyz after the flag = %d", code)
	}
	nc.Close()
	if code := get("/readyz"); code != 503 {
		t.Errorf("readyz with NATS closed = %d", code)
	}
	if code := get("/metrics"); code != 200 {
		t.Errorf("metrics = %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeListener: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no shutdown")
	}
	if _, err := ops.Listen("no-port"); err == nil {
		t.Error("bad address accepted")
	}
}

func TestServeReportsBindFailure(t *testing.T) {
	ln, err := ops.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := ops.Serve(t.Context(), ln.Addr().String(), ops.Options{}); err == nil {
		t.Fatal("second bind on a used port succeeded")
	}
}

func TestFlagClear(t *testing.T) {
	var f ops.Flag
	f.Set()
	f.Clear("mirror rebuilding")
	err := f.Check("mirror").Fn(t.Context())
	if err == nil || err.Error() != "mirror rebuilding" {
		t.Fatalf("err = %v", err)
	}
}
