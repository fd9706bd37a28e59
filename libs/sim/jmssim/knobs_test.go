package jmssim

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func TestLatencyAndWorkers(t *testing.T) {
	s := Start(t, Options{Knobs: Knobs{Latency: 40 * time.Millisecond, Workers: 2}})
	c := newClient(t, s)
	burst := func() { // 6 concurrent list requests
		var wg sync.WaitGroup
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.must(200, "GET", "/api/v1/assets/hosts/?limit=1", nil)
			}()
		}
		wg.Wait()
	}
	start := time.Now()
	burst()
	el := time.Since(start)
	// 6 requests through 2 workers of 40 ms each: at least 3 rounds
	if el < 115*time.Millisecond {
		t.Fatalf("6 requests took %v with 2 workers", el)
	}
	if m := s.Counters().MaxInFlight; m != 2 {
		t.Fatalf("max in flight %d", m)
	}
	// raise the cap at run time
	s.ResetCounters()
	s.UpdateKnobs(func(k *Knobs) { k.Workers = 0; k.Latency = 30 * time.Millisecond })
	start = time.Now()
	burst()
	if el := time.Since(start); el > 150*time.Millisecond && s.Counters().MaxInFlight < 3 {
		t.Fatalf("unlimited workers still serialised: %v, max %d", el, s.Counters().MaxInFlight)
	}
	// per-item cost inside a bulk create
	s.SetKnobs(Knobs{PerItemCost: 2 * time.Millisecond})
	items := make([]any, 30)
	for i := range items {
		items[i] = host("cost-"+string(rune('a'+i%26))+strings.Repeat("x", i/26), "1")
	}
	start = time.Now()
	c.must(201, "POST", "/api/v1/assets/hosts/", items)
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Fatalf("30 items at 2 ms took %v", el)
	}
}

func TestErrorRateOutageThrottle(t *testing.T) {
	clk := &fakeClock{t: time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC)}
	s := Start(t, Options{Clock: clk.Now, Seed: 42})
	c := newClient(t, s)

	s.SetKnobs(Knobs{ErrorRate: 0.5})
	n500 := 0
	for i := 0; i < 200; i++ {
		switch r := c.do("GET", "/api/v1/assets/hosts/?limit=1", nil); r.status {
		case 500:
			jsonEq(t, r.body, `{"error":"Server internal error"}`)
			n500++
		case 200:
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	if n500 < 60 || n500 > 140 || s.Counters().Injected500 != int64(n500) {
		t.Fatalf("%d injected 500s of 200", n500)
	}
	s.SetKnobs(Knobs{})

	// outage started mid-run, then ended
	s.SetOutage(true)
	r := c.do("GET", "/api/v1/assets/hosts/?limit=1", nil)
	if r.status != 503 {
		t.Fatalf("outage: %d", r.status)
	}
	s.SetOutage(false)
	c.must(200, "GET", "/api/v1/assets/hosts/?limit=1", nil)
	// an outage window on the simulator clock
	s.OutageFor(time.Minute)
	c.must(503, "GET", "/api/v1/assets/hosts/?limit=1", nil)
	clk.Add(61 * time.Second)
	c.must(200, "GET", "/api/v1/assets/hosts/?limit=1", nil)

	// throttling: 3 per minute per user, shared by every endpoint
	s.SetKnobs(Knobs{ThrottlePerMinute: 3})
	c.must(200, "GET", "/api/v1/assets/hosts/?limit=1", nil)
	clk.Add(10 * time.Second)
	c.must(200, "GET", "/api/v1/assets/nodes/", nil)
	c.must(200, "GET", "/api/v1/assets/platforms/", nil)
	r = c.must(429, "GET", "/api/v1/assets/hosts/?limit=1", nil)
	jsonEq(t, r.body, `{"detail":"Request was throttled. Expected available in 50 seconds.","code":"throttled"}`)
	if r.header.Get("Retry-After") != "50" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// 401s do not use budget, and are answered before throttling
	bad := *c
	bad.secret = "wrong"
	bad.must(401, "GET", "/api/v1/assets/hosts/", nil)
	clk.Add(51 * time.Second)
	c.must(200, "GET", "/api/v1/assets/hosts/?limit=1", nil)
	if s.Counters().Throttled != 1 {
		t.Fatalf("throttled %d", s.Counters().Throttled)
	}
}

func TestDropAfterCommit(t *testing.T) {
	s := Start(t, Options{})
	c := newClient(t, s)
	c.hc.Timeout = 300 * time.Millisecond
	s.DropNextWrites(1)
	const id = "5b0d2a64-6c3c-5f1e-9a51-0f1b7c9d0abc"
	h := host("dropped", "10.5.0.1")
	h["id"] = id
	body := strings.NewReader(`{"name":"dropped","address":"10.5.0.1","platform":1,"id":"` + id + `"}`)
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/assets/hosts/", body)
	req.Header.Set("Content-Type", "application/json")
	testSign(req, DefaultKeyID, DefaultSecret)
	_, err := c.hc.Do(req)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("want a client timeout, got %v", err)
	}
	if _, ok := s.Asset(id); !ok {
		t.Fatal("the write did not commit")
	}
	// the retry finds the id taken; a read by id shows the asset
	c.must(400, "POST", "/api/v1/assets/hosts/", h)
	c.must(200, "GET", "/api/v1/assets/hosts/"+id+"/", nil)
	if s.Counters().Dropped != 1 {
		t.Fatalf("dropped %d", s.Counters().Dropped)
	}
	// "close": the connection is closed without a response
	s.UpdateKnobs(func(k *Knobs) { k.DropNextWrites, k.DropAction = 1, "close" })
	req, _ = http.NewRequest("POST", s.URL+"/api/v1/assets/hosts/", strings.NewReader(`{"name":"closed","address":"1","platform":1}`))
	testSign(req, DefaultKeyID, DefaultSecret)
	if _, err := c.hc.Do(req); err == nil {
		t.Fatal("want a connection error")
	}
	if len(s.FindAssets("", "closed")) != 1 {
		t.Fatal("closed write not committed")
	}
}

// Two concurrent creates of one name both pass validation while the
// per-item cost elapses; the second insert fails like a unique constraint.
func TestConcurrentDuplicateCreate(t *testing.T) {
	s := Start(t, Options{Knobs: Knobs{PerItemCost: 50 * time.Millisecond}})
	c := newClient(t, s)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = c.do("POST", "/api/v1/assets/hosts/", host("race", "1")).status
		}()
	}
	wg.Wait()
	if !(codes[0] == 201 && codes[1] == 500 || codes[0] == 500 && codes[1] == 201) {
		t.Fatalf("codes %v", codes)
	}
	if s.AssetCount("") != 1 {
		t.Fatalf("count %d", s.AssetCount(""))
	}
}
