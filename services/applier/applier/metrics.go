package applier

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// metrics are the applier's instruments (OTel meter → Prometheus):
//
//	jmssync.applier.intents            counter   op, outcome
//	jmssync.applier.jumpserver.calls   counter   method, outcome (2xx, 4xx, 5xx, error)
//	jmssync.applier.jumpserver.latency histogram method, outcome (s)
//	jmssync.applier.breaker.state      gauge     0 closed, 1 half-open, 2 open
//	jmssync.applier.paused             gauge     1 while fetching is paused
//	jmssync.applier.cap_reached        gauge     1 while creates wait for room
//	jmssync.applier.alerts             counter   kind
//	jmssync.applier.event.lag          histogram provider, op: pass finished → fact published (s)
type metrics struct {
	intents  metric.Int64Counter
	lag      metric.Float64Histogram
	calls    metric.Int64Counter
	latency  metric.Float64Histogram
	alerts   metric.Int64Counter
	breaker  atomic.Int64
	capGauge atomic.Int64
}

func newMetrics(a *Applier) (*metrics, error) {
	m := &metrics{}
	meter := otel.Meter(instrumentation)
	var err error
	if m.intents, err = meter.Int64Counter("jmssync.applier.intents",
		metric.WithDescription("Intents handled, by op and outcome (created, updated, deleted, stale, republished, retry, dead_letter…)."),
		metric.WithUnit("{intent}")); err != nil {
		return nil, err
	}
	if m.calls, err = meter.Int64Counter("jmssync.applier.jumpserver.calls",
		metric.WithDescription("HTTP requests to JumpServer, by method and outcome."), metric.WithUnit("{request}")); err != nil {
		return nil, err
	}
	if m.latency, err = meter.Float64Histogram("jmssync.applier.jumpserver.latency",
		metric.WithDescription("Latency of HTTP requests to JumpServer."), metric.WithUnit("s")); err != nil {
		return nil, err
	}
	// From seconds (one change, no debounce) to hours (the interval, a
	// paused applier): the default buckets stop at 10s.
	if m.lag, err = meter.Float64Histogram("jmssync.applier.event.lag",
		metric.WithDescription("Time from the end of the cloud listing an intent was decided from to its applied fact, by provider and op."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)); err != nil {
		return nil, err
	}
	if m.alerts, err = meter.Int64Counter("jmssync.applier.alerts",
		metric.WithDescription("Alerts raised, by kind."), metric.WithUnit("{alert}")); err != nil {
		return nil, err
	}
	_, err = meter.Int64ObservableGauge("jmssync.applier.breaker.state",
		metric.WithDescription("JumpServer circuit breaker: 0 closed, 1 half-open, 2 open."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(m.breaker.Load())
			return nil
		}))
	if err != nil {
		return nil, err
	}
	_, err = meter.Int64ObservableGauge("jmssync.applier.paused",
		metric.WithDescription("1 while fetching is paused (breaker open, auth refused, missing account template)."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(boolInt(a.pausedNow.Load()))
			return nil
		}))
	if err != nil {
		return nil, err
	}
	_, err = meter.Int64ObservableGauge("jmssync.applier.cap_reached",
		metric.WithDescription("1 while creates wait for room under the Community Edition cap."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(m.capGauge.Load())
			return nil
		}))
	return m, err
}

func kindAttr(kind string) metric.AddOption {
	return metric.WithAttributes(attribute.String("kind", kind))
}

func (m *metrics) intent(ctx context.Context, op, outcome string) {
	attrs := []attribute.KeyValue{attribute.String("op", op), attribute.String("outcome", outcome)}
	m.intents.Add(ctx, 1, metric.WithAttributes(attrs...))
	// The batch span (trace.go) tells what became of each of its intents.
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("intent settled", trace.WithAttributes(attrs...))
	}
}

// applied records the event lag of an intent acked as applied (its fact
// was just published): from the end of the pass the intent came from
// (ObservedAt; absent for intents of no pass or from an older reconciler)
// to now. Facts published again for an earlier write are not counted.
func (m *metrics) applied(ctx context.Context, it *item, outcome string, now time.Time) {
	if it.in == nil || it.in.ObservedAt.IsZero() || !it.done || outcome != string(it.factOp) {
		return
	}
	lag := max(now.Sub(it.in.ObservedAt).Seconds(), 0) // clocks of two hosts
	m.lag.Record(ctx, lag, metric.WithAttributes(
		attribute.String("provider", string(it.in.Scope.Provider)), attribute.String("op", outcome)))
}

// httpClient is the JumpServer client's HTTP client: the transport the
// client would build, measured.
func (m *metrics) httpClient(cfg Config) *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.JumpServer.Concurrency * 2,
		MaxIdleConnsPerHost:   cfg.JumpServer.Concurrency * 2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if !cfg.JumpServer.VerifySSL {
		t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // explicit verify_ssl: false
	}
	return &http.Client{Transport: &meteredTransport{next: t, m: m}}
}

type meteredTransport struct {
	next http.RoundTripper
	m    *metrics
}

func (t *meteredTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	outcome := "error"
	if err == nil {
		outcome = strconv.Itoa(resp.StatusCode/100) + "xx"
	}
	attrs := metric.WithAttributes(attribute.String("method", r.Method), attribute.String("outcome", outcome))
	t.m.calls.Add(r.Context(), 1, attrs)
	t.m.latency.Record(r.Context(), time.Since(start).Seconds(), attrs)
	return resp, err
}

func itoa(n int) string { return strconv.Itoa(n) }
