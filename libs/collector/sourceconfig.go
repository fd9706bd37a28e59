package collector

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
	"github.com/jmssync/jmssync/libs/config"
)

// This file is the validation every cloud Source's Config shares: the
// account (AccountConfig), the problem list and its error (ConfigProblems,
// ConfigError), endpoints (ParseEndpoint) and region ids (ValidRegionID).

// AccountConfig is the part of a cloud Source's Config that names the
// account: a static access key, the account's id and display name, and the
// regions to list.
type AccountConfig struct {
	AccessKeyID string
	Secret      string
	// SecretField is the Go name of the secret's field ("AccessKeySecret"),
	// which its problems name.
	SecretField string
	// AccountID is the configured account's stable id; it defaults to
	// AccountName.
	AccountID   string
	AccountName string
	Regions     []string
}

// Validate trims AccessKeyID, AccountID, AccountName and every region,
// defaults AccountID to AccountName, and returns every problem, each a
// *config.FieldError keyed by the Go field name. None quotes the secret.
func (a *AccountConfig) Validate() []error {
	var p ConfigProblems
	a.AccessKeyID = strings.TrimSpace(a.AccessKeyID)
	a.AccountID = strings.TrimSpace(a.AccountID)
	a.AccountName = strings.TrimSpace(a.AccountName)
	if a.AccessKeyID == "" {
		p.Add("AccessKeyID", "required")
	} else if strings.ContainsFunc(a.AccessKeyID, isSpaceOrControl) {
		p.Add("AccessKeyID", "contains spaces or control characters")
	}
	switch {
	case a.Secret == "":
		p.Add(a.SecretField, "required")
	case strings.TrimSpace(a.Secret) != a.Secret || strings.ContainsFunc(a.Secret, isControl):
		p.Add(a.SecretField, "has leading/trailing spaces or control characters (value not shown)")
	case a.Secret == a.AccessKeyID:
		p.Add(a.SecretField, "equals AccessKeyID")
	}
	if a.AccountID == "" {
		a.AccountID = a.AccountName
	}
	if a.AccountID == "" {
		p.Add("AccountID", "required (or set AccountName, its default)")
	} else if msg := asset.CheckText(a.AccountID, true); msg != "" {
		p.Add("AccountID", "%s", msg)
	}
	if msg := asset.CheckText(a.AccountName, false); msg != "" {
		p.Add("AccountName", "%s", msg)
	}
	if len(a.Regions) == 0 {
		p.Add("Regions", "at least one region is required")
	}
	seen := map[string]bool{}
	regions := make([]string, 0, len(a.Regions))
	for i, r := range a.Regions {
		r = strings.TrimSpace(r)
		switch {
		case !ValidRegionID(r):
			p.Add(fmt.Sprintf("Regions[%d]", i), "%q is not a region id (letters, digits, '-' and '_')", r)
		case seen[r]:
			p.Add(fmt.Sprintf("Regions[%d]", i), "%q is listed twice", r)
		}
		seen[r] = true
		regions = append(regions, r)
	}
	a.Regions = regions
	return p
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isSpaceOrControl(r rune) bool { return r == ' ' || isControl(r) }

// regionRE is a region id as the clouds' SDKs accept it: it goes into URL
// hosts, paths and query values.
var regionRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// ValidRegionID reports whether r is usable as a region id.
func ValidRegionID(r string) bool { return regionRE.MatchString(r) }

// ConfigProblems collects what is wrong with a Source's Config, each a
// *config.FieldError keyed by the Go field name.
type ConfigProblems []error

// Add records a problem of field.
func (p *ConfigProblems) Add(field, format string, args ...any) {
	*p = append(*p, config.Invalid(field, format, args...))
}

// PageSize checks the PageSize field: 0 becomes max, and it must be 1-max.
func (p *ConfigProblems) PageSize(size *int, max int) {
	switch {
	case *size == 0:
		*size = max
	case *size < 0 || *size > max:
		p.Add("PageSize", "must be 1-%d (0 = %d), got %d", max, max, *size)
	}
}

// Timeout checks the Timeout field: 0 becomes def, and it must not be
// negative.
func (p *ConfigProblems) Timeout(d *time.Duration, def time.Duration) {
	switch {
	case *d == 0:
		*d = def
	case *d < 0:
		p.Add("Timeout", "must not be negative, got %s", *d)
	}
}

// Err returns nil when there is no problem, else a *ConfigError that
// matches sentinel ("<cloud>: invalid config") with errors.Is and whose
// text has secret masked.
func (p ConfigProblems) Err(sentinel error, secret string) error {
	if len(p) == 0 {
		return nil
	}
	msg := make([]string, len(p))
	for i, e := range p {
		msg[i] = e.Error()
	}
	text := strings.Join(msg, "; ")
	if secret != "" {
		text = strings.ReplaceAll(text, secret, config.Redacted)
	}
	return &ConfigError{Problems: p, sentinel: sentinel, text: fmt.Sprintf("%v: %d problem(s): %s", sentinel, len(p), text)}
}

// ConfigError lists every problem of a Source's Config, each a
// *config.FieldError keyed by the Go field name. It matches its cloud's
// ErrInvalidConfig with errors.Is.
type ConfigError struct {
	Problems []error
	sentinel error
	text     string
}

func (e *ConfigError) Error() string { return e.text }

// Is makes errors.Is(err, ErrInvalidConfig) true for the cloud's sentinel.
func (e *ConfigError) Is(target error) bool { return target == e.sentinel }

// Unwrap returns the problems, so errors.As finds a *config.FieldError.
func (e *ConfigError) Unwrap() []error { return e.Problems }

// ConfigFields is a Config as printed: its fields in order, the secret
// already replaced by RedactSecret. A Config's MarshalJSON and LogValue
// render it, so that neither ever shows the secret.
type ConfigFields []slog.Attr

// LogValue renders the fields as a slog group, in order.
func (f ConfigFields) LogValue() slog.Value { return slog.GroupValue(f...) }

// MarshalJSON renders the fields as a JSON object.
func (f ConfigFields) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(f))
	for _, a := range f {
		m[a.Key] = a.Value.Any()
	}
	return json.Marshal(m)
}

// RedactSecret is what renderings print for a secret: config.Redacted, or
// "" when none is set.
func RedactSecret(secret string) string {
	if secret == "" {
		return ""
	}
	return config.Redacted
}

// Endpoint is a parsed endpoint setting: a private cloud's or a
// simulator's host instead of the cloud's own regional endpoints.
type Endpoint struct {
	// Scheme is "http" or "https": as written, else http for a loopback
	// host and https for any other.
	Scheme string
	// Host is "host[:port]", "" for an empty setting (the cloud's own
	// endpoints; Scheme is then https).
	Host     string
	Loopback bool
}

// URL is "scheme://host[:port]", or "" for an empty setting.
func (e Endpoint) URL() string {
	if e.Host == "" {
		return ""
	}
	return e.Scheme + "://" + e.Host
}

// ParseEndpoint parses "host[:port]" or "http(s)://host[:port]"; a trailing
// "/" is allowed, a path, query or user info is not (the clouds sign the
// path "/", or their SDKs drop it).
func ParseEndpoint(raw string) (Endpoint, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Endpoint{Scheme: "https"}, nil
	}
	scheme, rest := "", raw
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, rest = strings.ToLower(raw[:i]), raw[i+3:]
		if scheme != "http" && scheme != "https" {
			return Endpoint{}, fmt.Errorf("scheme must be http or https, not %q", scheme)
		}
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return Endpoint{}, errors.New(`must be "host[:port]" or "http(s)://host[:port]" without a path`)
	}
	u, err := url.Parse("//" + rest)
	if err != nil || u.Hostname() == "" {
		return Endpoint{}, fmt.Errorf("%q is not a host[:port]", rest)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Endpoint{}, fmt.Errorf("port %q is not 1-65535", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return Endpoint{}, errors.New("empty port")
	}
	ep := Endpoint{Scheme: scheme, Host: u.Host, Loopback: isLoopback(u.Hostname())}
	if ep.Scheme == "" {
		ep.Scheme = "https"
		if ep.Loopback {
			ep.Scheme = "http"
		}
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
