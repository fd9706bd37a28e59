package telemetry_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmssync/jmssync/libs/telemetry"
)

func TestSetupTracesAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := tracetest.NewSpanRecorder()
	shutdown, err := telemetry.Setup(t.Context(), "test-svc", telemetry.Options{
		Version:        "1.2.3",
		Registerer:     reg,
		SpanProcessors: []sdktrace.SpanProcessor{rec},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := shutdown(t.Context()); err != nil {
			t.Error(err)
		}
	}()

	_, span := otel.Tracer("test").Start(t.Context(), "work")
	span.End()
	if n := len(rec.Ended()); n != 1 {
		t.Fatalf("recorded %d spans, want 1", n)
	}
	if got := rec.Ended()[0].Resource().String(); !strings.Contains(got, "service.name=test-svc") {
		t.Errorf("resource = %s", got)
	}

	counter, err := otel.Meter("test").Int64Counter("jobs_done")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(t.Context(), 3)
	rr := httptest.NewRecorder()
	telemetry.MetricsHandler(reg).ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rr.Body)
	if !strings.Contains(string(body), "jobs_done_total") || !strings.Contains(string(body), `service_name="test-svc"`) {
		t.Fatalf("metrics output lacks the counter:\n%s", body)
	}
}

func TestNATSHeadersRoundTrip(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(t.Context()) }()
	ctx, span := tp.Tracer("test").Start(t.Context(), "publish")
	defer span.End()
	member, _ := baggage.NewMember("run", "r-42")
	bag, _ := baggage.New(member)
	ctx = baggage.ContextWithBaggage(ctx, bag)

	h := nats.Header{}
	telemetry.InjectNATS(ctx, h)
	if h.Get("traceparent") == "" {
		t.Fatalf("no lower-case traceparent: %v", h)
	}
	if _, ok := h["Traceparent"]; ok {
		t.Fatalf("canonicalised key written: %v", h)
	}

	got := trace.SpanContextFromContext(telemetry.ExtractNATS(t.Context(), h))
	want := span.SpanContext()
	if !got.IsRemote() || got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() || !got.IsSampled() {
		t.Fatalf("extracted %v, want %v", got, want)
	}
	if v := baggage.FromContext(telemetry.ExtractNATS(t.Context(), h)).Member("run").Value(); v != "r-42" {
		t.Errorf("baggage = %q", v)
	}

	// A peer that used http.Header spelling is still understood, and a later
	// Set replaces that spelling.
	canon := nats.Header{"Traceparent": []string{h.Get("traceparent")}}
	if got := trace.SpanContextFromContext(telemetry.ExtractNATS(t.Context(), canon)); got.TraceID() != want.TraceID() {
		t.Fatalf("canonical header not read: %v", got)
	}
	telemetry.InjectNATS(ctx, canon)
	if _, ok := canon["Traceparent"]; ok || canon.Get("traceparent") == "" {
		t.Fatalf("Set kept two spellings: %v", canon)
	}

	// Nil and empty headers are harmless.
	telemetry.InjectNATS(ctx, nil)
	if sc := trace.SpanContextFromContext(telemetry.ExtractNATS(t.Context(), nil)); sc.IsValid() {
		t.Fatal("span context from nil header")
	}
}
