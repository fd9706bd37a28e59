package jumpserver

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// Client talks to one JumpServer org. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	hc   *http.Client
	sem  chan struct{}
	lim  *rate.Limiter
	cb   *gobreaker.CircuitBreaker[*response]
	log  zerolog.Logger
	now  func() time.Time

	thMu      sync.Mutex
	notBefore time.Time // a 429's Retry-After holds every request until then

	mu        sync.RWMutex
	started   bool
	info      Info
	platforms map[string]Platform
	templates map[string]AccountTemplate
	zones     map[string]Zone

	nodeMu sync.Mutex      // serialises node creation (spec §4.2 "Concurrency")
	nodes  map[string]Node // by normalised path
}

// New builds a client; it does not talk to the server (see Start). Every
// configuration problem is reported at once.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	base, _ := url.Parse(cfg.URL)
	c := &Client{
		cfg:       cfg,
		base:      base,
		sem:       make(chan struct{}, cfg.Concurrency),
		lim:       rate.NewLimiter(rate.Limit(cfg.RatePerSecond), cfg.Burst),
		log:       zerolog.Nop(),
		now:       time.Now,
		platforms: map[string]Platform{},
		templates: map[string]AccountTemplate{},
		zones:     map[string]Zone{},
		nodes:     map[string]Node{},
	}
	if cfg.Logger != nil {
		c.log = cfg.Logger.With().Str("component", "jumpserver").Logger()
	}
	c.hc = cfg.HTTPClient
	if c.hc == nil {
		c.hc = &http.Client{Transport: newTransport(cfg)}
	}
	// Never follow redirects: a 301 means a missing trailing slash, and a
	// redirected POST would lose its body (spec §2).
	hc := *c.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc.Timeout = 0 // per-request timeouts come from the context
	c.hc = &hc
	c.cb = gobreaker.NewCircuitBreaker[*response](gobreaker.Settings{
		Name:        "jumpserver",
		MaxRequests: cfg.Breaker.HalfOpenRequests,
		Timeout:     cfg.Breaker.OpenTimeout,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= cfg.Breaker.Failures },
		IsSuccessful: func(err error) bool {
			k := KindOf(err)
			return err == nil || (k != "" && k != KindUnavailable && k != KindInternal)
		},
		IsExcluded: isCallerCancel,
		OnStateChange: func(_ string, from, to gobreaker.State) {
			c.log.Warn().Str("from", from.String()).Str("to", to.String()).Msg("jumpserver breaker state changed")
			if cfg.OnStateChange != nil {
				cfg.OnStateChange(from, to)
			}
		},
	})
	return c, nil
}

func newTransport(cfg Config) *http.Transport {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.Concurrency * 2,
		MaxIdleConnsPerHost:   cfg.Concurrency * 2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if cfg.InsecureSkipVerify {
		t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // explicit verify_ssl: false
	}
	return t
}

// String never prints the secret.
func (c *Client) String() string {
	return "jumpserver.Client(" + c.cfg.URL + ", org " + c.cfg.OrgID + ")"
}

// BreakerState is the circuit breaker's current state.
func (c *Client) BreakerState() BreakerState { return c.cb.State() }

// Info returns what Start found out (zero before Start).
func (c *Client) Info() Info {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.info
}

// BatchSize is the configured bulk batch size.
func (c *Client) BatchSize() int { return c.cfg.BatchSize }

func (c *Client) startedInfo() (Info, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.started {
		return Info{}, ErrNotStarted
	}
	return c.info, nil
}

// version returns the detected version, or V410 before Start.
func (c *Client) version() Version {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.info.Version == "" {
		return V410
	}
	return c.info.Version
}

func (c *Client) pageSize() int {
	limit := c.version().PageCap()
	if c.cfg.PageSize > 0 && c.cfg.PageSize < limit {
		return c.cfg.PageSize
	}
	return limit
}
