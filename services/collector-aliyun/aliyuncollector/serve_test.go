package aliyuncollector

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jmssync/jmssync/libs/collector/collectortest"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

// TestServeEndToEnd runs the service as main does: readiness, a pass on
// demand through the trigger subject, metrics, and a clean stop that hands
// its leases back.
func TestServeEndToEnd(t *testing.T) {
	f := newFixture(t, []string{"cn-hangzhou"}, 50)
	_, url := natstest.Start(t)
	addr := freeAddr(t)
	cfg := f.load(t, map[string]string{
		"JMSSYNC_NATS_URL":  url,
		"JMSSYNC_HTTP_ADDR": addr,
		"JMSSYNC_INTERVAL":  "1h", // only the trigger may start a cycle soon
		"JMSSYNC_JITTER":    "0s",
		"JMSSYNC_REPLICA":   "serve-test",
	})
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, f.log) }()

	collectortest.WaitFor(t, 10*time.Second, "/readyz 200", func() bool { return get(t, "http://"+addr+"/readyz") == 200 })

	nc, js := natstest.Dial(t, url)
	// The first cycle starts at once; a trigger must be answered and run another.
	reply, err := nc.Request(natsx.TriggerSubject("aliyun"), []byte(`{"region":"cn-hangzhou"}`), 5*time.Second)
	if err != nil || !strings.Contains(string(reply.Data), "queued") {
		t.Fatalf("trigger: %v %s", err, replyText(reply))
	}
	collectortest.WaitFor(t, 15*time.Second, "two complete passes", func() bool {
		passes, _ := collectortest.ReadPasses(t, js)
		n := 0
		for _, p := range passes {
			if p.Close.Status == events.PassComplete && p.Close.InstanceCount == 50 {
				n++
			}
		}
		return n >= 2
	})
	body := getBody(t, "http://"+addr+"/metrics")
	for _, m := range []string{"jmssync_collector_passes_total", "jmssync_collector_instances", "jmssync_collector_pass_duration_seconds"} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	// A clean stop releases the region lease for the next replica at once.
	kv, err := js.KeyValue(t.Context(), natsx.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	lease := natsx.LeaseKey(natsx.Scope{Provider: "aliyun", Account: "prod", Region: "cn-hangzhou"})
	if e, err := kv.Get(t.Context(), lease); err == nil {
		t.Fatalf("lease still held after a clean stop: %s", e.Value())
	}
}

func replyText(m *nats.Msg) string {
	if m == nil {
		return ""
	}
	return string(m.Data)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
