package notifier

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/ops"
	"github.com/jmssync/jmssync/libs/telemetry"
)

// Run serves the notifier until ctx ends: telemetry, the NATS connection,
// the JetStream topology, /healthz /readyz /metrics, then the service.
// main and the all-in-one call it (the all-in-one sets up telemetry once
// for the process; a second Setup only replaces the globals).
func Run(ctx context.Context, cfg Config, log zerolog.Logger) error {
	shutdown, err := telemetry.Setup(ctx, Name, telemetry.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = shutdown(context.WithoutCancel(ctx)) }()

	nc, err := natsx.Connect(ctx, cfg.NATS.ConnectOptions(Name), log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	var started ops.Flag
	started.Clear("not yet started")
	var svc atomic.Pointer[Service]
	ln, err := ops.Listen(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	go func() {
		_ = ops.ServeListener(ctx, ln, ops.Options{Logger: log, Checks: []ops.Check{
			ops.NATSConnected(nc), started.Check("service"),
			{Name: "channels", Fn: func(c context.Context) error {
				if s := svc.Load(); s != nil {
					for _, ch := range s.Checks() {
						if err := ch.Fn(c); err != nil {
							return fmt.Errorf("%s: %w", ch.Name, err)
						}
					}
				}
				return nil
			}},
		}})
	}()

	for { // NATS may come up after us
		err := natsx.EnsureTopology(ctx, js, natsx.TopologyOptions{})
		if err == nil {
			break
		}
		started.Clear(err.Error())
		log.Warn().Err(err).Msg("jetstream topology not declared yet; retrying")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	s, err := New(ctx, cfg, Deps{JS: js, Logger: log})
	if err != nil {
		return err
	}
	svc.Store(s)
	started.Set()
	return s.Run(ctx)
}
