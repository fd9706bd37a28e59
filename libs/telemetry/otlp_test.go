package telemetry_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/logging/logtest"
	"github.com/jmssync/jmssync/libs/telemetry"
)

// otlpReceiver is a minimal OTLP/HTTP trace receiver: it decodes every
// ExportTraceServiceRequest and keeps it with the request headers.
type otlpReceiver struct {
	mu       sync.Mutex
	requests []*coltracepb.ExportTraceServiceRequest
	headers  []http.Header
	paths    []string
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests = append(r.requests, &msg)
	r.headers = append(r.headers, req.Header.Clone())
	r.paths = append(r.paths, req.URL.Path)
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// spans returns the received spans by name with their resource's attributes.
func (r *otlpReceiver) spans() (map[string]*tracepb.Span, map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	spans := map[string]*tracepb.Span{}
	res := map[string]string{}
	for _, req := range r.requests {
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				res[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					spans[s.GetName()] = s
				}
			}
		}
	}
	return spans, res
}

// clearOTelEnv unsets (for the test) every variable that could change what
// Setup does, so the host's environment cannot leak in.
func clearOTelEnv(t *testing.T) {
	for _, k := range []string{
		"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
	} {
		t.Setenv(k, "")
	}
}

func TestOTLPExportFromEnvironment(t *testing.T) {
	clearOTelEnv(t)
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(rcv) // 127.0.0.1
	defer srv.Close()

	const secret = "s3cr3t-Bearer-t0ken-9f2c"
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20"+secret+",x-tenant=blue")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")

	var logs logtest.Buffer
	log := logging.New(&logs, "debug", "exporter-svc")
	shutdown, err := telemetry.Setup(t.Context(), "exporter-svc", telemetry.Options{
		Registerer: prometheus.NewRegistry(), Logger: &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, parent := otel.Tracer("test").Start(t.Context(), "collector.pass")
	_, child := otel.Tracer("test").Start(ctx, "jumpserver PATCH")
	child.End()
	parent.End()
	// The SDK's errors go through the redacting logger too: one that
	// quotes the token must not print it.
	otel.Handle(errors.New("export refused for Bearer " + secret))
	if err := shutdown(t.Context()); err != nil { // flushes the batcher
		t.Fatal(err)
	}

	spans, res := rcv.spans()
	if len(spans) != 2 {
		t.Fatalf("received %d spans, want 2: %v", len(spans), spans)
	}
	if spans["jumpserver PATCH"].GetTraceId() == nil ||
		string(spans["jumpserver PATCH"].GetParentSpanId()) != string(spans["collector.pass"].GetSpanId()) {
		t.Error("the child span does not name its parent")
	}
	if res["service.name"] != "exporter-svc" || res["deployment.environment.name"] != "test" {
		t.Errorf("resource = %v", res)
	}
	rcv.mu.Lock()
	h, path := rcv.headers[0], rcv.paths[0]
	rcv.mu.Unlock()
	if path != "/v1/traces" {
		t.Errorf("path = %s", path)
	}
	if h.Get("Authorization") != "Bearer "+secret || h.Get("X-Tenant") != "blue" {
		t.Errorf("headers not sent: %v", h)
	}
	if h.Get("Content-Type") != "application/x-protobuf" {
		t.Errorf("content type = %s", h.Get("Content-Type"))
	}

	out := logs.String()
	if !strings.Contains(out, "exporting traces over OTLP") || !strings.Contains(out, "authorization,x-tenant") {
		t.Errorf("no start-up line naming the headers:\n%s", out)
	}
	if !strings.Contains(out, "export refused") {
		t.Errorf("SDK error not logged:\n%s", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("the header's secret value is in the logs:\n%s", out)
	}
}

func TestOTLPServiceNameFromEnvironment(t *testing.T) {
	clearOTelEnv(t)
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", srv.URL+"/custom/traces") // used as is
	t.Setenv("OTEL_SERVICE_NAME", "applier-eu")

	log := logging.New(io.Discard, "info", "applier")
	shutdown, err := telemetry.Setup(t.Context(), "applier", telemetry.Options{Registerer: prometheus.NewRegistry(), Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(t.Context(), "apply")
	span.End()
	if err := shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	spans, res := rcv.spans()
	if spans["apply"] == nil || res["service.name"] != "applier-eu" {
		t.Fatalf("spans %v, resource %v", spans, res)
	}
	if rcv.paths[0] != "/custom/traces" {
		t.Errorf("path = %s", rcv.paths[0])
	}
}

func TestOTLPSamplerFromEnvironment(t *testing.T) {
	clearOTelEnv(t)
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")

	log := logging.New(io.Discard, "info", "svc")
	shutdown, err := telemetry.Setup(t.Context(), "svc", telemetry.Options{Registerer: prometheus.NewRegistry(), Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(t.Context(), "dropped")
	if span.SpanContext().IsSampled() {
		t.Error("OTEL_TRACES_SAMPLER=always_off ignored")
	}
	span.End()
	if err := shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if spans, _ := rcv.spans(); len(spans) != 0 {
		t.Errorf("exported %v", spans)
	}
}

func TestOTLPRefusedSettings(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"grpc":           {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		"json":           {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
		"zipkin":         {"OTEL_TRACES_EXPORTER": "zipkin"},
		"bad-traceproto": {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
	} {
		t.Run(name, func(t *testing.T) {
			clearOTelEnv(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			log := logging.New(io.Discard, "info", "svc")
			if _, err := telemetry.Setup(t.Context(), "svc", telemetry.Options{Registerer: prometheus.NewRegistry(), Logger: &log}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
