package notifier

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/svc"
)

// Run serves the notifier until ctx ends: telemetry, the NATS connection,
// the JetStream topology, /healthz /readyz /metrics, then the service (see
// svc.Standalone). main and the all-in-one call it (the all-in-one sets up
// telemetry once for the process; a second Setup only replaces the globals).
func Run(ctx context.Context, cfg Config, log zerolog.Logger) error {
	return svc.Standalone(ctx, Name, cfg.NATS, cfg.HTTPAddr, log, svc.Built(func(ctx context.Context, bus svc.Bus) (*Service, error) {
		return New(ctx, cfg, Deps{JS: bus.JS, Logger: log})
	}))
}

// LogLevelName is the configured log level (for svc.Main).
func (c Config) LogLevelName() string { return c.LogLevel }
