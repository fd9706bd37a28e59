package jumpserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/sony/gobreaker/v2"

	"github.com/jmssync/jmssync/libs/config"
)

// Built-in organisation ids (spec §1.5).
const (
	RootOrgID    = "00000000-0000-0000-0000-000000000000"
	DefaultOrgID = "00000000-0000-0000-0000-000000000002"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultBatchSize     = 100
	DefaultConcurrency   = 4
	DefaultRatePerSecond = 20.0
	DefaultMaxRetryAfter = 60 * time.Second
	DefaultRetries       = 2
	DefaultRetryBackoff  = 250 * time.Millisecond
	DefaultAssetCap      = 5000
	MaxBatchSize         = 1000
)

// BreakerState is the circuit breaker's state (closed, half-open, open).
type BreakerState = gobreaker.State

// Breaker states, re-exported so that callers need not import gobreaker.
const (
	BreakerClosed   = gobreaker.StateClosed
	BreakerHalfOpen = gobreaker.StateHalfOpen
	BreakerOpen     = gobreaker.StateOpen
)

// BreakerConfig configures the circuit breaker every request goes through.
type BreakerConfig struct {
	// Failures is how many consecutive failures (5xx, timeouts, dropped
	// connections) open the breaker. Default 5. 4xx never count.
	Failures uint32
	// OpenTimeout is how long the breaker stays open before it lets one
	// probe through (half-open). Default 30s.
	OpenTimeout time.Duration
	// HalfOpenRequests is how many probes may run while half-open. Default 1.
	HalfOpenRequests uint32
}

// Config configures a Client. The zero values of the optional fields take
// the defaults above.
type Config struct {
	// URL is the JumpServer base URL, e.g. https://jms.example.com (no /api).
	URL string
	// KeyID is the access key id (a UUID); Secret is its secret.
	KeyID  string
	Secret config.Secret
	// OrgID is the organisation every call works in (sent as X-JMS-ORG and
	// checked at Start). Default: the Default org. Never the root org.
	OrgID string
	// InsecureSkipVerify turns TLS certificate verification off (the old
	// tool's verify_ssl: false). Verification is on by default.
	InsecureSkipVerify bool
	// Timeout bounds each HTTP request. Default 30s.
	Timeout time.Duration
	// BatchSize is how many hosts one bulk create or bulk update carries.
	// Default 100, at most 1000.
	BatchSize int
	// Concurrency bounds the requests in flight toward JumpServer. Default 4.
	Concurrency int
	// RatePerSecond and Burst shape the request rate (token bucket). Default
	// 20/s with a burst of twice Concurrency: the reads and writes of a
	// small cycle (a GET of the assets to patch, then the creates and
	// patches spread over every worker) start without waiting on the
	// bucket, and the sustained rate is unchanged. JumpServer 4.10.17+
	// throttles a user at 4096/min by default (4.10.15–16: 180/min).
	RatePerSecond float64
	Burst         int
	// PageSize overrides the list page size; default (0) is the server's cap
	// (1000 on 4.10, 10000 on 4.7). It is never set above the cap.
	PageSize int
	// MaxRetryAfter bounds how long a call waits on a 429's Retry-After
	// before it reports KindThrottled. Default 60s.
	MaxRetryAfter time.Duration
	// Retries is how often an idempotent read, or an unknown-outcome bulk
	// write, is tried again after an unavailability. Default 2; -1 = none.
	Retries int
	// RetryBackoff is the first wait before such a retry (doubling).
	// Default 250ms.
	RetryBackoff time.Duration
	// AssetCap is the Community Edition cap the client reports with counts.
	// Default 5000; -1 = licensed (no cap).
	AssetCap int
	// Breaker configures the circuit breaker.
	Breaker BreakerConfig
	// OnStateChange is called when the breaker changes state (log, measure,
	// alert). It must not block.
	OnStateChange func(from, to BreakerState)
	// HTTPClient replaces the HTTP client (tests). Its Transport's TLS
	// settings are used as they are; InsecureSkipVerify is then ignored.
	HTTPClient *http.Client
	// Logger receives a few events (breaker changes, 429 waits). Nil: none.
	Logger *zerolog.Logger
	// UserAgent is sent as User-Agent. Default "jms-sync".
	UserAgent string
}

// String never prints the secret.
func (c Config) String() string {
	return fmt.Sprintf("jumpserver.Config{URL:%s KeyID:%s Secret:%s OrgID:%s}", c.URL, c.KeyID, config.Redacted, c.OrgID)
}

// validate reports every problem at once.
func (c *Config) validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.URL == "" {
		add("url: required")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url: %q is not an http(s) URL", c.URL)
	} else if u.RawQuery != "" || u.Fragment != "" {
		add("url: %q must not carry a query or fragment", c.URL)
	}
	if c.KeyID == "" {
		add("key_id: required")
	} else if _, err := uuid.Parse(c.KeyID); err != nil {
		add("key_id: %q is not a UUID (JumpServer answers 500 to such a keyId)", c.KeyID)
	}
	if !c.Secret.IsSet() {
		add("secret: required")
	}
	if c.OrgID != "" {
		if _, err := uuid.Parse(c.OrgID); err != nil {
			add("org_id: %q is not a UUID", c.OrgID)
		} else if strings.EqualFold(c.OrgID, RootOrgID) {
			add("org_id: the root (global) org refuses writes; configure a real org")
		}
	}
	if c.Timeout < 0 {
		add("timeout: %s is negative", c.Timeout)
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		add("batch_size: %d is outside 0..%d", c.BatchSize, MaxBatchSize)
	}
	if c.Concurrency < 0 {
		add("concurrency: %d is negative", c.Concurrency)
	}
	if c.RatePerSecond < 0 {
		add("rate_per_second: %g is negative", c.RatePerSecond)
	}
	if c.Burst < 0 {
		add("burst: %d is negative", c.Burst)
	}
	if c.PageSize < 0 {
		add("page_size: %d is negative", c.PageSize)
	}
	if c.MaxRetryAfter < 0 {
		add("max_retry_after: %s is negative", c.MaxRetryAfter)
	}
	if c.Retries < -1 {
		add("retries: %d is below -1", c.Retries)
	}
	if c.RetryBackoff < 0 {
		add("retry_backoff: %s is negative", c.RetryBackoff)
	}
	if c.AssetCap < -1 {
		add("asset_cap: %d is below -1", c.AssetCap)
	}
	if c.Breaker.OpenTimeout < 0 {
		add("breaker.open_timeout: %s is negative", c.Breaker.OpenTimeout)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("jumpserver: invalid config: %w", errors.Join(errs...))
}

func (c Config) withDefaults() Config {
	c.URL = strings.TrimRight(c.URL, "/")
	if c.OrgID == "" {
		c.OrgID = DefaultOrgID
	}
	c.OrgID = strings.ToLower(c.OrgID)
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.Burst == 0 {
		c.Burst = 2 * c.Concurrency
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	switch c.Retries {
	case 0:
		c.Retries = DefaultRetries
	case -1:
		c.Retries = 0
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.AssetCap == 0 {
		c.AssetCap = DefaultAssetCap
	}
	if c.Breaker.Failures == 0 {
		c.Breaker.Failures = 5
	}
	if c.Breaker.OpenTimeout == 0 {
		c.Breaker.OpenTimeout = 30 * time.Second
	}
	if c.Breaker.HalfOpenRequests == 0 {
		c.Breaker.HalfOpenRequests = 1
	}
	if c.UserAgent == "" {
		c.UserAgent = "jms-sync"
	}
	return c
}
