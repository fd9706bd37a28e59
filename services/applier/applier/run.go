package applier

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/svc"
)

// Run serves the applier until ctx ends: telemetry, the NATS connection,
// the JetStream topology, /healthz /readyz /metrics, then the applier (see
// svc.Standalone). main calls it; the all-in-one builds its own Deps (its
// own NATS connection) and calls New and Applier.Run.
func Run(ctx context.Context, cfg Config, log zerolog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	logging.RegisterSecrets(cfg.JumpServer.AccessSecret.Reveal())
	return svc.Standalone(ctx, Name, cfg.NATS, cfg.HTTPAddr, log, svc.Built(func(ctx context.Context, bus svc.Bus) (*Applier, error) {
		return New(ctx, cfg, Deps{JS: bus.JS, Logger: log})
	}))
}

// LogLevelName is the configured log level (for svc.Main).
func (c Config) LogLevelName() string { return c.LogLevel }
