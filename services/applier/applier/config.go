package applier

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/libs/natsx"
)

// Config is read from JMSSYNC_* variables (config.Load with prefix
// "JMSSYNC_").
type Config struct {
	NATS       natsx.Config     `envPrefix:"NATS_"`
	JumpServer JumpServerConfig `envPrefix:"JUMPSERVER_"`
	// InstallID names the ownership label jmssync:<install-id> and is part
	// of every asset id.
	InstallID string `env:"INSTALL_ID"`
	// RebuildInterval is how often the mirror is rebuilt from JumpServer.
	RebuildInterval time.Duration `env:"APPLIER_REBUILD_INTERVAL" envDefault:"1h"`
	// FetchBatch is how many intents one fetch takes; 0 = BatchSize ×
	// Concurrency (every bulk request of a batch can run in parallel), at
	// most maxDefaultFetch.
	FetchBatch int `env:"APPLIER_FETCH_BATCH"`
	// LockTTL bounds how long a crashed applier's per-asset locks block
	// another applier.
	LockTTL time.Duration `env:"APPLIER_LOCK_TTL" envDefault:"2m"`
	// ProbeInterval is how often a paused applier checks whether the
	// condition cleared.
	ProbeInterval time.Duration `env:"APPLIER_PROBE_INTERVAL" envDefault:"10s"`
	// CapRetry is the delay of a create that found no room under the cap.
	CapRetry time.Duration `env:"APPLIER_CAP_RETRY" envDefault:"5m"`
	// AckWait of the durable consumer (messages of a crashed applier come
	// back after it).
	AckWait  time.Duration `env:"APPLIER_ACK_WAIT" envDefault:"1m"`
	HTTPAddr string        `env:"HTTP_ADDR" envDefault:"127.0.0.1:9464"`
	LogLevel string        `env:"LOG_LEVEL" envDefault:"info"`
}

// JumpServerConfig is the JumpServer connection (JMSSYNC_JUMPSERVER_*).
type JumpServerConfig struct {
	URL          string        `env:"URL"`
	AccessKeyID  string        `env:"ACCESS_KEY_ID"`
	AccessSecret config.Secret `env:"ACCESS_KEY_SECRET"`
	OrgID        string        `env:"ORG_ID"`
	VerifySSL    bool          `env:"VERIFY_SSL" envDefault:"true"`
	Timeout      time.Duration `env:"TIMEOUT" envDefault:"30s"`
	BatchSize    int           `env:"BATCH_SIZE" envDefault:"100"`
	Concurrency  int           `env:"CONCURRENCY" envDefault:"4"`
	// Rate is requests per second toward JumpServer.
	Rate float64 `env:"RATE" envDefault:"20"`
	// Licensed removes the Community Edition cap; otherwise AssetCap applies.
	Licensed bool `env:"LICENSED"`
	AssetCap int  `env:"ASSET_CAP" envDefault:"5000"`
	// BreakerFailures consecutive 5xx/timeouts open the breaker for
	// BreakerOpenTimeout.
	BreakerFailures    uint32        `env:"BREAKER_FAILURES" envDefault:"5"`
	BreakerOpenTimeout time.Duration `env:"BREAKER_OPEN_TIMEOUT" envDefault:"30s"`
}

// Validate reports every problem at once, naming the variable.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.InstallID) == "" {
		errs = append(errs, config.Invalid("INSTALL_ID", "required: it names the ownership label"))
	} else if strings.ContainsAny(c.InstallID, ":,") {
		errs = append(errs, config.Invalid("INSTALL_ID", "may not contain ':' or ',' (it is a label value)"))
	}
	if c.RebuildInterval <= 0 {
		errs = append(errs, config.Invalid("APPLIER_REBUILD_INTERVAL", "must be positive"))
	}
	if c.FetchBatch < 0 {
		errs = append(errs, config.Invalid("APPLIER_FETCH_BATCH", "must not be negative"))
	}
	if c.LockTTL < time.Second {
		errs = append(errs, config.Invalid("APPLIER_LOCK_TTL", "must be at least 1s"))
	}
	if c.ProbeInterval <= 0 {
		errs = append(errs, config.Invalid("APPLIER_PROBE_INTERVAL", "must be positive"))
	}
	if c.CapRetry <= 0 {
		errs = append(errs, config.Invalid("APPLIER_CAP_RETRY", "must be positive"))
	}
	if c.AckWait < time.Second {
		errs = append(errs, config.Invalid("APPLIER_ACK_WAIT", "must be at least 1s"))
	}
	if err := c.NATS.Validate(); err != nil {
		errs = append(errs, err)
	}
	j := c.JumpServer
	if j.URL == "" {
		errs = append(errs, config.Invalid("JUMPSERVER_URL", "required"))
	} else if u, err := url.Parse(j.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		errs = append(errs, config.Invalid("JUMPSERVER_URL", "an http(s) URL without credentials"))
	}
	if j.AccessKeyID == "" {
		errs = append(errs, config.Invalid("JUMPSERVER_ACCESS_KEY_ID", "required"))
	}
	if !j.AccessSecret.IsSet() {
		errs = append(errs, config.Invalid("JUMPSERVER_ACCESS_KEY_SECRET", "required (or JUMPSERVER_ACCESS_KEY_SECRET_FILE)"))
	}
	if j.BatchSize < 1 || j.BatchSize > jumpserver.MaxBatchSize {
		errs = append(errs, config.Invalid("JUMPSERVER_BATCH_SIZE", "must be 1 to %d", jumpserver.MaxBatchSize))
	}
	if j.Concurrency < 1 {
		errs = append(errs, config.Invalid("JUMPSERVER_CONCURRENCY", "must be at least 1"))
	}
	if j.Rate <= 0 {
		errs = append(errs, config.Invalid("JUMPSERVER_RATE", "must be positive"))
	}
	if !j.Licensed && j.AssetCap < 1 {
		errs = append(errs, config.Invalid("JUMPSERVER_ASSET_CAP", "must be positive (or set JUMPSERVER_LICENSED)"))
	}
	if j.Timeout <= 0 {
		errs = append(errs, config.Invalid("JUMPSERVER_TIMEOUT", "must be positive"))
	}
	if j.BreakerFailures < 1 {
		errs = append(errs, config.Invalid("JUMPSERVER_BREAKER_FAILURES", "must be at least 1"))
	}
	if j.BreakerOpenTimeout <= 0 {
		errs = append(errs, config.Invalid("JUMPSERVER_BREAKER_OPEN_TIMEOUT", "must be positive"))
	}
	if _, err := jumpserver.New(c.clientConfig()); err != nil && len(errs) == 0 {
		errs = append(errs, config.Invalid("JUMPSERVER_URL", "%v", err))
	}
	return errors.Join(errs...)
}

// ClientConfig is the JumpServer client configuration the applier uses
// (for read-only checks elsewhere: the all-in-one's validate and plan).
func (c Config) ClientConfig() jumpserver.Config { return c.clientConfig() }

// clientConfig is the JumpServer client configuration.
func (c Config) clientConfig() jumpserver.Config {
	j := c.JumpServer
	capN := j.AssetCap
	if j.Licensed {
		capN = -1
	}
	return jumpserver.Config{
		URL: j.URL, KeyID: j.AccessKeyID, Secret: j.AccessSecret, OrgID: j.OrgID,
		InsecureSkipVerify: !j.VerifySSL, Timeout: j.Timeout, BatchSize: j.BatchSize,
		Concurrency: j.Concurrency, RatePerSecond: j.Rate, AssetCap: capN,
		Breaker: jumpserver.BreakerConfig{Failures: j.BreakerFailures, OpenTimeout: j.BreakerOpenTimeout},
	}
}

func (c Config) fetchBatch() int {
	if c.FetchBatch > 0 {
		return c.FetchBatch
	}
	return max(1, min(c.JumpServer.BatchSize*c.JumpServer.Concurrency, maxDefaultFetch))
}

// maxDefaultFetch bounds the default fetch: an intent in a batch holds
// its message, the mirror entry, the asset before and after and the
// request bodies (a few KB), for as long as the batch runs. A thousand
// per batch, batchesInFlight at a time, keeps that a few MB while every
// JumpServer worker still has work.
const maxDefaultFetch = 1000
