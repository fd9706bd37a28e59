package huawei

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/collector"
)

// Defaults and limits of Config.
const (
	// MaxPageSize is the largest limit ListServersDetails accepts; it is also
	// the default, so a region of N servers costs ceil(N/1000) calls (one
	// more when N is a multiple of 1000: the empty page that ends it).
	MaxPageSize = 1000
	// DefaultTimeout bounds one API request. The SDK's own default is 120 s;
	// a page of 1000 servers is a few MB, which loopback serves in well
	// under a second and the real API in a few.
	DefaultTimeout = 30 * time.Second
	// AllGrantedEPs is the enterprise_project_id that lists every enterprise
	// project the key is granted: what EnterpriseProjectID "" sends.
	AllGrantedEPs = "all_granted_eps"
	// RealIAMEndpoint is the global IAM endpoint, used for the project lookup
	// when neither IAMEndpoint nor Endpoint is set and the SDK's IAM region
	// table does not know the region.
	RealIAMEndpoint = "https://iam.myhuaweicloud.com"
)

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("huawei: invalid config")

// Config configures one Huawei Cloud account of the collector.
//
// The secret access key is never printed: Config implements fmt.Formatter
// (every verb), fmt.GoStringer, json.Marshaler and slog.LogValuer, all of
// which render it as [config.Redacted], and New's validation errors never
// quote it.
type Config struct {
	// AccessKeyID and SecretAccessKey are a permanent AK/SK. The SDK's
	// default credential chain (environment, profile, ECS metadata service
	// at 169.254.169.254) is never used.
	AccessKeyID     string
	SecretAccessKey string
	// AccountID is the configured account's stable id (asset.Instance
	// AccountID, scopes, subjects); it defaults to AccountName.
	AccountID string
	// AccountName is the display name (node path). Optional.
	AccountName string
	// Regions to list, such as "cn-north-4". At least one.
	Regions []string
	// ProjectIDs maps a region to its project id. A region without one has
	// it looked up once per Source through IAM (GET /v3/projects?name=
	// <region>, which must answer exactly one project). Every key must be
	// one of Regions.
	ProjectIDs map[string]string
	// Endpoint is "" for the real Huawei Cloud (the SDK's regional ECS
	// endpoint, https://ecs.<region>.myhuaweicloud.com), or
	// "http(s)://host[:port]" (or "host:port") for a private cloud or the
	// simulator: every region then goes to that one host, the project id
	// in the path selecting the region. Without a scheme, loopback hosts
	// get http:// and others https://. No path: the SDK drops it.
	Endpoint string
	// IAMEndpoint is where the project lookup and Identity go; it defaults
	// to Endpoint when that is set, else the SDK's IAM endpoint of the
	// region (https://iam.<region>.myhuaweicloud.com) or RealIAMEndpoint.
	// Same syntax as Endpoint.
	IAMEndpoint string
	// EnterpriseProjectID filters the listing by enterprise project. ""
	// (the default) sends AllGrantedEPs: every server of every enterprise
	// project the key may see, which is what the old tool listed for an
	// account-wide key and what an IAM user authorised per enterprise
	// project only gets with this value (without it Huawei lists the
	// default project "0" only). Set an id ("0", a UUID) to list one
	// enterprise project; narrowing it is a scope change for the reconciler.
	EnterpriseProjectID string
	// PageSize is ListServersDetails' limit: 1-1000, 0 = 1000.
	PageSize int
	// Timeout bounds each API request (0 = DefaultTimeout). The whole pass is
	// bounded by the context given to List.
	Timeout time.Duration
	// Backoff retries throttled calls (429 APIGW.0308); the zero value is
	// collector.Backoff's defaults (6 retries, 200 ms doubling to 10 s, full
	// jitter); a negative Attempts retries nothing.
	Backoff collector.Backoff
}

// fields returns c as printed, the secret redacted.
func (c Config) fields() collector.ConfigFields {
	return collector.ConfigFields{
		slog.String("AccessKeyID", c.AccessKeyID), slog.String("SecretAccessKey", collector.RedactSecret(c.SecretAccessKey)),
		slog.String("AccountID", c.AccountID), slog.String("AccountName", c.AccountName), slog.Any("Regions", c.Regions),
		slog.Any("ProjectIDs", c.ProjectIDs), slog.String("Endpoint", c.Endpoint), slog.String("IAMEndpoint", c.IAMEndpoint),
		slog.String("EnterpriseProjectID", c.EnterpriseProjectID), slog.Int("PageSize", c.PageSize),
		slog.String("Timeout", c.Timeout.String()),
	}
}

// String renders c without its secret.
func (c Config) String() string {
	pids := make([]string, 0, len(c.ProjectIDs))
	for _, r := range slices.Sorted(maps.Keys(c.ProjectIDs)) {
		pids = append(pids, r+"="+c.ProjectIDs[r])
	}
	return fmt.Sprintf("huawei.Config{AccessKeyID:%q SecretAccessKey:%q AccountID:%q AccountName:%q Regions:%q ProjectIDs:%q Endpoint:%q IAMEndpoint:%q EnterpriseProjectID:%q PageSize:%d Timeout:%s}",
		c.AccessKeyID, collector.RedactSecret(c.SecretAccessKey), c.AccountID, c.AccountName, c.Regions, pids, c.Endpoint, c.IAMEndpoint,
		c.EnterpriseProjectID, c.PageSize, c.Timeout)
}

// GoString renders c for %#v, without its secret.
func (c Config) GoString() string { return c.String() }

// Format makes every fmt verb (even a wrong one such as %d) print String.
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// MarshalJSON encodes c with its secret redacted.
func (c Config) MarshalJSON() ([]byte, error) { return c.fields().MarshalJSON() }

// LogValue renders c for slog with its secret redacted.
func (c Config) LogValue() slog.Value { return c.fields().LogValue() }

var (
	// projectRE is a project id: it goes into the request path, so never a
	// '/', '{' or '}' (a literal "{project_id}" must never be sent).
	projectRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	// epRE is an enterprise project id ("0", a UUID, all_granted_eps).
	epRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
)

// parseEndpoint turns an Endpoint or IAMEndpoint value into the
// "scheme://host[:port]" the SDK wants ("" stays "").
func parseEndpoint(raw string) (string, error) {
	ep, err := collector.ParseEndpoint(raw)
	return ep.URL(), err
}

// settings is a validated Config with its defaults applied.
type settings struct {
	Config
	endpoint    string // "" = the SDK's regional endpoint
	iamEndpoint string // "" = the SDK's IAM endpoint of the region, else RealIAMEndpoint
	ep          string // enterprise_project_id sent
}

// validate checks every field at once and applies defaults. Problems name
// the Go field; none quotes the secret.
func validate(cfg Config) (*settings, error) {
	acct := collector.AccountConfig{AccessKeyID: cfg.AccessKeyID, Secret: cfg.SecretAccessKey, SecretField: "SecretAccessKey",
		AccountID: cfg.AccountID, AccountName: cfg.AccountName, Regions: cfg.Regions}
	p := collector.ConfigProblems(acct.Validate())
	s := &settings{Config: cfg}
	s.AccessKeyID, s.AccountID, s.AccountName, s.Regions = acct.AccessKeyID, acct.AccountID, acct.AccountName, acct.Regions
	pids := make(map[string]string, len(s.ProjectIDs))
	for _, r := range slices.Sorted(maps.Keys(s.ProjectIDs)) {
		id := strings.TrimSpace(s.ProjectIDs[r])
		key := strings.TrimSpace(r)
		field := fmt.Sprintf("ProjectIDs[%s]", strconv.Quote(r))
		switch {
		case !slices.Contains(s.Regions, key):
			p.Add(field, "%q is not one of Regions", r)
		case id == "":
			p.Add(field, "empty (leave the region out to look its project id up through IAM)")
		case !projectRE.MatchString(id):
			p.Add(field, "%q is not a project id (letters, digits, '-' and '_', at most 64)", id)
		}
		pids[key] = id
	}
	s.ProjectIDs = pids
	var err error
	if s.endpoint, err = parseEndpoint(s.Endpoint); err != nil {
		p.Add("Endpoint", "%v", err)
	}
	if strings.TrimSpace(s.IAMEndpoint) != "" {
		if s.iamEndpoint, err = parseEndpoint(s.IAMEndpoint); err != nil {
			p.Add("IAMEndpoint", "%v", err)
		}
	} else {
		s.iamEndpoint = s.endpoint
	}
	s.EnterpriseProjectID = strings.TrimSpace(s.EnterpriseProjectID)
	switch {
	case s.EnterpriseProjectID == "":
		s.ep = AllGrantedEPs
	case !epRE.MatchString(s.EnterpriseProjectID):
		p.Add("EnterpriseProjectID", "%q is not an enterprise project id (\"0\", a UUID or %s)", s.EnterpriseProjectID, AllGrantedEPs)
	default:
		s.ep = s.EnterpriseProjectID
	}
	p.PageSize(&s.PageSize, MaxPageSize)
	p.Timeout(&s.Timeout, DefaultTimeout)
	if err := p.Err(ErrInvalidConfig, cfg.SecretAccessKey); err != nil {
		return nil, err
	}
	return s, nil
}

// ConfigError lists every problem of a Config, each a *config.FieldError
// keyed by the Go field name. It matches ErrInvalidConfig with errors.Is.
type ConfigError = collector.ConfigError
