// Package simnet holds what every simulator needs from the network: a
// loopback HTTP listener that tests can start and forget, and a recorder of
// the requests a simulator served, so that tests and benchmarks can count
// what our code cost the system on the other side.
package simnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// Server is an http.Handler served on a loopback address.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:39517", without a trailing slash.
	URL string
	// Addr is the host:port the listener is bound to.
	Addr string

	srv  *http.Server
	done chan struct{}
}

// Listen serves h on addr. An empty addr means a random port on 127.0.0.1.
// Only loopback addresses are accepted: simulators never face a network.
func Listen(addr string, h http.Handler) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("simnet: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("simnet: listen address %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("simnet: listen %q: %w", addr, err)
	}
	s := &Server{
		Addr: ln.Addr().String(),
		URL:  "http://" + ln.Addr().String(),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// Serve only fails here if the listener breaks; nothing to report to.
			_ = err
		}
	}()
	return s, nil
}

// Close stops the server, giving in-flight requests a moment to finish.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.done
	return err
}

// StartTest serves h on a random loopback port for the duration of a test
// and returns the base URL. The server stops on t.Cleanup.
func StartTest(t testing.TB, h http.Handler) *Server {
	t.Helper()
	s, err := Listen("", h)
	if err != nil {
		t.Fatalf("simnet: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Entry is one served request as the recorder saw it.
type Entry struct {
	Time     time.Time     `json:"time"`
	Method   string        `json:"method"`
	Path     string        `json:"path"`
	Query    string        `json:"query,omitempty"`
	Status   int           `json:"status"`
	Duration time.Duration `json:"duration_ns"`
}

// Recorder counts requests by "METHOD route" and keeps the most recent ones.
// The route is given by the simulator (a path template such as
// "/api/v1/assets/hosts/{id}/") so that counts do not explode by id.
type Recorder struct {
	mu     sync.Mutex
	counts map[string]int64
	log    []Entry
	next   int
	full   bool
}

// NewRecorder keeps the last logSize requests (at least 1).
func NewRecorder(logSize int) *Recorder {
	if logSize < 1 {
		logSize = 1
	}
	return &Recorder{counts: map[string]int64{}, log: make([]Entry, logSize)}
}

// Record notes one request under its route.
func (r *Recorder) Record(route string, e Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[e.Method+" "+route]++
	r.log[r.next] = e
	r.next++
	if r.next == len(r.log) {
		r.next, r.full = 0, true
	}
}

// Counts returns a copy of the counters, keyed "METHOD route".
func (r *Recorder) Counts() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// Total returns the number of requests whose method is one of methods
// (all requests when none is given).
func (r *Recorder) Total(methods ...string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for k, v := range r.counts {
		if len(methods) == 0 {
			n += v
			continue
		}
		for _, m := range methods {
			if len(k) > len(m) && k[:len(m)] == m && k[len(m)] == ' ' {
				n += v
			}
		}
	}
	return n
}

// Log returns the recorded requests, oldest first.
func (r *Recorder) Log() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Entry
	if r.full {
		out = append(out, r.log[r.next:]...)
	}
	out = append(out, r.log[:r.next]...)
	return out
}

// Reset clears counters and the log.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts = map[string]int64{}
	for i := range r.log {
		r.log[i] = Entry{}
	}
	r.next, r.full = 0, false
}

// SortedKeys returns the counter keys in order, for stable reports.
func SortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// StatusWriter remembers the status code a handler wrote.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records the status.
func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write defaults the status to 200 as net/http does.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Endpoint is what a simulator's Server embeds to be served: the address
// once listening, and Close. The simulator's own Listen and Start call
// Serve and ServeTest with itself as the handler.
type Endpoint struct {
	// URL ("http://127.0.0.1:PORT") and Addr ("127.0.0.1:PORT") are set
	// once served.
	URL  string
	Addr string
	srv  *Server
}

// Serve serves h on addr ("" = a random loopback port) until Close.
func (e *Endpoint) Serve(addr string, h http.Handler) error {
	s, err := Listen(addr, h)
	if err != nil {
		return err
	}
	e.srv, e.URL, e.Addr = s, s.URL, s.Addr
	return nil
}

// ServeTest serves h on a random loopback port until the test ends.
func (e *Endpoint) ServeTest(t testing.TB, h http.Handler) {
	t.Helper()
	s := StartTest(t, h)
	e.srv, e.URL, e.Addr = s, s.URL, s.Addr
}

// Close stops serving (a no-op when never served).
func (e *Endpoint) Close() error {
	if e.srv == nil {
		return nil
	}
	return e.srv.Close()
}
