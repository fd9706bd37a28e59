package jmssim

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jmssync/jmssync/libs/sim/simnet"
)

// Server is a JumpServer v4 REST API simulator. It is an http.Handler; use
// Start (tests) or Listen (binaries) to serve it on loopback.
type Server struct {
	opts Options

	mu       sync.RWMutex // guards st and counters
	st       *store
	counters storeCounters

	km    sync.Mutex
	knobs Knobs

	rngMu sync.Mutex
	rng   *mrand.Rand

	rec  *simnet.Recorder
	pool workerPool
	req  reqCounters

	thMu     sync.Mutex
	throttle map[string][]time.Time

	platforms  []*platform
	platByID   map[int]*platform
	platByName map[string]*platform

	started time.Time
	tz      *time.Location
	closing chan struct{}
	closeMu sync.Once

	tab    tables // the per-org resources' handlers (table.go)
	routes []route

	srv *simnet.Server
	// URL is the base URL once served (Start/Listen), without a trailing slash.
	URL string
}

type storeCounters struct {
	assetsCreated, assetsUpdated, assetsDeleted int64
	nodesCreated, labelsCreated                 int64
	ping, gatherFacts, accountPush              int64
	accountsCreated                             int64
}

type reqCounters struct {
	throttled, injected500, outage503, dropped, unauthorized, forbidden atomic.Int64
	inFlight, maxInFlight                                               atomic.Int64
}

// New builds a simulator. It does not listen; see Start and Listen.
func New(o Options) *Server {
	o = o.withDefaults()
	s := &Server{
		opts:     o,
		knobs:    o.Knobs,
		rng:      mrand.New(mrand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		rec:      simnet.NewRecorder(o.LogSize),
		throttle: map[string][]time.Time{},
		tz:       time.FixedZone("CST", 8*3600),
		closing:  make(chan struct{}),
	}
	s.pool.init()
	s.pool.setLimit(o.Workers)
	s.started = o.Clock()
	s.platforms = builtinPlatforms(o.Version)
	applyPlatformIDs(s.platforms, o.PlatformIDs)
	s.platByID = map[int]*platform{}
	s.platByName = map[string]*platform{}
	for _, p := range s.platforms {
		s.platByID[p.ID] = p
		s.platByName[p.Name] = p
	}
	s.tab = s.newTables()
	s.routes = s.routeTable()
	s.mu.Lock()
	s.newStore()
	s.mu.Unlock()
	return s
}

// Start serves a new simulator on a random loopback port for the duration
// of a test; it stops on t.Cleanup.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := New(o)
	s.srv = simnet.StartTest(t, s)
	s.URL = s.srv.URL
	t.Cleanup(s.shutdown) // runs before simnet's Close (LIFO)
	return s
}

// Listen serves the simulator on addr (loopback only; "" = random port).
// Close stops it.
func (s *Server) Listen(addr string) error {
	srv, err := simnet.Listen(addr, s)
	if err != nil {
		return err
	}
	s.srv = srv
	s.URL = srv.URL
	return nil
}

// Close stops a server started with Listen.
func (s *Server) Close() error {
	s.shutdown()
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

func (s *Server) shutdown() { s.closeMu.Do(func() { close(s.closing) }) }

// BaseURL returns the URL the simulator is served on.
func (s *Server) BaseURL() string { return s.URL }

// Options returns the options the simulator was built with (defaults filled in).
func (s *Server) Options() Options { return s.opts }

func (s *Server) v47() bool { return s.opts.Version == V47 }

func (s *Server) now() time.Time { return s.opts.Clock() }

// newID returns a random (seeded) UUIDv4. Callers may hold s.mu.
func (s *Server) newID() string {
	s.rngMu.Lock()
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := s.rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	s.rngMu.Unlock()
	u, _ := uuid.FromBytes(b[:])
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u.String()
}

func (s *Server) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}

// Knobs returns the current knobs.
func (s *Server) Knobs() Knobs {
	s.km.Lock()
	defer s.km.Unlock()
	k := s.knobs
	k.Outages = append([]Window(nil), k.Outages...)
	return k
}

// SetKnobs replaces the knobs.
func (s *Server) SetKnobs(k Knobs) {
	s.km.Lock()
	k.Outages = append([]Window(nil), k.Outages...)
	s.knobs = k
	s.km.Unlock()
	s.pool.setLimit(k.Workers)
}

// UpdateKnobs edits the knobs in place, atomically.
func (s *Server) UpdateKnobs(edit func(*Knobs)) {
	s.km.Lock()
	edit(&s.knobs)
	w := s.knobs.Workers
	s.km.Unlock()
	s.pool.setLimit(w)
}

// SetOutage starts (true) or ends (false) an outage: every API request gets 503.
func (s *Server) SetOutage(on bool) { s.UpdateKnobs(func(k *Knobs) { k.Outage = on }) }

// OutageFor starts an outage window of length d on the simulator's clock.
func (s *Server) OutageFor(d time.Duration) {
	now := s.now()
	s.UpdateKnobs(func(k *Knobs) { k.Outages = append(k.Outages, Window{From: now, Until: now.Add(d)}) })
}

// DropNextWrites makes the next n successful writes commit and then drop
// their response.
func (s *Server) DropNextWrites(n int) { s.UpdateKnobs(func(k *Knobs) { k.DropNextWrites = n }) }

func (s *Server) inOutage(k *Knobs) bool {
	if k.Outage {
		return true
	}
	if len(k.Outages) == 0 {
		return false
	}
	now := s.now()
	for _, w := range k.Outages {
		if !now.Before(w.From) && (w.Until.IsZero() || now.Before(w.Until)) {
			return true
		}
	}
	return false
}

// takeDrop decides whether a successful write drops its response.
func (s *Server) takeDrop() bool {
	s.km.Lock()
	if s.knobs.DropNextWrites > 0 {
		s.knobs.DropNextWrites--
		s.km.Unlock()
		return true
	}
	p := s.knobs.DropRate
	s.km.Unlock()
	return s.chance(p)
}

// workerPool is a semaphore whose size can change at run time.
type workerPool struct {
	mu    sync.Mutex
	inUse int
	limit int
	wake  chan struct{}
}

func (p *workerPool) init() { p.wake = make(chan struct{}) }

func (p *workerPool) setLimit(n int) {
	p.mu.Lock()
	p.limit = n
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

func (p *workerPool) acquire(ctx context.Context) bool {
	for {
		p.mu.Lock()
		if p.limit <= 0 || p.inUse < p.limit {
			p.inUse++
			p.mu.Unlock()
			return true
		}
		ch := p.wake
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

func (p *workerPool) release() {
	p.mu.Lock()
	p.inUse--
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// bufWriter buffers a response so that it can be dropped after a commit.
type bufWriter struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufWriter) Header() http.Header { return b.h }
func (b *bufWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = 200
	}
	return b.buf.Write(p)
}
func (b *bufWriter) WriteHeader(c int) {
	if b.status == 0 {
		b.status = c
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") || r.URL.Path == "/_sim" {
		s.serveControl(w, r)
		return
	}
	start := time.Now()
	sw := &simnet.StatusWriter{ResponseWriter: w}
	route := "unknown"
	defer func() {
		st := sw.Status
		s.rec.Record(route, simnet.Entry{Time: s.now(), Method: r.Method, Path: r.URL.Path,
			Query: r.URL.RawQuery, Status: st, Duration: time.Since(start)})
	}()
	k := s.Knobs()
	if s.inOutage(&k) {
		s.req.outage503.Add(1)
		sw.Header().Set("Content-Type", "text/html")
		sw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = sw.Write([]byte("<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n" +
			"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"))
		return
	}
	ctx := r.Context()
	if !s.pool.acquire(ctx) {
		return
	}
	released := false
	release := func() {
		if !released {
			released = true
			s.req.inFlight.Add(-1) // before the slot frees: MaxInFlight never exceeds Workers
			s.pool.release()
		}
	}
	defer release()
	if n := s.req.inFlight.Add(1); n > s.req.maxInFlight.Load() {
		for {
			m := s.req.maxInFlight.Load()
			if n <= m || s.req.maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
	}
	if !sleepCtx(ctx, k.Latency) {
		return
	}
	if s.chance(k.ErrorRate) {
		s.req.injected500.Add(1)
		s.serverError(sw, r)
		return
	}

	if !isWrite(r.Method) {
		// reads are streamed; only writes are buffered (they may be dropped)
		route = s.dispatch(&rctx{s: s, w: sw, r: r, knobs: &k})
		return
	}
	bw := &bufWriter{h: http.Header{}}
	c := &rctx{s: s, w: bw, r: r, knobs: &k}
	route = s.dispatch(c)
	if bw.status == 0 {
		bw.status = 200
	}
	if isWrite(r.Method) && bw.status >= 200 && bw.status < 300 && c.authed && s.takeDrop() {
		s.req.dropped.Add(1)
		release()
		sw.Status = 0 // nothing was sent
		if k.DropAction == "close" {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		return
	}
	for k, v := range bw.h {
		sw.Header()[k] = v
	}
	sw.WriteHeader(bw.status)
	_, _ = sw.Write(bw.buf.Bytes())
}

func isWrite(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch || m == http.MethodDelete
}

// rctx is one API request on its way through the simulator.
type rctx struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	knobs  *Knobs
	q      url.Values
	org    *org // nil: the root org
	user   string
	ro     bool
	authed bool
	args   []string

	commitErr *commitErr
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Allow", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (c *rctx) json(status int, v any) { c.s.writeJSON(c.w, status, v) }

// detail writes {"detail":…,"code":…}.
func (c *rctx) detail(status int, detail, code string) {
	c.json(status, map[string]string{"detail": detail, "code": code})
}

func (c *rctx) notFoundObj(model string) {
	c.detail(404, c.s.msg(MsgNotExist, model), "object_does_not_exist")
}

func (c *rctx) errorMsg(status int, msg string) { c.json(status, map[string]string{"error": msg}) }

func (s *Server) serverError(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		s.writeJSON(w, 500, map[string]string{"error": s.msg(MsgServerError)})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(500)
	_, _ = w.Write([]byte("<!doctype html>\n<html lang=\"en\"><head><title>Server Error (500)</title></head>" +
		"<body><h1>Server Error (500)</h1><p></p></body></html>\n"))
}

func (s *Server) unknownRoute(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		s.writeJSON(w, 404, map[string]string{"error": "Not found"})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(404)
	_, _ = w.Write([]byte("<!doctype html>\n<html lang=\"en\"><head><title>Not Found</title></head>" +
		"<body><h1>Not Found</h1><p>The requested resource was not found on this server.</p></body></html>\n"))
}

// checkThrottle applies the per-user sliding-window budget (DRF
// SimpleRateThrottle semantics). It reports the wait in seconds, or 0.
func (s *Server) checkThrottle(user string, rate int) int {
	if rate <= 0 {
		return 0
	}
	now := s.now()
	const dur = time.Minute
	s.thMu.Lock()
	defer s.thMu.Unlock()
	h := s.throttle[user]
	i := 0
	for i < len(h) && !h[i].After(now.Add(-dur)) {
		i++
	}
	h = h[i:]
	if len(h) >= rate {
		s.throttle[user] = h
		remaining := dur - now.Sub(h[0])
		avail := rate - len(h) + 1
		wait := remaining.Seconds()
		if avail > 0 {
			wait /= float64(avail)
		}
		n := int(math.Ceil(wait))
		if n < 1 {
			n = 1
		}
		return n
	}
	s.throttle[user] = append(h, now)
	return 0
}

// fmtTime formats a time as JumpServer does ("2006/01/02 15:04:05 -0700"),
// in Asia/Shanghai unless the request asked for X-TZ: UTC.
func (s *Server) fmtTime(t time.Time, r *http.Request) string {
	loc := s.tz
	if r != nil && strings.EqualFold(r.Header.Get("X-TZ"), "UTC") {
		loc = time.UTC
	}
	return t.In(loc).Format("2006/01/02 15:04:05 -0700")
}
