package reconciler

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// metrics of the service (Prometheus through libs/telemetry):
//
//	jmssync.reconciler.passes.verified      counter, by verdict (usable, failed, suspicious, ignored, unconfigured)
//	jmssync.reconciler.intents              counter, by op
//	jmssync.reconciler.alerts               counter, by kind (cycles only; pass alerts are counted as verdicts)
//	jmssync.reconciler.deletions.held       gauge: identities in held plans, all scopes
//	jmssync.reconciler.pass.age             gauge per scope: seconds since the last usable pass finished
//	jmssync.reconciler.cycle.duration       histogram, by trigger and outcome
type metrics struct {
	passes   metric.Int64Counter
	intents  metric.Int64Counter
	alerts   metric.Int64Counter
	duration metric.Float64Histogram

	mu       sync.Mutex
	held     int64
	lastPass map[string]time.Time // by scope key, from the last cycle
}

func newMetrics(s *Service) *metrics {
	mt := otel.Meter(instrumentation)
	m := &metrics{lastPass: map[string]time.Time{}}
	m.passes, _ = mt.Int64Counter("jmssync.reconciler.passes.verified",
		metric.WithDescription("Closed passes verified, by verdict."), metric.WithUnit("{pass}"))
	m.intents, _ = mt.Int64Counter("jmssync.reconciler.intents",
		metric.WithDescription("Intents published, by op."), metric.WithUnit("{intent}"))
	m.alerts, _ = mt.Int64Counter("jmssync.reconciler.alerts",
		metric.WithDescription("Alerts raised by cycles, by kind."), metric.WithUnit("{alert}"))
	m.duration, _ = mt.Float64Histogram("jmssync.reconciler.cycle.duration",
		metric.WithDescription("Time to decide and publish one cycle."), metric.WithUnit("s"))
	held, _ := mt.Int64ObservableGauge("jmssync.reconciler.deletions.held",
		metric.WithDescription("Deletions held for confirm, over every scope."), metric.WithUnit("{deletion}"))
	age, _ := mt.Float64ObservableGauge("jmssync.reconciler.pass.age",
		metric.WithDescription("Age of the last usable pass per scope."), metric.WithUnit("s"))
	_, _ = mt.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		o.ObserveInt64(held, m.held)
		now := s.d.Now()
		for k, t := range m.lastPass {
			o.ObserveFloat64(age, now.Sub(t).Seconds(), metric.WithAttributes(attribute.String("scope", k)))
		}
		return nil
	}, held, age)
	return m
}

func (m *metrics) verified(ctx context.Context, verdict string) {
	m.passes.Add(ctx, 1, metric.WithAttributes(attribute.String("verdict", verdict)))
}

func (m *metrics) cycle(ctx context.Context, trigger, outcome string, d time.Duration) {
	m.duration.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("trigger", trigger), attribute.String("outcome", outcome)))
}

// decided records what a cycle published and the state it leaves.
func (m *metrics) decided(ctx context.Context, out *plan.Output) {
	for i := range out.Intents {
		m.intents.Add(ctx, 1, metric.WithAttributes(attribute.String("op", string(out.Intents[i].Op))))
	}
	for i := range out.Alerts {
		m.alerts.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", string(out.Alerts[i].Kind))))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held = 0
	for i := range out.Scopes {
		r := &out.Scopes[i]
		if r.Held != nil {
			m.held += int64(len(r.Held.Identities))
		}
		if v := r.State.Verified; v != nil {
			m.lastPass[plan.ScopeKey(r.Scope)] = v.FinishedAt
		}
	}
}

// Held is the number of deletions held for confirm after the last cycle.
func (s *Service) Held() int64 {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.m.held
}
