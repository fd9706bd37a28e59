package huawei

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	sdkconfig "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	ecs "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2/model"
	ecsregion "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2/region"
	iam "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3"
	iammodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"
	iamregion "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/region"

	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/events"
)

// maxPages stops a listing whose marker never ends (100 million servers at
// 1000 per page): a broken API must not loop forever.
const maxPages = 100_000

// Source lists the ECS servers of one Huawei Cloud account. It implements
// collector.Source and is safe for concurrent use across regions.
type Source struct {
	cfg       *settings // holds the secret; Format keeps it out of every rendering of a Source
	transport *http.Transport
	report    collector.Failures // the ListErrors of this account

	projects *projectCache // region → project id, configured or looked up
	// ecsURL and iamURL are the endpoints of the configured regions,
	// resolved once (the SDK's region table may read a file).
	ecsURL, iamURL map[string]string
}

// projectCache holds each region's project id. A pointer, so that a Source
// value (String, Format) copies no lock.
type projectCache struct {
	mu  sync.Mutex
	ids map[string]string
}

func (c *projectCache) get(region string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[region]
	return id, ok
}

// put records id for region; keep leaves an existing entry alone.
func (c *projectCache) put(region, id string, keep bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ids[region]; ok && keep {
		return
	}
	c.ids[region] = id
}

var _ collector.Source = (*Source)(nil)

// New validates cfg — reporting every problem at once, naming fields and
// never quoting the secret — and prepares the Source. It makes no call.
//
// Clients: the SDK takes no context, and its http.Client timeout is fixed
// when a client is built. So every call builds its own SDK client (cheap:
// no I/O with an explicit project id) whose round tripper ties the request
// to the caller's context, over one shared HTTP transport (connections are
// pooled). A cancelled pass therefore aborts its request at once instead of
// leaving it running. ECS clients are always built with an explicit project
// id and WithEndpoints, never WithRegion: the SDK's own discovery never
// runs, and no request can carry a literal "{project_id}" (see doc.go).
func New(cfg Config) (*Source, error) {
	s, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	src := &Source{cfg: s, transport: newTransport(), projects: &projectCache{ids: make(map[string]string, len(s.Regions))},
		report: collector.Failures{AccountID: s.AccountID, Secret: s.SecretAccessKey, Codes: codes, RequestTimeout: fmt.Sprintf("Timeout %s", s.Timeout)}}
	for r, id := range s.ProjectIDs {
		src.projects.put(r, id, false)
	}
	src.ecsURL, src.iamURL = make(map[string]string, len(s.Regions)), make(map[string]string, len(s.Regions))
	for _, r := range s.Regions {
		src.ecsURL[r], src.iamURL[r] = src.resolveECS(r), src.resolveIAM(r)
	}
	return src, nil
}

// newTransport is like the SDK's default transport — no proxy from the
// environment, TLS verified — with dial and handshake timeouts.
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// AccountID returns the configured account's stable id.
func (s *Source) AccountID() string { return s.cfg.AccountID }

// AccountName returns the configured display name.
func (s *Source) AccountName() string { return s.cfg.AccountName }

// Regions returns the configured regions.
func (s *Source) Regions() []string { return slices.Clone(s.cfg.Regions) }

// String describes s without its secret. String and Format have value
// receivers so that a Source value prints through them too: fmt would
// otherwise dereference its unexported fields under a wrong verb.
func (s Source) String() string {
	return fmt.Sprintf("huawei.Source{account:%q regions:%q endpoint:%q iam:%q}", s.cfg.AccountID, s.cfg.Regions, s.cfg.endpoint, s.cfg.iamEndpoint)
}

// Format makes every fmt verb print String.
func (s Source) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// ecsEndpoint is the ECS endpoint of region (see resolveECS).
func (s *Source) ecsEndpoint(region string) string {
	if u, ok := s.ecsURL[region]; ok {
		return u
	}
	return s.resolveECS(region)
}

// iamEndpoint is the IAM endpoint of region's project lookup (see resolveIAM).
func (s *Source) iamEndpoint(region string) string {
	if u, ok := s.iamURL[region]; ok {
		return u
	}
	return s.resolveIAM(region)
}

// resolveECS: Endpoint, else the SDK's region table (which also reads
// HUAWEICLOUD_SDK_REGION_ECS_<REGION>), else the documented pattern for
// regions the SDK does not know yet.
func (s *Source) resolveECS(region string) string {
	if s.cfg.endpoint != "" {
		return s.cfg.endpoint
	}
	if r, err := ecsregion.SafeValueOf(region); err == nil && r != nil && len(r.Endpoints) > 0 {
		return r.Endpoints[0]
	}
	return "https://ecs." + region + ".myhuaweicloud.com"
}

// resolveIAM: IAMEndpoint (or Endpoint), else the SDK's IAM region table,
// else the global IAM endpoint.
func (s *Source) resolveIAM(region string) string {
	if s.cfg.iamEndpoint != "" {
		return s.cfg.iamEndpoint
	}
	if r, err := iamregion.SafeValueOf(region); err == nil && r != nil && len(r.Endpoints) > 0 {
		return r.Endpoints[0]
	}
	return RealIAMEndpoint
}

// ctxTransport ties every request to ctx, besides the http.Client timeout
// already in the request's own context.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	release := func() { stop(); cancel() }
	resp, err := t.base.RoundTrip(req.WithContext(rctx))
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releaseBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releaseBody releases the request's context once the body is closed.
type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// httpConfig is the SDK configuration of one call.
func (s *Source) httpConfig(ctx context.Context) *sdkconfig.HttpConfig {
	return sdkconfig.DefaultHttpConfig().
		WithTimeout(s.cfg.Timeout).
		WithHttpRoundTripper(ctxTransport{ctx: ctx, base: s.transport})
}

// ecsClient builds the ECS client of one call: explicit project id, the
// region's endpoint, a static AK/SK (never the default credential chain).
func (s *Source) ecsClient(ctx context.Context, region, projectID string) (*ecs.EcsClient, error) {
	if !projectRE.MatchString(projectID) { // never a literal {project_id}
		return nil, fmt.Errorf("no usable project id for region %s", region)
	}
	cred, err := basic.NewCredentialsBuilder().WithAk(s.cfg.AccessKeyID).WithSk(s.cfg.SecretAccessKey).
		WithProjectId(projectID).SafeBuild()
	if err != nil {
		return nil, err
	}
	hc, err := ecs.EcsClientBuilder().
		WithEndpoints([]string{s.ecsEndpoint(region)}).
		WithCredential(cred).
		WithHttpConfig(s.httpConfig(ctx)).
		SafeBuild()
	if err != nil {
		return nil, err
	}
	return ecs.NewEcsClient(hc), nil
}

// iamClient builds the IAM client of one call: the same AK/SK, without a
// project id (KeystoneListProjects has none in its path).
func (s *Source) iamClient(ctx context.Context, region string) (*iam.IamClient, error) {
	cred, err := basic.NewCredentialsBuilder().WithAk(s.cfg.AccessKeyID).WithSk(s.cfg.SecretAccessKey).SafeBuild()
	if err != nil {
		return nil, err
	}
	hc, err := iam.IamClientBuilder().
		WithEndpoints([]string{s.iamEndpoint(region)}).
		WithCredential(cred).
		WithHttpConfig(s.httpConfig(ctx)).
		SafeBuild()
	if err != nil {
		return nil, err
	}
	return iam.NewIamClient(hc), nil
}

// retry calls fn through the configured Backoff (see
// collector.ErrorCodes.Retry and doc.go) and returns the calls made and the
// last error as an *APIError.
func (s *Source) retry(ctx context.Context, action string, fn func() error) (int, *APIError) {
	return codes.Retry(ctx, s.cfg.Backoff, func(err error) *APIError {
		return toAPIError(ctx, action, err, s.cfg.SecretAccessKey)
	}, fn)
}

// listProjects asks IAM for the projects named region (the caller's own
// domain's projects only), with the retry policy of every call.
func (s *Source) listProjects(ctx context.Context, region string) ([]iammodel.ProjectResult, int, *APIError) {
	var projects []iammodel.ProjectResult
	calls, ae := s.retry(ctx, actionProjects, func() error {
		c, err := s.iamClient(ctx, region)
		if err != nil {
			return err
		}
		name := region
		resp, err := c.KeystoneListProjects(&iammodel.KeystoneListProjectsRequest{Name: &name})
		if err != nil {
			return err
		}
		projects = nil
		if resp.Projects != nil {
			for _, p := range *resp.Projects {
				if p.Name == region { // the filter is exact; keep it so
					projects = append(projects, p)
				}
			}
		}
		return nil
	})
	return projects, calls, ae
}

// projectID returns region's project id: configured, looked up before, or
// looked up now through IAM (exactly one project must be named region).
func (s *Source) projectID(ctx context.Context, region string) (string, int, *collector.ListError) {
	if id, ok := s.projects.get(region); ok {
		return id, 0, nil
	}
	projects, calls, ae := s.listProjects(ctx, region)
	if ae != nil {
		return "", calls, s.report.Fail(ae, region, "project id lookup", calls)
	}
	switch len(projects) {
	case 0:
		return "", calls, s.report.Failf(ReasonProjectUnresolved, nil, region,
			"project id lookup: IAM lists no project named %q for this access key (region not opened for the account, or a wrong IAMEndpoint); set ProjectIDs[%q]", region, region)
	case 1:
	default:
		ids := make([]string, len(projects))
		for i, p := range projects {
			ids[i] = p.Id
		}
		return "", calls, s.report.Failf(ReasonProjectUnresolved, nil, region,
			"project id lookup: IAM lists %d projects named %q (%s); set ProjectIDs[%q] to the one to list", len(projects), region, strings.Join(ids, ", "), region)
	}
	id := projects[0].Id
	if !projectRE.MatchString(id) {
		return "", calls, s.report.Failf(ReasonProjectUnresolved, nil, region, "project id lookup: IAM answered an unusable project id %q; set ProjectIDs[%q]", id, region)
	}
	s.projects.put(region, id, false)
	return id, calls, nil
}

// Identity returns the Huawei account (domain id) the access key belongs
// to, read from the IAM project lookup of region (the first configured
// region when region is ""): every project IAM lists belongs to the
// caller's domain. When region has no configured project id, the one found
// is kept for List. Failures are *collector.ListError: auth, throttled,
// timeout and canceled as for List; anything else identity_unknown.
func (s *Source) Identity(ctx context.Context, region string) (string, error) {
	if region == "" {
		region = s.cfg.Regions[0]
	}
	if !collector.ValidRegionID(region) {
		return "", s.report.Failf(events.ReasonIdentityUnknown, nil, "", "invalid region %q", region)
	}
	projects, calls, ae := s.listProjects(ctx, region)
	if ae != nil {
		return "", s.report.FailIdentity(ae, region, "account identity", calls)
	}
	fail := func(format string, args ...any) (string, error) {
		le := s.report.Failf(events.ReasonIdentityUnknown, nil, region, "account identity: "+format, args...)
		le.Calls = calls
		return "", le
	}
	if len(projects) == 0 {
		return fail("IAM lists no project named %q for this access key, so the domain id cannot be read", region)
	}
	domain := ""
	for _, p := range projects {
		switch {
		case p.DomainId == "":
			return fail("IAM listed project %s without a domain_id", p.Id)
		case domain != "" && p.DomainId != domain:
			return fail("IAM listed projects of two domains (%s, %s)", domain, p.DomainId)
		}
		domain = p.DomainId
	}
	if len(projects) == 1 && projectRE.MatchString(projects[0].Id) {
		s.projects.put(region, projects[0].Id, true)
	}
	return domain, nil
}

// dryRunProbe is recorded on every listing: ListServersDetails has no
// DryRun, so a key without list permission that gets an empty answer cannot
// be told from an empty region here (the reconciler judges an empty listing
// of a populated scope as suspicious).
var dryRunProbe = events.Probe{Name: events.ProbeDryRun, Outcome: events.ProbeUnsupported,
	Detail: "ListServersDetails has no DryRun; an empty listing is not verified"}

// List lists every server of region, completely, or fails with a
// *collector.ListError (see doc.go for the paging, retry and error policy).
func (s *Source) List(ctx context.Context, region string) (*collector.Listing, error) {
	if !collector.ValidRegionID(region) {
		return nil, s.report.Failf(events.ReasonAPIError, nil, "", "invalid region %q", region)
	}
	lst := &collector.Listing{Probes: []events.Probe{dryRunProbe}}
	pid, calls, le := s.projectID(ctx, region)
	lst.Calls += calls
	if le != nil {
		return lst.Failed(le)
	}

	limit := int32(s.cfg.PageSize)
	seen := make(map[string]bool)
	firstCount, stable := int32(-1), true
	marker := ""
	for page := 1; ; page++ {
		if page > maxPages {
			return lst.Failed(s.report.Failf(events.ReasonAPIError, nil, region, "ListServersDetails still returns servers after %d pages", maxPages))
		}
		var resp *model.ListServersDetailsResponse
		calls, ae := s.retry(ctx, actionList, func() error {
			c, err := s.ecsClient(ctx, region, pid)
			if err != nil {
				return err
			}
			req := &model.ListServersDetailsRequest{Limit: &limit, EnterpriseProjectId: &s.cfg.ep}
			if marker != "" {
				m := marker
				req.Marker = &m
			}
			r, err := c.ListServersDetails(req)
			if err == nil {
				resp = r
			}
			return err
		})
		lst.Calls += calls
		if ae != nil {
			return lst.Failed(s.report.Fail(ae, region, fmt.Sprintf("page %d", page), calls))
		}
		lst.Pages++
		var servers []model.ServerDetail
		if resp.Servers != nil {
			servers = *resp.Servers
		}
		count := int32(-1)
		if resp.Count != nil {
			count = *resp.Count
			if firstCount < 0 {
				firstCount = count
			} else if count != firstCount {
				stable = false // churn: marker paging neither skips nor repeats
			}
		}
		for _, raw := range servers {
			if raw.TenantId != "" && raw.TenantId != pid {
				return lst.Failed(s.report.Failf(events.ReasonAPIError, nil, region, "page %d: server %q reports project %q, not %q",
					page, raw.Id, raw.TenantId, pid))
			}
			in := MapServer(raw, s.cfg.AccountID, region)
			if err := in.Validate(); err != nil {
				return lst.Failed(s.report.Failf(events.ReasonAPIError, err, region, "page %d: unusable server %q: %v", page, raw.Id, err))
			}
			if seen[in.InstanceID] {
				return lst.Failed(s.report.Failf(events.ReasonChurn, nil, region, "page %d: server %s listed twice; the paging is inconsistent",
					page, in.InstanceID))
			}
			seen[in.InstanceID] = true
			lst.Instances = append(lst.Instances, in)
		}
		// A full page may be followed by more; so may a short one while
		// fewer servers were listed than count says (an endpoint that caps
		// limit lower). An empty page always ends the listing.
		if len(servers) == 0 || (len(servers) < int(limit) && int32(len(lst.Instances)) >= count) {
			break
		}
		next := servers[len(servers)-1].Id
		if next == "" || next == marker {
			return lst.Failed(s.report.Failf(events.ReasonAPIError, nil, region, "page %d: the last server has no usable id to continue from", page))
		}
		marker = next
	}
	if stable && firstCount >= 0 && int32(len(lst.Instances)) < firstCount {
		return lst.Failed(s.report.Failf(events.ReasonAPIError, nil, region,
			"ListServersDetails reported count %d on every page but paging ended after %d servers", firstCount, len(lst.Instances)))
	}
	return lst, nil
}
