package aliyun

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/config"
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

// redacted returns c as printable fields, the secret replaced.
func (c Config) redacted() map[string]any {
	secret := ""
	if c.AccessKeySecret != "" {
		secret = config.Redacted
	}
	return map[string]any{
		"AccessKeyID": c.AccessKeyID, "AccessKeySecret": secret, "AccountID": c.AccountID,
		"AccountName": c.AccountName, "Regions": c.Regions, "Endpoint": c.Endpoint,
		"STSEndpoint": c.STSEndpoint, "PageSize": c.PageSize, "Timeout": c.Timeout.String(),
		"SkipDryRunProbe": c.SkipDryRunProbe,
	}
}

// String renders c without its secret.
func (c Config) String() string {
	secret := ""
	if c.AccessKeySecret != "" {
		secret = config.Redacted
	}
	return fmt.Sprintf("aliyun.Config{AccessKeyID:%q AccessKeySecret:%q AccountID:%q AccountName:%q Regions:%q Endpoint:%q STSEndpoint:%q PageSize:%d Timeout:%s SkipDryRunProbe:%t}",
		c.AccessKeyID, secret, c.AccountID, c.AccountName, c.Regions, c.Endpoint, c.STSEndpoint, c.PageSize, c.Timeout, c.SkipDryRunProbe)
}

// GoString renders c for %#v, without its secret.
func (c Config) GoString() string { return c.String() }

// Format makes every fmt verb (even a wrong one such as %d) print String.
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// MarshalJSON encodes c with its secret redacted.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.redacted()) }

// LogValue renders c for slog with its secret redacted.
func (c Config) LogValue() slog.Value {
	m := c.redacted()
	attrs := make([]slog.Attr, 0, len(m))
	for _, k := range []string{"AccessKeyID", "AccessKeySecret", "AccountID", "AccountName", "Regions", "Endpoint", "STSEndpoint", "PageSize", "Timeout", "SkipDryRunProbe"} {
		attrs = append(attrs, slog.Any(k, m[k]))
	}
	return slog.GroupValue(attrs...)
}

// regionRE is what the SDK accepts as a region id.
var regionRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// endpoint is a parsed Endpoint: the SDK's Domain ("host[:port]") and scheme.
type endpoint struct {
	domain   string // "" = let the SDK resolve the real regional endpoint
	scheme   string // "HTTP" or "HTTPS"
	loopback bool
}

// parseEndpoint parses an Endpoint or STSEndpoint value.
func parseEndpoint(raw string) (endpoint, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return endpoint{scheme: "HTTPS"}, nil
	}
	scheme := ""
	rest := raw
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme = strings.ToLower(raw[:i])
		rest = raw[i+3:]
		if scheme != "http" && scheme != "https" {
			return endpoint{}, fmt.Errorf("scheme must be http or https, not %q", scheme)
		}
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return endpoint{}, errors.New(`must be "host[:port]" or "http(s)://host[:port]" without a path (Aliyun signs the path "/")`)
	}
	u, err := url.Parse("//" + rest)
	if err != nil || u.Hostname() == "" {
		return endpoint{}, fmt.Errorf("%q is not a host[:port]", rest)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return endpoint{}, fmt.Errorf("port %q is not 1-65535", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return endpoint{}, errors.New("empty port")
	}
	ep := endpoint{domain: u.Host, loopback: isLoopback(u.Hostname())}
	switch {
	case scheme == "https":
		ep.scheme = "HTTPS"
	case scheme == "http" || ep.loopback:
		ep.scheme = "HTTP"
	default:
		ep.scheme = "HTTPS"
	}
	return ep, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
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
	var errs []error
	bad := func(field, format string, args ...any) { errs = append(errs, config.Invalid(field, format, args...)) }
	s := &settings{Config: cfg}
	s.AccessKeyID = strings.TrimSpace(s.AccessKeyID)
	s.AccountID = strings.TrimSpace(s.AccountID)
	s.AccountName = strings.TrimSpace(s.AccountName)
	if s.AccessKeyID == "" {
		bad("AccessKeyID", "required")
	} else if strings.ContainsFunc(s.AccessKeyID, isSpaceOrControl) {
		bad("AccessKeyID", "contains spaces or control characters")
	}
	switch {
	case s.AccessKeySecret == "":
		bad("AccessKeySecret", "required")
	case strings.TrimSpace(s.AccessKeySecret) != s.AccessKeySecret || strings.ContainsFunc(s.AccessKeySecret, isControl):
		bad("AccessKeySecret", "has leading/trailing spaces or control characters (value not shown)")
	case s.AccessKeySecret == s.AccessKeyID:
		bad("AccessKeySecret", "equals AccessKeyID")
	}
	if s.AccountID == "" {
		s.AccountID = s.AccountName
	}
	if s.AccountID == "" {
		bad("AccountID", "required (or set AccountName, its default)")
	} else if msg := asset.CheckText(s.AccountID, true); msg != "" {
		bad("AccountID", "%s", msg)
	}
	if msg := asset.CheckText(s.AccountName, false); msg != "" {
		bad("AccountName", "%s", msg)
	}
	if len(s.Regions) == 0 {
		bad("Regions", "at least one region is required")
	}
	seen := map[string]bool{}
	regions := make([]string, 0, len(s.Regions))
	for i, r := range s.Regions {
		r = strings.TrimSpace(r)
		switch {
		case !regionRE.MatchString(r):
			bad(fmt.Sprintf("Regions[%d]", i), "%q is not a region id (letters, digits, '-' and '_')", r)
		case seen[r]:
			bad(fmt.Sprintf("Regions[%d]", i), "%q is listed twice", r)
		}
		seen[r] = true
		regions = append(regions, r)
	}
	s.Regions = regions
	var err error
	if s.ecs, err = parseEndpoint(s.Endpoint); err != nil {
		bad("Endpoint", "%v", err)
	}
	stsRaw := s.STSEndpoint
	if strings.TrimSpace(stsRaw) == "" {
		stsRaw = s.Endpoint
	}
	if s.sts, err = parseEndpoint(stsRaw); err != nil && strings.TrimSpace(s.STSEndpoint) != "" {
		bad("STSEndpoint", "%v", err)
	}
	if s.sts.domain == "" {
		s.sts = endpoint{domain: RealSTSEndpoint, scheme: "HTTPS"}
	}
	switch {
	case s.PageSize == 0:
		s.PageSize = MaxPageSize
	case s.PageSize < 0 || s.PageSize > MaxPageSize:
		bad("PageSize", "must be 1-%d (0 = %d), got %d", MaxPageSize, MaxPageSize, s.PageSize)
	}
	switch {
	case s.Timeout == 0:
		s.Timeout = DefaultTimeout
	case s.Timeout < 0:
		bad("Timeout", "must not be negative, got %s", s.Timeout)
	}
	if len(errs) > 0 {
		msg := make([]string, len(errs))
		for i, e := range errs {
			msg[i] = e.Error()
		}
		text := strings.Join(msg, "; ")
		if cfg.AccessKeySecret != "" {
			text = strings.ReplaceAll(text, cfg.AccessKeySecret, config.Redacted)
		}
		return nil, &ConfigError{Problems: errs, text: fmt.Sprintf("aliyun: invalid config: %d problem(s): %s", len(errs), text)}
	}
	return s, nil
}

// ConfigError lists every problem of a Config, each a *config.FieldError
// keyed by the Go field name. It matches ErrInvalidConfig with errors.Is.
type ConfigError struct {
	Problems []error
	text     string
}

func (e *ConfigError) Error() string { return e.text }

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Unwrap returns the problems, so errors.As finds a *config.FieldError.
func (e *ConfigError) Unwrap() []error { return e.Problems }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isSpaceOrControl(r rune) bool { return r == ' ' || isControl(r) }
