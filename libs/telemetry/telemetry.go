package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Options configures [Setup]. The zero value is valid.
type Options struct {
	// Version is reported as service.version.
	Version string
	// SpanExporter, when set, receives finished spans through a batcher.
	SpanExporter sdktrace.SpanExporter
	// SpanProcessors are added as they are (tests use tracetest.SpanRecorder).
	SpanProcessors []sdktrace.SpanProcessor
	// Sampler defaults to ParentBased(AlwaysSample).
	Sampler sdktrace.Sampler
	// Registerer receives the Prometheus collector of the meter provider;
	// default prometheus.DefaultRegisterer. Serve it with [MetricsHandler].
	Registerer prometheus.Registerer
}

// Shutdown flushes and stops the providers set up by [Setup].
type Shutdown func(context.Context) error

// Setup builds the tracer and meter providers for service, installs them and
// the propagator as the OpenTelemetry globals (otel.Tracer, otel.Meter and
// otel.GetTextMapPropagator then use them), and returns a function that
// flushes and stops them. Call it once per process, in main.
func Setup(ctx context.Context, service string, opts Options) (Shutdown, error) {
	if service == "" {
		return nil, errors.New("telemetry: service name is empty")
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(service)}
	if opts.Version != "" {
		attrs = append(attrs, semconv.ServiceVersion(opts.Version))
	}
	res, err := resource.Merge(resource.DefaultWithContext(ctx), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	sampler := opts.Sampler
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	if opts.SpanExporter != nil {
		tpOpts = append(tpOpts, sdktrace.WithBatcher(opts.SpanExporter))
	}
	for _, p := range opts.SpanProcessors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		_ = tp.Shutdown(ctx)
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exporter))

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(Propagator())

	return func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
	}, nil
}

// MetricsHandler serves the metrics of g (prometheus.DefaultGatherer when
// nil) for a /metrics endpoint.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// Propagator returns the W3C TraceContext + Baggage propagator. [InjectNATS]
// and [ExtractNATS] always use it, whether or not [Setup] ran.
func Propagator() propagation.TextMapPropagator { return propagator }

var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
