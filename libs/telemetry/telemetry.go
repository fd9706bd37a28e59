package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/jmssync/jmssync/libs/logging"
)

// Options configures [Setup]. The zero value is valid.
type Options struct {
	// Version is reported as service.version.
	Version string
	// SpanExporter, when set, receives finished spans through a batcher.
	// When nil, the standard OTEL_* variables may configure an OTLP/HTTP
	// exporter (see the package documentation).
	SpanExporter sdktrace.SpanExporter
	// SpanProcessors are added as they are (tests use tracetest.SpanRecorder).
	SpanProcessors []sdktrace.SpanProcessor
	// Sampler defaults to OTEL_TRACES_SAMPLER(_ARG), else
	// ParentBased(AlwaysSample).
	Sampler sdktrace.Sampler
	// Registerer receives the Prometheus collector of the meter provider;
	// default prometheus.DefaultRegisterer. Serve it with [MetricsHandler].
	Registerer prometheus.Registerer
	// Logger receives the exporter's start-up line and the errors the
	// OpenTelemetry SDK reports (export failures); JSON on stderr when nil.
	Logger *zerolog.Logger
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
	log := opts.Logger
	if log == nil {
		l := logging.New(os.Stderr, "info", service)
		log = &l
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(service)}
	if opts.Version != "" {
		attrs = append(attrs, semconv.ServiceVersion(opts.Version))
	}
	// The environment comes last: an operator's OTEL_SERVICE_NAME or
	// OTEL_RESOURCE_ATTRIBUTES overrides the built-in name. It is read
	// afresh (resource.Default caches its first reading).
	res, err := resource.Merge(resource.DefaultWithContext(ctx), resource.NewSchemaless(attrs...))
	if err == nil {
		res, err = resource.Merge(res, resource.EnvironmentWithContext(ctx))
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	exporter := opts.SpanExporter
	if exporter == nil {
		exp, info, err := envExporter(ctx)
		if err != nil {
			return nil, err
		}
		if exp != nil {
			exporter = exp
			log.Info().Str("endpoint", info.endpoint).Str("protocol", info.protocol).
				Str("headers", strings.Join(info.headers, ",")).Msg("exporting traces over OTLP")
		}
	}

	// Only an explicit sampler is passed: the SDK then reads
	// OTEL_TRACES_SAMPLER(_ARG) itself, its default being ParentBased(AlwaysSample).
	var tpOpts []sdktrace.TracerProviderOption
	tpOpts = append(tpOpts, sdktrace.WithResource(res))
	if opts.Sampler != nil {
		tpOpts = append(tpOpts, sdktrace.WithSampler(opts.Sampler))
	}
	if exporter != nil {
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exporter))
	}
	for _, p := range opts.SpanProcessors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	promExporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		_ = tp.Shutdown(ctx)
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(promExporter))

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(Propagator())
	// The SDK's default handler prints with the standard logger, unmasked;
	// this one goes through the service's redacting JSON logger.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn().Err(err).Msg("opentelemetry")
	}))

	// Shutdown flushes the batcher: spans of the last moments are sent.
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
