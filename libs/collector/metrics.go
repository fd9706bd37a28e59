package collector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// Metric names. The OpenTelemetry Prometheus exporter (libs/telemetry) turns
// dots into underscores, appends _total to counters and the unit (s →
// _seconds; units in braces are dropped), so these are exported as:
//
//	jmssync_collector_passes_total{provider,account,region,status,reason}
//	jmssync_collector_instances{provider,account,region}          last complete pass
//	jmssync_collector_api_calls_total{provider,outcome}
//	jmssync_collector_pass_duration_seconds{provider,status}      histogram
//	jmssync_collector_last_complete_pass_timestamp_seconds{provider,account,region}
const (
	MetricPasses       = "jmssync.collector.passes"
	MetricInstances    = "jmssync.collector.instances"
	MetricAPICalls     = "jmssync.collector.api_calls"
	MetricPassDuration = "jmssync.collector.pass.duration"
	MetricLastComplete = "jmssync.collector.last_complete_pass.timestamp"
)

// Outcome label values of the API call counter besides failure reasons.
const (
	outcomeOK    = "ok"
	outcomeError = "error"
)

type metrics struct {
	provider     string
	passes       metric.Int64Counter
	instances    metric.Int64Gauge
	apiCalls     metric.Int64Counter
	duration     metric.Float64Histogram
	lastComplete metric.Float64Gauge
}

func newMetrics(m metric.Meter, provider asset.Provider) (*metrics, error) {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	out := &metrics{provider: string(provider)}
	var err error
	out.passes, err = m.Int64Counter(MetricPasses, metric.WithUnit("{pass}"),
		metric.WithDescription("Passes finished, by scope, status and failure reason."))
	add(err)
	out.instances, err = m.Int64Gauge(MetricInstances, metric.WithUnit("{instance}"),
		metric.WithDescription("Instances listed by the last complete pass of the scope."))
	add(err)
	out.apiCalls, err = m.Int64Counter(MetricAPICalls, metric.WithUnit("{call}"),
		metric.WithDescription("Cloud API calls (retries included), by outcome: ok or the failure reason."))
	add(err)
	out.duration, err = m.Float64Histogram(MetricPassDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of passes, by status."),
		metric.WithExplicitBucketBoundaries(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600))
	add(err)
	out.lastComplete, err = m.Float64Gauge(MetricLastComplete, metric.WithUnit("s"),
		metric.WithDescription("Unix time at which the last complete pass of the scope finished."))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("collector: metrics: %w", err)
	}
	return out, nil
}

func (m *metrics) scopeAttrs(sc events.Scope, extra ...attribute.KeyValue) metric.MeasurementOption {
	return metric.WithAttributes(append([]attribute.KeyValue{
		attribute.String("provider", m.provider),
		attribute.String("account", sc.AccountID),
		attribute.String("region", sc.Region),
	}, extra...)...)
}

// pass records a finished pass.
func (m *metrics) pass(ctx context.Context, sc events.Scope, status events.PassStatus, reason string, d time.Duration) {
	m.passes.Add(ctx, 1, m.scopeAttrs(sc, attribute.String("status", string(status)), attribute.String("reason", reason)))
	m.duration.Record(ctx, d.Seconds(), metric.WithAttributes(
		attribute.String("provider", m.provider), attribute.String("status", string(status))))
}

// complete records the instance count and finish time of a complete pass.
func (m *metrics) complete(ctx context.Context, sc events.Scope, instances int, finished time.Time) {
	m.instances.Record(ctx, int64(instances), m.scopeAttrs(sc))
	m.lastComplete.Record(ctx, float64(finished.UnixNano())/1e9, m.scopeAttrs(sc))
}

// calls counts n API calls with outcome.
func (m *metrics) calls(ctx context.Context, n int64, outcome string) {
	if n <= 0 {
		return
	}
	m.apiCalls.Add(ctx, n, metric.WithAttributes(attribute.String("provider", m.provider), attribute.String("outcome", outcome)))
}

// outcomeOf is the API call outcome of a Source error: its reason code.
func outcomeOf(err error) string {
	var le *ListError
	if errors.As(err, &le) && reasonRE.MatchString(le.Reason) {
		return le.Reason
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return events.ReasonTimeout
	}
	return outcomeError
}
