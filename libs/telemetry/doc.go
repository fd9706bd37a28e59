// Package telemetry sets up OpenTelemetry for a service: a tracer provider, a
// meter provider exported to Prometheus (served by [MetricsHandler]) and the
// W3C TraceContext + Baggage propagator, and carries trace context through
// NATS message headers with lower-case keys ("traceparent", "tracestate").
//
// Spans are always created and their context propagates (so logs carry
// trace ids). They are exported over OTLP/HTTP (protobuf) only when the
// standard variables ask for it: OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or OTEL_TRACES_EXPORTER=otlp
// (then http://localhost:4318). OTEL_TRACES_EXPORTER=none or
// OTEL_SDK_DISABLED=true turn the export off; with none of these variables
// nothing is exported and no connection is made. The exporter itself reads
// OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE…;
// the SDK reads OTEL_TRACES_SAMPLER(_ARG) and OTEL_BSP_*;
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the built-in
// service name and add resource attributes. Header values are masked in
// every log. OTEL_EXPORTER_OTLP_PROTOCOL may only be http/protobuf (the
// default): gRPC would bring the whole gRPC client along. The Prometheus
// metrics do not depend on any of this.
//
// Options.SpanExporter replaces the OTLP exporter (tests).
package telemetry
