package applier

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/ops"
	"github.com/jmssync/jmssync/libs/telemetry"
)

// Run serves the applier until ctx ends: telemetry, the NATS connection,
// the JetStream topology, /healthz /readyz /metrics, then the applier.
// main calls it; the all-in-one builds its own Deps (its own NATS
// connection) and calls New and Applier.Run.
func Run(ctx context.Context, cfg Config, log zerolog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	logging.RegisterSecrets(cfg.JumpServer.AccessSecret.Reveal())
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
	var svc atomic.Pointer[Applier]
	ln, err := ops.Listen(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	go func() {
		_ = ops.ServeListener(ctx, ln, ops.Options{Logger: log, Checks: []ops.Check{
			ops.NATSConnected(nc), started.Check("service"),
			{Name: "applier", Fn: func(c context.Context) error {
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
	a, err := New(ctx, cfg, Deps{JS: js, Logger: log})
	if err != nil {
		return err
	}
	svc.Store(a)
	started.Set()
	return a.Run(ctx)
}
