package collector

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/jmssync/jmssync/libs/events"
)

// The metrics reach Prometheus under the documented names and labels.
func TestMetricsAsPrometheusSeesThem(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })

	_, _, js := startBus(t)
	good, bad := newFakeSource("acct-1"), newFakeSource("acct-2")
	good.set("cn-hangzhou", genInstances(scope("acct-1", "cn-hangzhou"), 250))
	bad.listErr["cn-hangzhou"] = &ListError{Reason: events.ReasonThrottled, Detail: "throttled", Calls: 7}
	r := newRunner(t, js, Options{MeterProvider: mp})
	closes := r.RunCycle(t.Context(), append(targetsFor("acct-1", good, "cn-hangzhou"), targetsFor("acct-2", bad, "cn-hangzhou")...))
	if len(closes) != 2 {
		t.Fatalf("closes = %+v", closes)
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	find := func(name string, labels map[string]string) *dto.Metric {
		t.Helper()
		f := byName[name]
		if f == nil {
			var names []string
			for n := range byName {
				names = append(names, n)
			}
			slices.Sort(names)
			t.Fatalf("no metric %s among %v", name, names)
		}
	next:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return m
		}
		t.Fatalf("%s has no series with %v", name, labels)
		return nil
	}

	complete := find("jmssync_collector_passes_total", map[string]string{"provider": "aliyun", "account": "acct-1", "region": "cn-hangzhou", "status": "complete", "reason": ""})
	failed := find("jmssync_collector_passes_total", map[string]string{"account": "acct-2", "status": "failed", "reason": "throttled"})
	if complete.GetCounter().GetValue() != 1 || failed.GetCounter().GetValue() != 1 {
		t.Errorf("passes: complete %v, failed %v", complete.GetCounter().GetValue(), failed.GetCounter().GetValue())
	}
	if v := find("jmssync_collector_instances", map[string]string{"account": "acct-1", "region": "cn-hangzhou"}).GetGauge().GetValue(); v != 250 {
		t.Errorf("instances = %v, want 250", v)
	}
	if v := find("jmssync_collector_api_calls_total", map[string]string{"provider": "aliyun", "outcome": "throttled"}).GetCounter().GetValue(); v != 1 {
		t.Errorf("throttled calls = %v", v)
	}
	if v := find("jmssync_collector_api_calls_total", map[string]string{"outcome": "ok"}).GetCounter().GetValue(); v < 4 {
		t.Errorf("ok calls = %v", v)
	}
	if h := find("jmssync_collector_pass_duration_seconds", map[string]string{"status": "complete"}).GetHistogram(); h.GetSampleCount() != 1 {
		t.Errorf("duration histogram count = %d", h.GetSampleCount())
	}
	at, _ := r.LastComplete(scope("acct-1", "cn-hangzhou"))
	ts := find("jmssync_collector_last_complete_pass_timestamp_seconds", map[string]string{"account": "acct-1", "region": "cn-hangzhou"}).GetGauge().GetValue()
	if int64(ts) != at.Unix() {
		t.Errorf("last complete timestamp = %v, want %d", ts, at.Unix())
	}
}
