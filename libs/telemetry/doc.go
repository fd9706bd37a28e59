// Package telemetry sets up OpenTelemetry for a service: a tracer provider, a
// meter provider exported to Prometheus (served by [MetricsHandler]) and the
// W3C TraceContext + Baggage propagator, and carries trace context through
// NATS message headers with lower-case keys ("traceparent", "tracestate").
//
// No span exporter is configured by default: spans are still created and their
// context propagates (so logs carry trace ids), but nothing is sent anywhere.
// Pass Options.SpanExporter to export. OTLP exporters are not among the
// module's dependencies yet, so there is no OTLP option.
package telemetry
