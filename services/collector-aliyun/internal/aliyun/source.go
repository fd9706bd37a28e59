package aliyun

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/events"
)

// maxPages stops a listing whose NextToken never ends (10 million
// instances at 100 per page): a broken API must not loop forever.
const maxPages = 100_000

// connectTimeout is the SDK's own dial timeout, kept unless Timeout is shorter.
const connectTimeout = 5 * time.Second

// Source lists the ECS instances of one Aliyun account. It implements
// collector.Source and is safe for concurrent use across regions.
type Source struct {
	cfg    *settings // holds the secret; Format keeps it out of every rendering of a Source
	ecs    *pool[*ecs.Client]
	sts    *pool[*sts.Client]
	report collector.Failures // the ListErrors of this account

	ident *identityCache // a pointer: String and Format take Source by value
}

// identityCache is the account id STS answered last, and when.
type identityCache struct {
	mu sync.Mutex
	id string
	at time.Time
}

// identityTTL is how long an answer of GetCallerIdentity is reused. An
// AccessKey belongs to one account for its whole life, so the answer cannot
// change; asking again now and then still notices a key replaced behind a
// _FILE. A key disabled meanwhile fails the listing itself. Reusing it
// takes a round trip off every pass but the first.
const identityTTL = 10 * time.Minute

var _ collector.Source = (*Source)(nil)

// New validates cfg — reporting every problem at once, naming fields and
// never quoting the secret — and builds the SDK clients.
//
// Clients: the SDK writes its timeouts into the client's shared http.Client
// and Transport on every call (sdk.Client.setTimeout), so one client used by
// two goroutines at once is a data race; and List abandons a call whose
// context ends, leaving it running on its client. Instead of one client per
// region (still shared by an abandoned call and the next pass), Source keeps
// a small pool: each call takes a client for itself and gives it back when
// the SDK returns. One ECS client lists every region (req.RegionId picks the
// region; the endpoint follows it, or Endpoint pins one host), so the pool
// holds as many clients as calls run at once, usually one per region listed
// in parallel. One ECS and one STS client are built here so that a
// construction error shows at start.
func New(cfg Config) (*Source, error) {
	s, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	src := &Source{cfg: s, ident: &identityCache{}, report: collector.Failures{AccountID: s.AccountID, Secret: s.AccessKeySecret, Codes: codes,
		RequestTimeout: fmt.Sprintf("Timeout %s, or less when the pass deadline was nearer", s.Timeout)}}
	src.ecs = &pool[*ecs.Client]{build: src.newECS}
	src.sts = &pool[*sts.Client]{build: src.newSTS}
	e, err := src.newECS()
	if err != nil {
		return nil, fmt.Errorf("aliyun: ecs client: %s", sanitize(err.Error(), s.AccessKeySecret))
	}
	t, err := src.newSTS()
	if err != nil {
		return nil, fmt.Errorf("aliyun: sts client: %s", sanitize(err.Error(), s.AccessKeySecret))
	}
	src.ecs.put(e)
	src.sts.put(t)
	return src, nil
}

// sdkConfig is the SDK configuration of every client: no SDK retries (this
// package retries throttling itself, with backoff), the endpoint's scheme.
func (s *Source) sdkConfig(ep endpoint) *sdk.Config {
	return sdk.NewConfig().WithAutoRetry(false).WithScheme(ep.scheme)
}

// credential is always a static access key: never the SDK's default chain
// (environment, profile file, ECS metadata service).
func (s *Source) credential() *credentials.StaticAKCredentialsProvider {
	return credentials.NewStaticAKCredentialsProvider(s.cfg.AccessKeyID, s.cfg.AccessKeySecret)
}

// sdkTables guards the SDK's endpoint tables: ecs.GetEndpointMap and
// sts.GetEndpointMap build a package variable on first use without any
// synchronisation, so the first clients of two Sources built at the same
// time (two accounts, two all-in-one stacks in one process) race on it.
// They are built once here, before any client.
var sdkTables sync.Once

func initSDKTables() {
	sdkTables.Do(func() {
		ecs.GetEndpointMap()
		sts.GetEndpointMap()
	})
}

func (s *Source) newECS() (*ecs.Client, error) {
	initSDKTables()
	c, err := ecs.NewClientWithOptions(s.cfg.Regions[0], s.sdkConfig(s.cfg.ecs), s.credential())
	if err != nil {
		return nil, err
	}
	c.Domain = s.cfg.ecs.domain
	if s.cfg.ecs.loopback {
		c.SetNoProxy(s.cfg.ecs.noProxyPattern()) // the SDK proxies even loopback traffic otherwise
	}
	return c, nil
}

func (s *Source) newSTS() (*sts.Client, error) {
	initSDKTables()
	c, err := sts.NewClientWithOptions(s.cfg.Regions[0], s.sdkConfig(s.cfg.sts), s.credential())
	if err != nil {
		return nil, err
	}
	c.Domain = s.cfg.sts.domain
	if s.cfg.sts.loopback {
		c.SetNoProxy(s.cfg.sts.noProxyPattern())
	}
	return c, nil
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
	return fmt.Sprintf("aliyun.Source{account:%q regions:%q ecs:%q sts:%q}", s.cfg.AccountID, s.cfg.Regions, s.cfg.ecs.domain, s.cfg.sts.domain)
}

// Format makes every fmt verb print String.
func (s Source) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// pool hands each SDK call a client of its own (see New).
type pool[C any] struct {
	mu    sync.Mutex
	idle  []C
	build func() (C, error)
}

const maxIdleClients = 8

func (p *pool[C]) get() (C, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	return p.build()
}

func (p *pool[C]) put(c C) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) < maxIdleClients {
		p.idle = append(p.idle, c)
	}
}

// run makes one SDK call on a pooled client. The SDK takes no context, so
// the call runs in its own goroutine and run returns as soon as ctx ends;
// the abandoned call finishes on its own within its request timeout
// (bounded by Timeout and by ctx's deadline, see reqTimeout), then gives its
// client back. Nothing is shared with it: the request and response are its
// own.
func run[C, R any](ctx context.Context, p *pool[C], call func(C) (R, error)) (R, error) {
	var zero R
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	c, err := p.get()
	if err != nil {
		return zero, err
	}
	type result struct {
		r   R
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned call never blocks
	go func() {
		r, err := call(c)
		p.put(c)
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// reqTimeout is the SDK's per-request timeout: Timeout, or less when ctx's
// deadline comes sooner, so that an abandoned call does not outlive it long.
func (s *Source) reqTimeout(ctx context.Context) (read, connect time.Duration) {
	read = s.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < read {
			read = max(left, time.Millisecond)
		}
	}
	return read, min(read, connectTimeout)
}

// retry calls fn through the configured Backoff (see
// collector.ErrorCodes.Retry and doc.go) and returns the calls made and the
// last error as an *APIError.
func (s *Source) retry(ctx context.Context, action string, fn func() error) (int, *APIError) {
	return codes.Retry(ctx, s.cfg.Backoff, func(err error) *APIError {
		return toAPIError(action, err, s.cfg.AccessKeySecret)
	}, fn)
}

// Identity returns the Aliyun account id (STS GetCallerIdentity) the access
// key belongs to. Failures are *collector.ListError: auth, throttled,
// timeout and canceled as for List; anything else identity_unknown.
func (s *Source) Identity(ctx context.Context, region string) (string, error) {
	if region != "" && !collector.ValidRegionID(region) {
		return "", s.report.Failf(events.ReasonIdentityUnknown, nil, "", "invalid region %q", region)
	}
	s.ident.mu.Lock()
	if s.ident.id != "" && time.Since(s.ident.at) < identityTTL {
		id := s.ident.id
		s.ident.mu.Unlock()
		return id, nil
	}
	s.ident.mu.Unlock()
	var id string
	calls, ae := s.retry(ctx, "GetCallerIdentity", func() error {
		resp, err := run(ctx, s.sts, func(c *sts.Client) (*sts.GetCallerIdentityResponse, error) {
			req := sts.CreateGetCallerIdentityRequest()
			req.RegionId = region
			read, conn := s.reqTimeout(ctx)
			req.SetReadTimeout(read)
			req.SetConnectTimeout(conn)
			return c.GetCallerIdentity(req)
		})
		if err == nil {
			id = resp.AccountId
		}
		return err
	})
	if ae != nil {
		return "", s.report.FailIdentity(ae, region, "", calls)
	}
	if id == "" {
		le := s.report.Failf(events.ReasonIdentityUnknown, nil, "", "GetCallerIdentity answered without an AccountId")
		le.Calls = calls
		return "", le
	}
	s.ident.mu.Lock()
	s.ident.id, s.ident.at = id, time.Now()
	s.ident.mu.Unlock()
	return id, nil
}

// List lists every instance of region, completely, or fails with a
// *collector.ListError (see doc.go for the probe, paging, retry and error
// policy).
func (s *Source) List(ctx context.Context, region string) (*collector.Listing, error) {
	if !collector.ValidRegionID(region) {
		return nil, s.report.Failf(events.ReasonAPIError, nil, "", "invalid region %q", region)
	}
	lst := &collector.Listing{}

	// The DryRun probe runs beside the first pages: its answer matters
	// only once the listing is in (an empty listing, or a refusal the
	// probe names more exactly), and one call less in sequence is one
	// cloud round trip less from a change to JumpServer.
	// A failed probe fails the pass: the listing beside it stops then.
	listCtx, stopListing := context.WithCancel(ctx)
	defer stopListing()
	probeDone := make(chan struct{})
	probe := events.Probe{Name: events.ProbeDryRun, Outcome: events.ProbeSkipped, Detail: "disabled by configuration"}
	var probeErr *collector.ListError
	var probeCalls int
	if s.cfg.DryRunProbe() {
		go func() {
			defer close(probeDone)
			probe, probeCalls, probeErr = s.dryRun(ctx, region)
			if probeErr != nil {
				stopListing()
			}
		}()
	} else {
		close(probeDone)
	}
	le := s.listPages(listCtx, region, lst)
	<-probeDone
	lst.Calls += probeCalls
	lst.Probes = append(lst.Probes, probe)
	if probeErr != nil {
		return lst.Failed(probeErr)
	}
	if le != nil {
		return lst.Failed(le)
	}
	if len(lst.Instances) == 0 && probe.Outcome == events.ProbeError {
		// The probe could not tell "may not list" from "nothing there", and
		// an empty answer is exactly what a key without permission may get.
		return lst.Failed(s.report.Failf(events.ReasonAPIError, nil, region, "empty listing not verified: the DryRun probe failed (%s)", probe.Detail))
	}
	return lst, nil
}

// listPages lists every page of region into lst, in sequence (token
// paging).
func (s *Source) listPages(ctx context.Context, region string, lst *collector.Listing) *collector.ListError {
	seen := make(map[string]bool)
	tokens := make(map[string]bool)
	token := ""
	for page := 1; ; page++ {
		if page > maxPages {
			return s.report.Failf(events.ReasonAPIError, nil, region, "DescribeInstances still returns a NextToken after %d pages", maxPages)
		}
		var resp *ecs.DescribeInstancesResponse
		calls, ae := s.retry(ctx, "DescribeInstances", func() error {
			r, err := run(ctx, s.ecs, func(c *ecs.Client) (*ecs.DescribeInstancesResponse, error) {
				return c.DescribeInstances(s.listRequest(ctx, region, token, false))
			})
			if err == nil {
				resp = r
			}
			return err
		})
		lst.Calls += calls
		if ae != nil {
			return s.report.Fail(ae, region, fmt.Sprintf("page %d", page), calls)
		}
		lst.Pages++
		for _, raw := range resp.Instances.Instance {
			if raw.RegionId != "" && raw.RegionId != region {
				return s.report.Failf(events.ReasonAPIError, nil, region, "page %d: instance %q reports region %q (request id %s)",
					page, raw.InstanceId, raw.RegionId, resp.RequestId)
			}
			in := MapInstance(raw, s.cfg.AccountID, region)
			if err := in.Validate(); err != nil {
				return s.report.Failf(events.ReasonAPIError, err, region, "page %d: unusable instance %q: %v (request id %s)",
					page, raw.InstanceId, err, resp.RequestId)
			}
			if seen[in.InstanceID] {
				return s.report.Failf(events.ReasonChurn, nil, region, "page %d: instance %s listed twice; the paging is inconsistent",
					page, in.InstanceID)
			}
			seen[in.InstanceID] = true
			lst.Instances = append(lst.Instances, in)
		}
		next := resp.NextToken
		if next == "" {
			break
		}
		if tokens[next] {
			return s.report.Failf(events.ReasonAPIError, nil, region, "page %d: DescribeInstances returned a NextToken already used", page)
		}
		tokens[next] = true
		token = next
	}

	return nil
}

// listRequest builds one DescribeInstances request (a fresh one per
// attempt: the SDK mutates requests, and an abandoned call keeps its own).
func (s *Source) listRequest(ctx context.Context, region, token string, dryRun bool) *ecs.DescribeInstancesRequest {
	req := ecs.CreateDescribeInstancesRequest()
	req.RegionId = region
	req.MaxResults = requests.NewInteger(s.cfg.PageSize)
	req.NextToken = token
	if dryRun {
		req.DryRun = requests.NewBoolean(true)
	}
	read, conn := s.reqTimeout(ctx)
	req.SetReadTimeout(read)
	req.SetConnectTimeout(conn)
	return req
}

// dryRun asks DescribeInstances with DryRun=true whether the key may list.
//
//   - 400 DryRunOperation: it may → probe ok.
//   - 403 / Forbidden*: it may not → the pass fails with "permission"
//     (a key without permission may otherwise get a successful empty list).
//   - auth, throttling beyond the budget, timeout, cancel → the pass fails
//     with that reason: the listing would meet the same.
//   - a successful answer: the endpoint ignores DryRun → probe unsupported;
//     the listing goes on and an empty result is left to the reconciler.
//   - anything else (5xx after one retry, an unknown code) → probe error;
//     the listing goes on, because a non-empty listing proves the permission
//     by itself, but an empty one then fails the pass (see List).
func (s *Source) dryRun(ctx context.Context, region string) (probe events.Probe, calls int, le *collector.ListError) {
	probe = events.Probe{Name: events.ProbeDryRun}
	ignored := false
	calls, ae := s.retry(ctx, "DescribeInstances", func() error {
		_, err := run(ctx, s.ecs, func(c *ecs.Client) (*ecs.DescribeInstancesResponse, error) {
			return c.DescribeInstances(s.listRequest(ctx, region, "", true))
		})
		if err == nil {
			ignored = true
			return nil
		}
		if toAPIError("DescribeInstances", err, "").Code == codeDryRun {
			return nil // the expected answer: "you could"
		}
		return err
	})
	switch {
	case ae == nil && ignored:
		probe.Outcome, probe.Detail = events.ProbeUnsupported, "DescribeInstances ignored DryRun and answered a listing"
		return probe, calls, nil
	case ae == nil:
		probe.Outcome = events.ProbeOK
		return probe, calls, nil
	}
	le = s.report.Fail(ae, region, "DryRun probe", calls)
	switch le.Reason {
	case events.ReasonPermission:
		probe.Outcome, probe.Detail = events.ProbeDenied, probeDetail(ae)
		return probe, calls, le
	case events.ReasonAuth, events.ReasonThrottled, events.ReasonTimeout, events.ReasonCanceled:
		probe.Outcome, probe.Detail = events.ProbeError, probeDetail(ae)
		return probe, calls, le
	}
	probe.Outcome, probe.Detail = events.ProbeError, probeDetail(ae)
	return probe, calls, nil
}

func probeDetail(ae *APIError) string {
	code := ae.Code
	switch {
	case code == "" && ae.Timeout:
		code = "timeout"
	case code == "":
		code = "no answer"
	}
	if ae.HTTPStatus != 0 {
		code = fmt.Sprintf("%s (HTTP %d)", code, ae.HTTPStatus)
	}
	if ae.RequestID != "" {
		code += ", request id " + ae.RequestID
	}
	return code
}
