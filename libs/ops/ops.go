// Package ops is the small HTTP server every service exposes for operations:
// /healthz (the process is up), /readyz (every registered readiness check
// passes; the JSON body lists each) and /metrics (Prometheus, from
// libs/telemetry). It binds to loopback unless told otherwise.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/telemetry"
)

// DefaultAddr is where Serve listens when given no address.
const DefaultAddr = "127.0.0.1:9464"

// Defaults of Options.
const (
	DefaultCheckTimeout    = 2 * time.Second
	DefaultShutdownTimeout = 5 * time.Second
)

// Check is one readiness check: Fn returns nil when ready, otherwise why
// not (the text is shown on /readyz with registered secrets masked).
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Options configures the handler and server.
type Options struct {
	// Checks run (concurrently) on every /readyz request, in this order in
	// the body.
	Checks []Check
	// Metrics serves /metrics; telemetry.MetricsHandler(nil) when nil.
	Metrics http.Handler
	// CheckTimeout bounds each check (2s when 0).
	CheckTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown of Serve (5s when 0).
	ShutdownTimeout time.Duration
	Logger          zerolog.Logger
	// Pprof also serves net/http/pprof under /debug/pprof/ (off by default:
	// profiles show internals; the ops address is loopback unless changed).
	Pprof bool
}

// CheckResult is one check in the /readyz body.
type CheckResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Readiness is the /readyz body.
type Readiness struct {
	Status string        `json:"status"` // "ready" or "not_ready"
	Checks []CheckResult `json:"checks"`
}

// Handler returns the mux serving /healthz, /readyz and /metrics.
func Handler(o Options) http.Handler {
	if o.Metrics == nil {
		o.Metrics = telemetry.MetricsHandler(nil)
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultCheckTimeout
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rd := Evaluate(r.Context(), o.CheckTimeout, o.Checks)
		code := http.StatusOK
		if rd.Status != "ready" {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, rd)
	})
	mux.Handle("GET /metrics", o.Metrics)
	if o.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// Evaluate runs checks concurrently, each bounded by timeout, and reports
// them in order. No check means ready.
func Evaluate(ctx context.Context, timeout time.Duration, checks []Check) Readiness {
	res := make([]CheckResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			res[i] = CheckResult{Name: c.Name, OK: true}
			if err := runCheck(ctx, timeout, c); err != nil {
				res[i] = CheckResult{Name: c.Name, Error: logging.Redact(err.Error())}
			}
		})
	}
	wg.Wait()
	rd := Readiness{Status: "ready", Checks: res}
	for _, c := range res {
		if !c.OK {
			rd.Status = "not_ready"
		}
	}
	return rd
}

func runCheck(ctx context.Context, timeout time.Duration, c Check) (err error) {
	if c.Fn == nil {
		return errors.New("no check function")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- errors.New("check panicked")
			}
		}()
		done <- c.Fn(ctx)
	}()
	select {
	case err = <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("timed out after %s", timeout)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve listens on addr and serves Handler(o) until ctx ends, then shuts
// down gracefully (in-flight requests get ShutdownTimeout). An empty addr is
// DefaultAddr and an address without a host (":9464") binds to loopback;
// write "0.0.0.0:9464" to listen on every interface. It returns nil after a
// shutdown caused by ctx, or the error that stopped the server (a bind
// failure is reported at once).
func Serve(ctx context.Context, addr string, o Options) error {
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, o)
}

// Listen opens the listener Serve would use for addr.
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ops: address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("ops: listen: %w", err)
	}
	return ln, nil
}

// ServeListener is Serve on an open listener, which it closes.
func ServeListener(ctx context.Context, ln net.Listener, o Options) error {
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	srv := &http.Server{
		Handler:           Handler(o),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	o.Logger.Info().Str("addr", ln.Addr().String()).Msg("ops server listening")
	select {
	case err := <-errc:
		return fmt.Errorf("ops: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("ops: shutdown: %w", err)
	}
	return nil
}

// NATSConnected is a check that the NATS connection is up.
func NATSConnected(nc *nats.Conn) Check {
	return Check{Name: "nats", Fn: func(context.Context) error {
		if nc == nil {
			return errors.New("no connection")
		}
		if !nc.IsConnected() {
			return fmt.Errorf("not connected (%s)", nc.Status())
		}
		return nil
	}}
}

// Flag is a readiness condition a service sets once reached (topology
// ensured, mirror rebuilt…), and may clear again. The zero value is unset.
type Flag struct {
	set    atomic.Bool
	reason atomic.Pointer[string]
}

// Set marks the condition reached.
func (f *Flag) Set() { f.set.Store(true) }

// Clear marks it not reached, with why.
func (f *Flag) Clear(why string) {
	f.reason.Store(&why)
	f.set.Store(false)
}

// Check returns a readiness check named name on f.
func (f *Flag) Check(name string) Check {
	return Check{Name: name, Fn: func(context.Context) error {
		if f.set.Load() {
			return nil
		}
		if why := f.reason.Load(); why != nil && *why != "" {
			return errors.New(*why)
		}
		return errors.New("not yet")
	}}
}
