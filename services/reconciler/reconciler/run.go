package reconciler

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/svc"
)

// Run serves the reconciler until ctx ends: telemetry, the NATS
// connection, the JetStream topology, /healthz /readyz /metrics, then the
// service (see svc.Standalone). main calls it; the all-in-one builds the
// service with New and its own connection.
func Run(ctx context.Context, cfg Config, log zerolog.Logger) error {
	return svc.Standalone(ctx, Name, cfg.NATS, cfg.HTTPAddr, log, svc.Built(func(ctx context.Context, bus svc.Bus) (*Service, error) {
		return New(ctx, cfg, Deps{JS: bus.JS, Logger: log})
	}))
}

// LogLevelName is the configured log level (for svc.Main).
func (c Config) LogLevelName() string { return c.LogLevel }
