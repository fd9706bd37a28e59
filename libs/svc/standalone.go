// Package svc hosts a jms-sync service as a process of its own: [Main] is a
// service's whole main (configuration, logger, signals, exit codes) and
// [Standalone] is the wiring every standalone Run shares (telemetry, the NATS
// connection, the JetStream topology, the ops endpoints, shutdown). The
// all-in-one does not use them: it shares one connection and one ops server
// among its services.
package svc

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/ops"
	"github.com/jmssync/jmssync/libs/telemetry"
)

// topologyRetry is how long Standalone waits between attempts to declare
// the JetStream topology while NATS does not answer.
const topologyRetry = 2 * time.Second

// Bus is the connection Standalone built, its topology declared.
type Bus struct {
	Conn *nats.Conn
	JS   jetstream.JetStream
}

// Service is what a [Build] returns.
type Service struct {
	// Checks are the service's own readiness checks; /readyz reports them
	// under "service", each error prefixed with the check's name.
	Checks []ops.Check
	// Run serves until ctx ends; an error ends the process with it.
	Run func(ctx context.Context) error
}

// Build makes the service once the JetStream topology is declared.
type Build func(ctx context.Context, bus Bus) (Service, error)

// Runner is a service as its package builds it: readiness checks and a run
// loop (the applier, the reconciler, the notifier).
type Runner interface {
	Checks() []ops.Check
	Run(ctx context.Context) error
}

// Built is the Build of a service whose constructor returns a [Runner].
func Built[R Runner](newRunner func(ctx context.Context, bus Bus) (R, error)) Build {
	return func(ctx context.Context, bus Bus) (Service, error) {
		r, err := newRunner(ctx, bus)
		if err != nil {
			return Service{}, err
		}
		return Service{Checks: r.Checks(), Run: r.Run}, nil
	}
}

// Standalone runs the service name until ctx ends: it sets up telemetry,
// connects to NATS with natsCfg (retrying in the background while NATS is
// away), serves the ops endpoints on httpAddr (ops.DefaultAddr when empty),
// declares the JetStream topology until NATS answers, then builds the
// service and runs it. /readyz checks the NATS connection ("nats"), the
// topology ("topology") and, once built, the service's checks ("service").
// It returns nil when ctx ends, the error of the build or of the run, or
// else the error that stopped the ops server.
func Standalone(ctx context.Context, name string, natsCfg natsx.Config, httpAddr string, log zerolog.Logger, build Build) error {
	shutdown, err := telemetry.Setup(ctx, name, telemetry.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = shutdown(context.WithoutCancel(ctx)) }()

	co := natsCfg.ConnectOptions(name)
	co.AuthHint = natsCfg.AuthHint(EnvPrefix + "NATS_")
	nc, err := natsx.Connect(ctx, co, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	var topology ops.Flag
	topology.Clear("not yet declared")
	var checks atomic.Pointer[[]ops.Check]
	ln, err := ops.Listen(httpAddr)
	if err != nil {
		return err
	}
	opsCtx, stopOps := context.WithCancel(ctx)
	defer stopOps()
	opsDone := make(chan error, 1)
	go func() {
		opsDone <- ops.ServeListener(opsCtx, ln, ops.Options{Logger: log, Checks: []ops.Check{
			ops.NATSConnected(nc), topology.Check("topology"), serviceCheck(&checks),
		}})
	}()

	runErr := func() error {
		if ok, err := declare(ctx, nc, js, &topology, co.AuthHint, log); !ok {
			return err
		}
		s, err := build(ctx, Bus{Conn: nc, JS: js})
		if err != nil {
			return err
		}
		if s.Run == nil {
			return errors.New(name + ": the service has no run function")
		}
		checks.Store(&s.Checks)
		return s.Run(ctx)
	}()
	stopOps()
	if err := <-opsDone; err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// declare declares the JetStream topology until it works (NATS may come up
// after us) and reports whether it did before ctx ended. It gives up with
// an error when the client closed the connection for good: the server
// refused the credentials twice (authHint names their variables).
func declare(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, topology *ops.Flag, authHint string, log zerolog.Logger) (bool, error) {
	for {
		err := natsx.EnsureTopology(ctx, js, natsx.TopologyOptions{})
		if err == nil {
			topology.Set()
			return true, nil
		}
		if nc.IsClosed() {
			last := nc.LastError()
			if last == nil {
				last = nats.ErrConnectionClosed
			}
			if natsx.IsAuthError(last) {
				return false, fmt.Errorf("nats: %w (%s)", last, authHint)
			}
			return false, fmt.Errorf("nats: %w", last)
		}
		topology.Clear(err.Error())
		log.Warn().Err(err).Msg("jetstream topology not declared yet; retrying")
		select {
		case <-ctx.Done():
			return false, nil
		case <-time.After(topologyRetry):
		}
	}
}

// serviceCheck is the readiness of the built service: not started until
// checks is stored, then every stored check in order.
func serviceCheck(checks *atomic.Pointer[[]ops.Check]) ops.Check {
	return ops.Check{Name: "service", Fn: func(ctx context.Context) error {
		cs := checks.Load()
		if cs == nil {
			return errors.New("not started")
		}
		for _, c := range *cs {
			if err := c.Fn(ctx); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
		}
		return nil
	}}
}
