package aliyun

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/collector"
)

// Defaults and limits of Config.
const (
	// MaxPageSize is the largest MaxResults DescribeInstances accepts; it is
	// also the default, so a region of N instances costs ceil(N/100) calls.
	MaxPageSize = 100
	// DefaultTimeout bounds one API request (the SDK's own per-API default
	// for DescribeInstances is 10 s too).
	DefaultTimeout = 10 * time.Second
	// RealSTSEndpoint is used for GetCallerIdentity when neither STSEndpoint
	// nor Endpoint is set: the central public endpoint, named explicitly so
	// that the SDK never falls back to its location-service resolver.
	RealSTSEndpoint = "sts.aliyuncs.com"
)

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("aliyun: invalid config")

// Config configures one Aliyun account of the collector.
//
// The access key secret is never printed: Config implements fmt.Formatter
// (every verb), fmt.GoStringer, json.Marshaler and slog.LogValuer, all of
// which render it as [config.Redacted], and New's validation errors never
// quote it.
type Config struct {
	// AccessKeyID and AccessKeySecret are a static RAM access key. The SDK's
	// default credential chain (environment, profile, ECS metadata service)
	// is never used.
	AccessKeyID     string
	AccessKeySecret string
	// AccountID is the configured account's stable id (asset.Instance
	// AccountID, scopes, subjects); it defaults to AccountName.
	AccountID string
	// AccountName is the display name (node path). Optional.
	AccountName string
	// Regions to list, such as "cn-hangzhou". At least one.
	Regions []string
	// Endpoint is "" for the real Aliyun (regional ECS endpoints over
	// HTTPS), or "host:port" / "scheme://host:port" for a private cloud or
	// the simulator: every region then goes to that one host. Plain HTTP is
	// used only when the scheme says http:// or the host is loopback.
	Endpoint string
	// STSEndpoint is where GetCallerIdentity goes; it defaults to Endpoint
	// when that is set, else RealSTSEndpoint. Same syntax as Endpoint.
	STSEndpoint string
	// PageSize is DescribeInstances' MaxResults: 1-100, 0 = 100.
	PageSize int
	// Timeout bounds each API request (0 = DefaultTimeout). The whole pass is
	// bounded by the context given to List.
	Timeout time.Duration
	// Backoff retries throttled calls; the zero value is collector.Backoff's
	// defaults (6 retries, 200 ms doubling to 10 s, full jitter); a negative
	// Attempts retries nothing.
	Backoff collector.Backoff
	// SkipDryRunProbe turns off the DryRun permission probe that List makes
	// before listing. The probe is on by default — the field is phrased as
	// "skip" so that the zero Config is the safe one (a plain "DryRunProbe
	// bool" could not default to true in a struct literal).
	SkipDryRunProbe bool
}

// DryRunProbe reports whether List probes list permission with DryRun first.
func (c Config) DryRunProbe() bool { return !c.SkipDryRunProbe }

// fields returns c as printed, the secret redacted.
func (c Config) fields() collector.ConfigFields {
	return collector.ConfigFields{
		slog.String("AccessKeyID", c.AccessKeyID), slog.String("AccessKeySecret", collector.RedactSecret(c.AccessKeySecret)),
		slog.String("AccountID", c.AccountID), slog.String("AccountName", c.AccountName), slog.Any("Regions", c.Regions),
		slog.String("Endpoint", c.Endpoint), slog.String("STSEndpoint", c.STSEndpoint), slog.Int("PageSize", c.PageSize),
		slog.String("Timeout", c.Timeout.String()), slog.Bool("SkipDryRunProbe", c.SkipDryRunProbe),
	}
}

// String renders c without its secret.
func (c Config) String() string {
	return fmt.Sprintf("aliyun.Config{AccessKeyID:%q AccessKeySecret:%q AccountID:%q AccountName:%q Regions:%q Endpoint:%q STSEndpoint:%q PageSize:%d Timeout:%s SkipDryRunProbe:%t}",
		c.AccessKeyID, collector.RedactSecret(c.AccessKeySecret), c.AccountID, c.AccountName, c.Regions, c.Endpoint, c.STSEndpoint, c.PageSize, c.Timeout, c.SkipDryRunProbe)
}

// GoString renders c for %#v, without its secret.
func (c Config) GoString() string { return c.String() }

// Format makes every fmt verb (even a wrong one such as %d) print String.
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// MarshalJSON encodes c with its secret redacted.
func (c Config) MarshalJSON() ([]byte, error) { return c.fields().MarshalJSON() }

// LogValue renders c for slog with its secret redacted.
func (c Config) LogValue() slog.Value { return c.fields().LogValue() }

// endpoint is a parsed Endpoint: the SDK's Domain ("host[:port]") and scheme.
type endpoint struct {
	domain   string // "" = let the SDK resolve the real regional endpoint
	scheme   string // "HTTP" or "HTTPS"
	loopback bool
}

// parseEndpoint parses an Endpoint or STSEndpoint value.
func parseEndpoint(raw string) (endpoint, error) {
	ep, err := collector.ParseEndpoint(raw)
	if err != nil {
		return endpoint{}, err
	}
	return endpoint{domain: ep.Host, scheme: strings.ToUpper(ep.Scheme), loopback: ep.Loopback}, nil
}

// noProxyPattern is the SDK no-proxy entry for exactly this endpoint: a
// regexp matched against the request's Host, which carries the port.
func (e endpoint) noProxyPattern() string { return "^" + regexp.QuoteMeta(e.domain) + "$" }

// settings is a validated Config with its defaults applied.
type settings struct {
	Config
	ecs, sts endpoint
}

// validate checks every field at once and applies defaults. Problems name
// the Go field; none quotes the secret.
func validate(cfg Config) (*settings, error) {
	acct := collector.AccountConfig{AccessKeyID: cfg.AccessKeyID, Secret: cfg.AccessKeySecret, SecretField: "AccessKeySecret",
		AccountID: cfg.AccountID, AccountName: cfg.AccountName, Regions: cfg.Regions}
	p := collector.ConfigProblems(acct.Validate())
	s := &settings{Config: cfg}
	s.AccessKeyID, s.AccountID, s.AccountName, s.Regions = acct.AccessKeyID, acct.AccountID, acct.AccountName, acct.Regions
	var err error
	if s.ecs, err = parseEndpoint(s.Endpoint); err != nil {
		p.Add("Endpoint", "%v", err)
	}
	stsRaw := s.STSEndpoint
	if strings.TrimSpace(stsRaw) == "" {
		stsRaw = s.Endpoint
	}
	if s.sts, err = parseEndpoint(stsRaw); err != nil && strings.TrimSpace(s.STSEndpoint) != "" {
		p.Add("STSEndpoint", "%v", err)
	}
	if s.sts.domain == "" {
		s.sts = endpoint{domain: RealSTSEndpoint, scheme: "HTTPS"}
	}
	p.PageSize(&s.PageSize, MaxPageSize)
	p.Timeout(&s.Timeout, DefaultTimeout)
	if err := p.Err(ErrInvalidConfig, cfg.AccessKeySecret); err != nil {
		return nil, err
	}
	return s, nil
}

// ConfigError lists every problem of a Config, each a *config.FieldError
// keyed by the Go field name. It matches ErrInvalidConfig with errors.Is.
type ConfigError = collector.ConfigError
