package jumpserver

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

type stateLog struct {
	mu  sync.Mutex
	seq []string
}

func (l *stateLog) add(from, to BreakerState) {
	l.mu.Lock()
	l.seq = append(l.seq, from.String()+">"+to.String())
	l.mu.Unlock()
}

func (l *stateLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.seq, " ")
}

func TestBreakerOpensOnOutageAndCloses(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	log := &stateLog{}
	c, _ := startedClient(t, s, func(c *Config) {
		c.Breaker = BreakerConfig{Failures: 3, OpenTimeout: time.Second}
		c.OnStateChange = log.add
		c.BatchSize = 10
	})
	ctx := t.Context()
	id := assetID(1)
	s.SetOutage(true)
	var lastErr error
	for range 20 {
		_, lastErr = c.GetHost(ctx, id)
	}
	res := c.CreateHosts(ctx, hostsFor(50, 0, "web", 1))
	if n := s.Counters().Outage503; n != 3 {
		t.Fatalf("%d requests reached the server during the outage, want 3 (the threshold)", n)
	}
	if !errors.Is(lastErr, ErrBreakerOpen) || !IsGlobal(lastErr) || !IsTransient(lastErr) || KindOf(lastErr) != KindUnavailable {
		t.Fatalf("while open: %v", lastErr)
	}
	for _, r := range res {
		if r.Status != ItemFailed || !errors.Is(r.Err, ErrBreakerOpen) {
			t.Fatalf("create while open: %+v", r)
		}
	}
	if c.BreakerState() != BreakerOpen {
		t.Fatalf("state %s", c.BreakerState())
	}

	s.SetOutage(false)
	time.Sleep(1100 * time.Millisecond)
	if _, err := c.GetHost(ctx, id); !IsNotFound(err) { // the probe gets an answer (404 = healthy)
		t.Fatalf("probe: %v", err)
	}
	if c.BreakerState() != BreakerClosed {
		t.Fatalf("state %s", c.BreakerState())
	}
	if got := log.String(); got != "closed>open open>half-open half-open>closed" {
		t.Fatalf("transitions %q", got)
	}
	mustStatus(t, c.CreateHosts(ctx, hostsFor(5, 0, "web", 1)), ItemCreated)
}

func TestBreakerIgnoresClientErrors(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	c, _ := startedClient(t, s, func(c *Config) { c.Breaker.Failures = 2 })
	for range 10 {
		if _, err := c.GetHost(t.Context(), assetID(5)); !IsNotFound(err) {
			t.Fatal(err)
		}
	}
	if c.BreakerState() != BreakerClosed {
		t.Fatalf("404s opened the breaker")
	}
}

// A 429 holds the client until Retry-After, then the call goes through.
func TestThrottleHonoursRetryAfter(t *testing.T) {
	sim := jmssim.New(jmssim.Options{})
	noPut(t, sim)
	var throttled atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == hostsPath && throttled.CompareAndSwap(false, true) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"detail":"Request was throttled. Expected available in 1 second.","code":"throttled"}`))
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig(sim)
	cfg.URL = srv.URL
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.ListHosts(t.Context(), ListOptions{}, func([]Host) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Fatalf("waited %s, want about 1s", d)
	}
	if !throttled.Load() || sim.Counters().Requests["GET /api/v1/assets/hosts/"] != 1 {
		t.Fatalf("requests %v", sim.Counters().Requests)
	}
}

// A Retry-After beyond MaxRetryAfter is reported at once as KindThrottled,
// and 429s never open the breaker.
func TestThrottleBeyondBoundIsReported(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	c, _ := startedClient(t, s, func(c *Config) { c.MaxRetryAfter = 2 * time.Second; c.Breaker.Failures = 2 })
	s.UpdateKnobs(func(k *jmssim.Knobs) { k.ThrottlePerMinute = 3 })
	var err error
	start := time.Now()
	for range 6 {
		_, err = c.GetHost(t.Context(), assetID(1))
	}
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindThrottled || e.RetryAfter <= 2*time.Second || !IsTransient(err) || IsGlobal(err) {
		t.Fatalf("err %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("waited %s on a hint beyond the bound", time.Since(start))
	}
	if c.BreakerState() != BreakerClosed || s.Counters().Throttled != 3 {
		t.Fatalf("breaker %s, throttled %d", c.BreakerState(), s.Counters().Throttled)
	}
}
