package app

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	// Every scope's listing reaches a JumpServer write (see traceChains).
	var chains chainReport
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		chains = traceChains(sink.all())
		if chains.complete(4) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for every scope's listing to reach a JumpServer write:\n%s", chains)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// serve hands its logger to telemetry.Setup: the exporter's start-up
	// line is in serve's log, not on stderr.
	if !strings.Contains(logs.String(), "exporting traces over OTLP") {
		t.Error("the OTLP exporter's start-up line is not in serve's log")
	}

	spans := sink.all()
	t.Logf("%d spans exported", len(spans))
	if !sink.service["jms-sync"] {
		t.Errorf("service names %v", sink.service)
	}
	chains = traceChains(spans)
	t.Logf("trace chains:\n%s", chains)
	if !chains.complete(4) {
		t.Errorf("the listing's trace does not reach JumpServer:\n%s", chains)
	}
	// What the trace viewer shows as one trace: at least one listing whose
	// chain uses parent hops only, so a single trace id runs from
	// collector.pass to the JumpServer request.
	if chains.oneTrace == "" {
		t.Error("no chain from collector.pass to a JumpServer write within a single trace (parent hops only)")
	}

	byID := map[string]*tracepb.Span{}
	for _, sp := range spans {
		byID[spanKey(sp.GetTraceId(), sp.GetSpanId())] = sp
	}
	parentOf := func(sp *tracepb.Span) *tracepb.Span { return byID[spanKey(sp.GetTraceId(), sp.GetParentSpanId())] }
	for _, sp := range spans {
		switch {
		// The known break: no intent is published from a trace of its own;
		// every intent batch is sent inside a decision.
		case strings.HasPrefix(sp.GetName(), "send jmssync.intent"):
			if p := parentOf(sp); p == nil || p.GetName() != "reconciler.decide" {
				t.Errorf("span %s is not a child of reconciler.decide (parent %v)", sp.GetName(), p.GetName())
			}
		case sp.GetName() == "reconciler.decide":
			if spanAttr(sp, "jmssync.trigger") == "" || spanAttr(sp, "jmssync.run_id") == "" {
				t.Errorf("reconciler.decide without trigger or run id: %v", sp.GetAttributes())
			}
		// JumpServer spans name the path template, never ids.
		case sp.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && strings.Contains(sp.GetName(), "/api/v1/"):
			if tmpl := spanAttr(sp, "url.template"); tmpl == "" || uuidRE.MatchString(tmpl) {
				t.Errorf("span %s: url.template %q", sp.GetName(), tmpl)
			}
		}
	}
}

// A trace from a cloud listing to a JumpServer write runs through these
// spans, each reached from the one before by a hop:
//
//	collector.pass                      the listing of one scope
//	send jmssync.pass                   the publish of its close record
//	process SNAPSHOTS                   the reconciler's consumer span of that close
//	reconciler.decide                   the cycle deciding from the pass
//	send jmssync.intent batch           the publish of the cycle's intents
//	applier.apply                       the applier's batch
//	POST|PUT|PATCH|DELETE /api/v1/…     the JumpServer request
//
// A hop leads from span X to span Y when Y's parent is X, or when Y
// carries a span link to X. Links count because of fan-in: a span has a
// single parent, yet a decision reads the passes of every scope (the
// latest new pass is its parent, the others are links) and an applier
// batch may apply intents published by several spans (the first is its
// parent, the others are links). A chain made of parent hops only stays
// within one trace id.
var chainStages = []func(*tracepb.Span) bool{
	func(sp *tracepb.Span) bool { return sp.GetName() == "collector.pass" },
	func(sp *tracepb.Span) bool { return sp.GetName() == "send jmssync.pass" },
	func(sp *tracepb.Span) bool {
		return strings.HasPrefix(sp.GetName(), "process ") && spanAttr(sp, "messaging.consumer.group.name") == "reconciler"
	},
	func(sp *tracepb.Span) bool { return sp.GetName() == "reconciler.decide" },
	func(sp *tracepb.Span) bool { return strings.HasPrefix(sp.GetName(), "send jmssync.intent") },
	func(sp *tracepb.Span) bool { return sp.GetName() == "applier.apply" },
	func(sp *tracepb.Span) bool {
		method, path, _ := strings.Cut(sp.GetName(), " ")
		return sp.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && strings.HasPrefix(path, "/api/v1/") &&
			(method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE")
	},
}

// chainReport is what traceChains found.
type chainReport struct {
	stageCounts []int           // spans matching each stage
	reached     map[string]bool // scope (provider/account/region) → its listing reaches a write
	oneTrace    string          // a chain of parent hops only, as "name > name > …"
	withLink    string          // a chain that needs a link hop
}

// complete reports whether the listings of scopes scopes reach a write.
func (r chainReport) complete(scopes int) bool {
	n := 0
	for _, ok := range r.reached {
		if ok {
			n++
		}
	}
	return n >= scopes
}

func (r chainReport) String() string {
	return fmt.Sprintf("spans per stage %v\nscopes reaching a write %v\none-trace chain: %s\nchain through a link: %s",
		r.stageCounts, r.reached, r.oneTrace, r.withLink)
}

func spanKey(traceID, spanID []byte) string {
	return hex.EncodeToString(traceID) + "/" + hex.EncodeToString(spanID)
}

// traceChains follows the hops (parent or link, see chainStages) from
// every collector.pass span.
func traceChains(spans []*tracepb.Span) chainReport {
	type hop struct {
		to     *tracepb.Span
		parent bool // a parent hop, not a link
	}
	next := map[string][]hop{} // span key → hops leaving it
	for _, sp := range spans {
		if len(sp.GetParentSpanId()) > 0 {
			k := spanKey(sp.GetTraceId(), sp.GetParentSpanId())
			next[k] = append(next[k], hop{sp, true})
		}
		for _, l := range sp.GetLinks() {
			k := spanKey(l.GetTraceId(), l.GetSpanId())
			next[k] = append(next[k], hop{sp, false})
		}
	}
	r := chainReport{stageCounts: make([]int, len(chainStages)), reached: map[string]bool{}}
	for _, sp := range spans {
		for i, match := range chainStages {
			if match(sp) {
				r.stageCounts[i]++
			}
		}
	}
	// walk returns a chain from sp (matching stage i) to the last stage,
	// of parent hops only when parentOnly; "" when there is none.
	type memoKey struct {
		span       string
		stage      int
		parentOnly bool
	}
	memo := map[memoKey]string{}
	var walk func(sp *tracepb.Span, i int, parentOnly bool) string
	walk = func(sp *tracepb.Span, i int, parentOnly bool) string {
		if i == len(chainStages)-1 {
			return sp.GetName()
		}
		mk := memoKey{spanKey(sp.GetTraceId(), sp.GetSpanId()), i, parentOnly}
		if c, ok := memo[mk]; ok {
			return c
		}
		memo[mk] = ""
		for _, h := range next[mk.span] {
			if (parentOnly && !h.parent) || !chainStages[i+1](h.to) {
				continue
			}
			if rest := walk(h.to, i+1, parentOnly); rest != "" {
				sep := " > "
				if !h.parent {
					sep = " >(link) "
				}
				memo[mk] = sp.GetName() + sep + rest
				break
			}
		}
		return memo[mk]
	}
	for _, sp := range spans {
		if !chainStages[0](sp) {
			continue
		}
		scope := spanAttr(sp, "jmssync.provider") + "/" + spanAttr(sp, "jmssync.account_id") + "/" + spanAttr(sp, "jmssync.region")
		chain := walk(sp, 0, false)
		if chain == "" {
			if _, seen := r.reached[scope]; !seen {
				r.reached[scope] = false // listed, no write reached (yet)
			}
			continue
		}
		r.reached[scope] = true
		if strings.Contains(chain, "(link)") && r.withLink == "" {
			r.withLink = chain
		}
		if r.oneTrace == "" {
			r.oneTrace = walk(sp, 0, true)
		}
	}
	return r
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
