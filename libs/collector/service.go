package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/svc"
)

// ServiceConfig is what every collector service reads from the environment
// besides its cloud accounts (names under the service's prefix, e.g.
// JMSSYNC_NATS_URL, JMSSYNC_INTERVAL).
type ServiceConfig struct {
	NATS natsx.Config `envPrefix:"NATS_"`
	// Replica names this process among the collector's replicas (default:
	// host name and process id).
	Replica string `env:"REPLICA"`
	// PinRegions limits this replica to these regions (empty = any).
	PinRegions []string      `env:"PIN_REGIONS"`
	Interval   time.Duration `env:"INTERVAL" envDefault:"10m"`
	Jitter     time.Duration `env:"JITTER" envDefault:"1m"`
	LeaseTTL   time.Duration `env:"LEASE_TTL" envDefault:"30s"`
	// AccountConcurrency bounds the regions of one account listed at once.
	AccountConcurrency int           `env:"ACCOUNT_CONCURRENCY" envDefault:"4"`
	PassTimeout        time.Duration `env:"PASS_TIMEOUT" envDefault:"30m"`
	// HTTPAddr serves /healthz, /readyz and /metrics (loopback by default).
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9464"`
	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`
	// Alone is set by the all-in-one (see Options.Alone).
	Alone bool `env:"-"`
}

// Validate checks the values that have no safe meaning.
func (c ServiceConfig) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, config.Invalid("INTERVAL", "must be positive, not %s", c.Interval))
	}
	if c.Jitter < 0 || c.Jitter >= c.Interval && c.Interval > 0 {
		errs = append(errs, config.Invalid("JITTER", "must be at least 0 and below INTERVAL, not %s", c.Jitter))
	}
	if c.LeaseTTL < 2*time.Second {
		errs = append(errs, config.Invalid("LEASE_TTL", "must be at least 2s, not %s", c.LeaseTTL))
	}
	if c.AccountConcurrency < 1 {
		errs = append(errs, config.Invalid("ACCOUNT_CONCURRENCY", "must be at least 1, not %d", c.AccountConcurrency))
	}
	if c.PassTimeout <= 0 {
		errs = append(errs, config.Invalid("PASS_TIMEOUT", "must be positive, not %s", c.PassTimeout))
	}
	return errors.Join(errs...)
}

// ReplicaID returns the configured replica name or host-pid.
func (c ServiceConfig) ReplicaID() string {
	if c.Replica != "" {
		return c.Replica
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "collector"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// Serve runs a collector service until ctx ends: telemetry, the NATS
// connection, the JetStream topology, the ops endpoints (see
// svc.Standalone), and the runner's cycles over targets. On a clean stop the
// region leases are released so another replica takes over at once.
func Serve(ctx context.Context, service string, provider asset.Provider, cfg ServiceConfig, targets []Target, log zerolog.Logger) error {
	return svc.Standalone(ctx, service, cfg.NATS, cfg.HTTPAddr, log, func(_ context.Context, bus svc.Bus) (svc.Service, error) {
		r, err := cfg.Runner(bus.JS, bus.Conn, provider, log)
		if err != nil {
			return svc.Service{}, err
		}
		log.Info().Str("replica", cfg.ReplicaID()).Int("scopes", len(targets)).Msg("collector started")
		return svc.Service{Run: func(ctx context.Context) error { return RunUntilDone(ctx, r, targets, log) }}, nil
	})
}

// LogLevelName is the configured log level (for svc.Main).
func (c ServiceConfig) LogLevelName() string { return c.LogLevel }

// Runner builds the runner a service configured by c runs, on an existing
// connection (the all-in-one shares one connection among its services).
func (c ServiceConfig) Runner(js jetstream.JetStream, nc *nats.Conn, provider asset.Provider, log zerolog.Logger) (*Runner, error) {
	return New(Options{JS: js, Conn: nc, Replica: c.ReplicaID(), Provider: provider,
		LeaseTTL: c.LeaseTTL, Interval: c.Interval, Jitter: c.Jitter,
		AccountConcurrency: c.AccountConcurrency, Regions: c.PinRegions, PassTimeout: c.PassTimeout,
		Alone: c.Alone, Logger: log})
}

// RunUntilDone runs r's cycles until ctx ends, then hands its region leases
// back so another replica takes over at once (a crash leaves them to expire).
func RunUntilDone(ctx context.Context, r *Runner, targets []Target, log zerolog.Logger) error {
	err := r.Run(ctx, targets)
	releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := r.Release(releaseCtx); rerr != nil {
		log.Warn().Err(rerr).Msg("region leases not released; they expire after the lease TTL")
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
