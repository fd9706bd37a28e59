package svc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
	"github.com/jmssync/jmssync/libs/ops"
)

// fakeRunner is a service with one readiness check it can fail.
type fakeRunner struct {
	failing atomic.Bool
	ran     atomic.Bool
}

func (f *fakeRunner) Checks() []ops.Check {
	return []ops.Check{{Name: "fake", Fn: func(context.Context) error {
		if f.failing.Load() {
			return errors.New("boom")
		}
		return nil
	}}}
}

func (f *fakeRunner) Run(ctx context.Context) error {
	f.ran.Store(true)
	<-ctx.Done()
	return nil
}

// TestStandaloneReadyOnceTopologyDeclared starts a service before NATS:
// /readyz answers 503 until NATS is up and the topology declared, and
// until the service is built and its own checks pass.
func TestStandaloneReadyOnceTopologyDeclared(t *testing.T) {
	natsPort := freePort(t)
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	release := make(chan struct{})
	fake := &fakeRunner{}
	fake.failing.Store(true)
	build := Built(func(ctx context.Context, bus Bus) (*fakeRunner, error) {
		if bus.Conn == nil || bus.JS == nil {
			return nil, errors.New("no bus")
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return fake, nil
	})

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	done := make(chan error, 1)
	natsCfg := natsx.Config{URL: "nats://127.0.0.1:" + strconv.Itoa(natsPort)}
	go func() { done <- Standalone(ctx, "svc-test", natsCfg, httpAddr, zerolog.Nop(), build) }()

	// No NATS yet: up, but not ready.
	rd := waitReadyz(t, httpAddr, "/readyz answers", func(code int, _ ops.Readiness) bool { return code != 0 })
	if code, rd := readyz(t, httpAddr); code != http.StatusServiceUnavailable || check(rd, "topology").OK || check(rd, "nats").OK {
		t.Fatalf("before NATS: %d %+v", code, rd)
	}
	if c := check(rd, "service"); c.OK || c.Error != "not started" {
		t.Fatalf("service before the build: %+v", c)
	}

	// NATS comes up: the topology is declared, the build still waits.
	startNATS(t, natsPort)
	waitReadyz(t, httpAddr, "topology declared", func(_ int, rd ops.Readiness) bool { return check(rd, "topology").OK })
	if code, rd := readyz(t, httpAddr); code != http.StatusServiceUnavailable || !check(rd, "nats").OK || check(rd, "service").OK {
		t.Fatalf("topology declared, service not built: %d %+v", code, rd)
	}
	_, js := natstest.Dial(t, natsCfg.URL)
	for _, sc := range natsx.Streams(natsx.TopologyOptions{}) {
		if _, err := js.Stream(t.Context(), sc.Name); err != nil {
			t.Errorf("stream %s: %v", sc.Name, err)
		}
	}

	// Built, but its own check fails; then it passes.
	close(release)
	rd = waitReadyz(t, httpAddr, "service built", func(_ int, rd ops.Readiness) bool { return check(rd, "service").Error != "not started" })
	if c := check(rd, "service"); c.OK || c.Error != "fake: boom" {
		t.Fatalf("failing service check: %+v", c)
	}
	fake.failing.Store(false)
	waitReadyz(t, httpAddr, "/readyz 200", func(code int, _ ops.Readiness) bool { return code == http.StatusOK })
	if !fake.ran.Load() {
		t.Error("the service did not run")
	}

	stop()
	stopsCleanly(t, done)
	if code, _ := readyz(t, httpAddr); code != 0 {
		t.Errorf("the ops server still answers after Standalone returned: %d", code)
	}
}

func TestStandaloneStopsBeforeNATS(t *testing.T) {
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	natsCfg := natsx.Config{URL: "nats://127.0.0.1:" + strconv.Itoa(freePort(t))}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Standalone(ctx, "svc-test", natsCfg, httpAddr, zerolog.Nop(), func(context.Context, Bus) (Service, error) {
			return Service{}, errors.New("built without NATS")
		})
	}()
	waitReadyz(t, httpAddr, "/readyz answers", func(code int, _ ops.Readiness) bool { return code != 0 })
	stop()
	stopsCleanly(t, done)
}

func TestStandaloneReturnsTheServiceErrors(t *testing.T) {
	_, url := natstest.Start(t)
	natsCfg := natsx.Config{URL: url}
	errBuild, errRun := errors.New("build failed"), errors.New("run failed")
	for _, tc := range []struct {
		name  string
		build Build
		want  error
	}{
		{"build", func(context.Context, Bus) (Service, error) { return Service{}, errBuild }, errBuild},
		{"run", func(context.Context, Bus) (Service, error) {
			return Service{Run: func(context.Context) error { return errRun }}, nil
		}, errRun},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			if err := Standalone(ctx, "svc-test", natsCfg, httpAddr, zerolog.Nop(), tc.build); !errors.Is(err, tc.want) {
				t.Fatalf("Standalone = %v, want %v", err, tc.want)
			}
			if ctx.Err() != nil {
				t.Fatal("Standalone returned only when its context ended")
			}
		})
	}
}

// stopsCleanly waits for Standalone, stopped, to return nil.
func stopsCleanly(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Standalone: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Standalone did not stop")
	}
}

func startNATS(t *testing.T, port int) {
	t.Helper()
	natstest.Start(t, natstest.WithPort(port))
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// readyz returns /readyz's status (0 when it does not answer) and body.
func readyz(t *testing.T, addr string) (int, ops.Readiness) {
	t.Helper()
	var rd ops.Readiness
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, rd
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&rd); err != nil {
		t.Fatalf("/readyz body: %v", err)
	}
	return resp.StatusCode, rd
}

func waitReadyz(t *testing.T, addr, what string, ok func(int, ops.Readiness) bool) ops.Readiness {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, rd := readyz(t, addr)
		if ok(code, rd) {
			return rd
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d %+v", what, code, rd)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func check(rd ops.Readiness, name string) ops.CheckResult {
	for _, c := range rd.Checks {
		if c.Name == name {
			return c
		}
	}
	return ops.CheckResult{Name: name, Error: "missing"}
}
