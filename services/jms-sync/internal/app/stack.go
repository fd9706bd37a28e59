package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natsembed"
	"github.com/jmssync/jmssync/libs/ops"
	"github.com/jmssync/jmssync/services/applier/applier"
	"github.com/jmssync/jmssync/services/collector-aliyun/aliyuncollector"
	"github.com/jmssync/jmssync/services/collector-huaweicloud/huaweicollector"
	"github.com/jmssync/jmssync/services/notifier/notifier"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// Configs are the services' configurations, loaded from one environment.
// A collector or the notifier is nil when nothing configures it.
type Configs struct {
	Aliyun     *aliyuncollector.Config
	Huawei     *huaweicollector.Config
	Reconciler reconciler.Config
	Applier    applier.Config
	Notifier   *notifier.Config
	Process    ProcessConfig
	// NATS is the external server's connection (zero: the embedded one),
	// loaded here so that a bad JMSSYNC_NATS_* fails at start with the
	// rest and its password or token is masked in every log.
	NATS natsx.Config

	invalid map[string]bool // services whose configuration failed to load (loadConfigs)
}

// LoadConfigs loads every service's configuration and reports every problem
// of every service at once.
func LoadConfigs(vars map[string]string) (*Configs, error) {
	c, errs := loadConfigs(vars)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// loadConfigs loads what it can: a service whose configuration has a
// problem is left out (nil, or named in Configs.invalid for the two that
// are values), and every problem is returned.
func loadConfigs(vars map[string]string) (*Configs, []error) {
	env := &Environment{Vars: vars}
	c := Configs{invalid: map[string]bool{}}
	var errs []error
	load := func(name string, f func(opts ...config.Option) error) {
		if err := f(config.WithPrefix("JMSSYNC_"), config.WithEnvironment(env.with(nil))); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			c.invalid[name] = true
		}
	}
	if env.has("ALIYUN_ACCOUNTS_") {
		load("aliyun collector", func(o ...config.Option) error {
			cfg, err := config.Load[aliyuncollector.Config](o...)
			if err == nil {
				c.Aliyun = &cfg
			}
			return err
		})
	}
	if env.has("HUAWEI_ACCOUNTS_") {
		load("huawei collector", func(o ...config.Option) error {
			cfg, err := config.Load[huaweicollector.Config](o...)
			if err == nil {
				c.Huawei = &cfg
			}
			return err
		})
	}
	load("reconciler", func(o ...config.Option) error {
		var err error
		c.Reconciler, err = config.Load[reconciler.Config](o...)
		return err
	})
	load("applier", func(o ...config.Option) error {
		var err error
		c.Applier, err = config.Load[applier.Config](o...)
		return err
	})
	load("jms-sync", func(o ...config.Option) error {
		var err error
		c.Process, err = config.Load[ProcessConfig](o...)
		return err
	})
	if nc, err := natsConfig(vars); err != nil {
		errs = append(errs, err)
	} else {
		c.NATS = nc
	}
	if env.has("DINGTALK_ROBOTS_") {
		load("notifier", func(o ...config.Option) error {
			cfg, err := config.Load[notifier.Config](o...)
			if err == nil {
				c.Notifier = &cfg
			}
			return err
		})
	}
	return &c, errs
}

// SecretValues of every configuration, for the log redactor.
func (c *Configs) SecretValues() []string {
	var out []string
	for _, v := range []any{c.Aliyun, c.Huawei, &c.Reconciler, &c.Applier, c.Notifier, &c.NATS} {
		out = append(out, config.SecretValues(v)...)
	}
	return out
}

// Bus is the NATS connection every service shares, on the embedded server
// unless JMSSYNC_NATS_URL names an external one.
type Bus struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	embedded *natsembed.Server
}

// OpenBus is OpenBusConfig without credentials: the embedded server in
// dataDir when url is empty, else a server that asks for none. The
// commands use OpenBusConfig with the JMSSYNC_NATS_* configuration.
func OpenBus(ctx context.Context, url, dataDir string, log zerolog.Logger) (*Bus, error) {
	return OpenBusConfig(ctx, natsx.Config{URL: url}, dataDir, log)
}

// OpenBusConfig starts the embedded server in dataDir (when ext.URL is
// empty) or connects to the external server ext with its credentials,
// and declares the JetStream topology.
func OpenBusConfig(ctx context.Context, ext natsx.Config, dataDir string, log zerolog.Logger) (*Bus, error) {
	b := &Bus{}
	if ext.URL == "" {
		s, err := natsembed.Start(natsembed.Options{DataDir: filepath.Join(dataDir, "jetstream")})
		if err != nil {
			return nil, err
		}
		b.embedded, ext = s, natsx.Config{URL: s.URL()}
		log.Info().Str("store", filepath.Join(dataDir, "jetstream")).Msg("embedded JetStream started")
	}
	nc, err := connectNATS(ctx, ext, "jms-sync", 0, log)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.NC = nc
	if b.JS, err = jetstream.New(nc); err != nil {
		b.Close()
		return nil, err
	}
	if err := natsx.EnsureTopology(ctx, b.JS, natsx.TopologyOptions{}); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	if b.NC != nil {
		_ = b.NC.Drain()
		for i := 0; i < 50 && !b.NC.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if b.embedded != nil {
		b.embedded.Shutdown()
	}
}

// Services are the running pieces of the pipeline.
type Services struct {
	Collectors []*CollectorRun
	Reconciler *reconciler.Service
	Applier    *applier.Applier
	Notifier   *notifier.Service
}

// CollectorRun is one cloud's runner and the scopes it lists.
type CollectorRun struct {
	Provider asset.Provider
	Runner   *collector.Runner
	Targets  []collector.Target
}

// Build creates every configured service on the shared bus.
func Build(ctx context.Context, c *Configs, bus *Bus, log zerolog.Logger) (*Services, error) {
	cols, err := BuildCollectors(c, bus, log)
	if err != nil {
		return nil, err
	}
	s := &Services{Collectors: cols}
	if s.Applier, err = applier.New(ctx, c.Applier, applier.Deps{JS: bus.JS, Logger: log}); err != nil {
		return nil, err
	}
	if s.Reconciler, err = reconciler.New(ctx, c.Reconciler, reconciler.Deps{JS: bus.JS, Logger: log}); err != nil {
		return nil, err
	}
	if c.Notifier != nil {
		if s.Notifier, err = notifier.New(ctx, *c.Notifier, notifier.Deps{JS: bus.JS, Logger: log}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// BuildCollectors creates the runner and targets of every configured cloud.
func BuildCollectors(c *Configs, bus *Bus, log zerolog.Logger) ([]*CollectorRun, error) {
	var out []*CollectorRun
	if c.Aliyun != nil {
		targets, err := aliyuncollector.Targets(*c.Aliyun)
		if err != nil {
			return nil, err
		}
		c.Aliyun.ServiceConfig.Alone = true
		r, err := c.Aliyun.ServiceConfig.Runner(bus.JS, bus.NC, asset.Aliyun, log.With().Str("component", aliyuncollector.Service).Logger())
		if err != nil {
			return nil, err
		}
		out = append(out, &CollectorRun{Provider: asset.Aliyun, Runner: r, Targets: targets})
	}
	if c.Huawei != nil {
		targets, err := huaweicollector.Targets(*c.Huawei)
		if err != nil {
			return nil, err
		}
		c.Huawei.ServiceConfig.Alone = true
		r, err := c.Huawei.ServiceConfig.Runner(bus.JS, bus.NC, asset.HuaweiCloud, log.With().Str("component", huaweicollector.Service).Logger())
		if err != nil {
			return nil, err
		}
		out = append(out, &CollectorRun{Provider: asset.HuaweiCloud, Runner: r, Targets: targets})
	}
	return out, nil
}

// Checks are the readiness checks of every service.
func (s *Services) Checks(bus *Bus) []ops.Check {
	checks := []ops.Check{ops.NATSConnected(bus.NC)}
	checks = append(checks, s.Applier.Checks()...)
	checks = append(checks, s.Reconciler.Checks()...)
	if s.Notifier != nil {
		checks = append(checks, s.Notifier.Checks()...)
	}
	return checks
}

// Run runs every service until ctx ends or one fails; the first error
// stops the others.
func (s *Services) Run(ctx context.Context, log zerolog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	start("applier", s.Applier.Run)
	start("reconciler", s.Reconciler.Run)
	if s.Notifier != nil {
		start("notifier", s.Notifier.Run)
	}
	for _, c := range s.Collectors {
		start("collector-"+string(c.Provider), func(ctx context.Context) error {
			return collector.RunUntilDone(ctx, c.Runner, c.Targets, log)
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}
