package app

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/logging/logtest"
)

// spanSink is an OTLP/HTTP trace receiver keeping every span it is sent.
type spanSink struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service map[string]bool // service.name of the resources
}

func (s *spanSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				s.service[kv.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			s.spans = append(s.spans, ss.GetSpans()...)
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (s *spanSink) all() []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*tracepb.Span(nil), s.spans...)
}

func spanAttr(sp *tracepb.Span, key string) string {
	for _, kv := range sp.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestServeObservability runs serve against the simulators with the
// standard OTEL_ variables aimed at an in-test OTLP receiver, then checks
// /metrics names every metric operations rely on and the exported spans
// link the cloud listing to the JumpServer write.
func TestServeObservability(t *testing.T) {
	sink := &spanSink{service: map[string]bool{}}
	rcv := httptest.NewServer(sink)
	defer rcv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")

	st := startSimStack(t, 5)
	dir := t.TempDir()
	var logs logtest.Buffer
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, &Environment{Vars: st.vars}, st.cfgs, dir, logging.New(&logs, "info", "test"))
	}()

	var opsAddr string
	waitUntil(t, 30*time.Second, "serve's ops address", func() bool {
		opsAddr = servingAddr(logs.String())
		return opsAddr != ""
	})
	waitUntil(t, 60*time.Second, "hosts created in JumpServer", func() bool { return st.sims.jms.AssetCount("") > 0 })

	want := []string{
		"jmssync_collector_passes_total",                         // passes
		"jmssync_collector_instances",                            // instances per scope
		"jmssync_collector_last_complete_pass_timestamp_seconds", // when the last complete pass ended
		"jmssync_reconciler_passes_verified_total",               // passes as the reconciler judged them
		"jmssync_reconciler_intents_total",                       // changes decided, by op
		"jmssync_reconciler_deletions_held",                      // held deletions
		"jmssync_reconciler_pass_age_seconds",                    // age of the last complete pass per scope
		"jmssync_applier_intents_total",                          // changes applied, by op and outcome
		"jmssync_applier_jumpserver_calls_total",                 // JumpServer calls by outcome
		"jmssync_applier_jumpserver_latency_seconds_bucket",      // and their latency
		"jmssync_applier_breaker_state",                          // breaker state
		`jmssync_applier_event_lag_seconds_count{op="created"`,   // pass → applied
	}
	var metrics string
	waitUntil(t, 30*time.Second, "every metric on /metrics", func() bool {
		metrics = scrape(t, "http://"+opsAddr+"/metrics")
		for _, name := range want {
			if !hasMetric(metrics, name) {
				return false
			}
		}
		return true
	})
	waitUntil(t, 30*time.Second, "JumpServer request spans exported", func() bool {
		for _, sp := range sink.all() {
			if strings.HasPrefix(sp.GetName(), "POST /api/v1/assets/hosts/") {
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	spans := sink.all()
	t.Logf("%d spans exported", len(spans))
	byID := map[string]*tracepb.Span{}
	for _, sp := range spans {
		byID[hex.EncodeToString(sp.GetSpanId())] = sp
	}
	parentOf := func(sp *tracepb.Span) *tracepb.Span { return byID[hex.EncodeToString(sp.GetParentSpanId())] }
	if !sink.service["jms-sync"] {
		t.Errorf("service names %v", sink.service)
	}

	// The listing's trace reaches the reconciler: collector.pass → send of
	// the close record → the reconciler's processing of it.
	listed := false
	for _, sp := range spans {
		if !strings.HasPrefix(sp.GetName(), "process ") {
			continue
		}
		send := parentOf(sp)
		if send == nil {
			continue
		}
		if pass := parentOf(send); pass != nil && pass.GetName() == "collector.pass" {
			listed = true
		}
	}
	if !listed {
		t.Error("no reconciler span continues a collector.pass trace")
	}

	// The intent's trace reaches JumpServer: the reconciler's send of the
	// intent → applier.apply → the JumpServer request, with a path
	// template and a status.
	applied := false
	for _, sp := range spans {
		if sp.GetKind() != tracepb.Span_SPAN_KIND_CLIENT || !strings.Contains(sp.GetName(), "/api/v1/") {
			continue
		}
		if tmpl := spanAttr(sp, "url.template"); tmpl == "" || uuidRE.MatchString(tmpl) {
			t.Errorf("span %s: url.template %q", sp.GetName(), tmpl)
		}
		apply := parentOf(sp)
		if apply == nil || apply.GetName() != "applier.apply" || string(apply.GetTraceId()) != string(sp.GetTraceId()) {
			continue
		}
		if send := parentOf(apply); send != nil && strings.HasPrefix(send.GetName(), "send jmssync.intent") {
			applied = true
		}
	}
	if !applied {
		names := map[string]int{}
		for _, sp := range spans {
			names[sp.GetName()]++
		}
		t.Errorf("no JumpServer request span under applier.apply under an intent's send span; spans: %v", names)
	}
}

var uuidRE = regexp.MustCompile(`[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}`)

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// servingAddr is the ops address of the "jms-sync serving" log line.
func servingAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Message string `json:"message"`
			Ops     string `json:"ops"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "jms-sync serving" {
			return line.Ops
		}
	}
	return ""
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a test against loopback
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// hasMetric reports whether a sample line of the Prometheus text starts
// with name (a metric name, or a name with the start of its labels).
func hasMetric(text, name string) bool {
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") || (strings.Contains(name, "{") && strings.HasPrefix(line, name)) {
			return true
		}
	}
	return false
}
