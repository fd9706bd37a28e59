package collector

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
)

// instrumentation is the tracer and meter name of this package.
const instrumentation = "github.com/jmssync/jmssync/libs/collector"

// Defaults of Options.
const (
	DefaultLeaseTTL           = 30 * time.Second
	DefaultInterval           = 10 * time.Minute
	DefaultAccountConcurrency = 4
	DefaultPassTimeout        = 30 * time.Minute
	// closeTimeout bounds the publication of a close record, which is made
	// even when the pass was cancelled (a failed close tells the reconciler
	// to discard the chunks already published).
	closeTimeout = 10 * time.Second
	// maxHeadroom is the room left under the server's max payload for the
	// headers (Nats-Msg-Id, traceparent, tracestate, content-type) and subject.
	maxHeadroom = 16 << 10
	// DefaultChunkBytes is the chunk size when Options.ChunkBytes is 0. A
	// chunk is held whole, encoded and decoded, by the collector, the
	// server's caches and the reconciler: a quarter of the default max
	// payload (about 500 instances) keeps those copies small at no cost in
	// round trips worth measuring.
	DefaultChunkBytes = 256 << 10
)

// Options configures a Runner. JS, Replica and Provider are required.
type Options struct {
	JS jetstream.JetStream
	// Conn gives the server's max payload and carries the trigger
	// subscription; JS.Conn() when nil.
	Conn *nats.Conn
	// Replica is this process's id, unique among the collector's replicas
	// (the pod name, host name…). It holds leases and is recorded as the
	// pass's collector.
	Replica  string
	Provider asset.Provider
	// LeaseTTL is how long a region lease lasts without renewal (30s when 0);
	// leases are renewed every LeaseTTL/3, so a dead replica's regions are
	// taken over by the others about LeaseTTL after it stopped.
	LeaseTTL time.Duration
	// Interval between cycles (10m when 0), each shifted by a random amount
	// in [-Jitter, +Jitter] (no jitter when 0).
	Interval time.Duration
	Jitter   time.Duration
	// AccountConcurrency bounds the passes of one account that run at once
	// (4 when 0). Accounts run independently of each other.
	AccountConcurrency int
	// Regions pins this replica to these regions (every region when empty).
	Regions []string
	// Alone starts the first cycle at once instead of waiting for replicas
	// started together to see each other (the all-in-one, normally the only
	// replica: leases still keep replicas apart, only the first split of the
	// regions may be uneven).
	Alone bool
	// PassTimeout bounds one pass (30m when 0); a pass that runs out fails
	// with reason timeout.
	PassTimeout time.Duration
	// ChunkBytes caps the encoded size of a snapshot chunk
	// (DefaultChunkBytes when 0; never above what the server's max payload
	// allows).
	ChunkBytes int
	// Logger should be the service's redacting logger (logging.New).
	Logger zerolog.Logger
	// MeterProvider for the collector metrics; otel.GetMeterProvider() when nil.
	MeterProvider metric.MeterProvider
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Runner runs passes for the targets whose region lease this replica holds.
// It is safe for concurrent use.
type Runner struct {
	o       Options
	conn    *nats.Conn
	log     zerolog.Logger
	leases  *leaseSet
	metrics *metrics
	tracer  trace.Tracer

	lastMu   sync.Mutex
	lastDone map[string]time.Time // lease key → finish time of the last complete pass

	trig triggers
}

// New checks o, fills its defaults and returns a Runner.
func New(o Options) (*Runner, error) {
	var problems []string
	if o.JS == nil {
		problems = append(problems, "JS is required")
	}
	if msg := asset.CheckText(o.Replica, true); msg != "" {
		problems = append(problems, "Replica: "+msg)
	}
	if !o.Provider.Valid() {
		problems = append(problems, fmt.Sprintf("Provider: unknown provider %q", o.Provider))
	}
	if o.LeaseTTL < 0 || o.Interval < 0 || o.Jitter < 0 || o.PassTimeout < 0 || o.AccountConcurrency < 0 || o.ChunkBytes < 0 {
		problems = append(problems, "durations, AccountConcurrency and ChunkBytes must not be negative")
	}
	if o.LeaseTTL > 0 && o.LeaseTTL < 300*time.Millisecond {
		problems = append(problems, "LeaseTTL below 300ms leaves no time to renew")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("collector: options: %s", strings.Join(problems, "; "))
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Jitter > o.Interval {
		o.Jitter = o.Interval
	}
	if o.AccountConcurrency == 0 {
		o.AccountConcurrency = DefaultAccountConcurrency
	}
	if o.PassTimeout == 0 {
		o.PassTimeout = DefaultPassTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	o.Regions = slices.Compact(slices.Sorted(slices.Values(o.Regions)))
	conn := o.Conn
	if conn == nil {
		conn = o.JS.Conn()
	}
	m, err := newMetrics(o.MeterProvider.Meter(instrumentation), o.Provider)
	if err != nil {
		return nil, err
	}
	log := o.Logger.With().Str("component", "collector").Str("replica", o.Replica).Str("provider", string(o.Provider)).Logger()
	r := &Runner{
		o: o, conn: conn, log: log, metrics: m, tracer: otel.Tracer(instrumentation),
		leases:   newLeaseSet(o.JS, o.Replica, o.Provider, o.Regions, o.LeaseTTL, o.Now, log),
		lastDone: map[string]time.Time{},
	}
	r.trig.init()
	return r, nil
}

// Held lists the scopes whose lease this replica holds.
func (r *Runner) Held() []events.Scope { return r.leases.heldScopes() }

// Release gives back every lease no pass is using and removes this replica's
// presence, so the other replicas take its regions at once. Call it on a
// graceful shutdown and after a one-off cycle; a crash skips it and the
// leases lapse after LeaseTTL.
func (r *Runner) Release(ctx context.Context) error { return r.leases.releaseAll(ctx) }

// LastComplete is when the last complete pass of scope this replica ran
// finished.
func (r *Runner) LastComplete(scope events.Scope) (time.Time, bool) {
	r.lastMu.Lock()
	defer r.lastMu.Unlock()
	t, ok := r.lastDone[natsx.LeaseKey(natsScope(scope))]
	return t, ok
}

// pinned reports whether this replica may scan region.
func (r *Runner) pinned(region string) bool {
	return len(r.o.Regions) == 0 || slices.Contains(r.o.Regions, region)
}

// RunPass runs one pass of t: it takes t's region lease if this replica does
// not hold it yet (ErrLeaseHeld when another does; no pass is run), lists the
// region, publishes the chunks and then the close record. Any failure of the
// listing ends the pass as failed with a reason; the returned close record
// says which. The error is non-nil only when no pass ran or when the close
// record could not be stored (ErrClosePublish; the close is then returned
// but does not exist on the bus).
func (r *Runner) RunPass(ctx context.Context, t Target) (*events.PassClose, error) {
	if err := validateTargets(r.o.Provider, []Target{t}); err != nil {
		return nil, err
	}
	if !r.pinned(t.Scope.Region) {
		return nil, fmt.Errorf("%w: %s: region not among this replica's pinned regions", ErrInvalidTarget, t.Scope)
	}
	ref := scopeRef{key: natsx.LeaseKey(natsScope(t.Scope)), scope: t.Scope}
	if _, err := r.leases.acquire(ctx, ref); err != nil {
		return nil, err
	}
	l := r.leases.claim(ref.key)
	if l == nil {
		return nil, fmt.Errorf("%w: %s", ErrPassRunning, t.Scope)
	}
	defer r.leases.unclaim(ref.key)
	return r.pass(ctx, t, l)
}

// passRun is the state of one pass.
type passRun struct {
	id        string
	target    Target
	scope     natsx.Scope
	started   time.Time
	token     uint64
	identity  string
	probes    []events.Probe
	published int
	log       zerolog.Logger
}

// pass runs a pass of t under the held lease l.
func (r *Runner) pass(ctx context.Context, t Target, l *lease) (*events.PassClose, error) {
	p := &passRun{id: events.NewPassID(), target: t, scope: natsScope(t.Scope), started: r.o.Now()}
	p.log = r.log.With().Str("scope", t.Scope.String()).Str("pass_id", p.id).Logger()
	ctx, span := r.tracer.Start(ctx, "collector.pass", trace.WithAttributes(
		attribute.String("jmssync.provider", string(t.Scope.Provider)),
		attribute.String("jmssync.account_id", t.Scope.AccountID),
		attribute.String("jmssync.region", t.Scope.Region),
		attribute.String("jmssync.pass_id", p.id),
	))
	defer span.End()

	closeRec, err := r.list(ctx, p, l)
	if closeRec.Status == events.PassFailed {
		span.SetStatus(codes.Error, closeRec.Reason)
	}
	span.SetAttributes(attribute.String("jmssync.pass_status", string(closeRec.Status)),
		attribute.Int("jmssync.chunks", closeRec.ChunkCount), attribute.Int("jmssync.instances", closeRec.InstanceCount))
	if err != nil { // the listing or the chunks failed: closeRec is the failed close
		ev := p.log.Warn().Str("reason", closeRec.Reason).Str("detail", closeRec.Detail).Int("chunks_published", closeRec.ChunkCount)
		if !errors.Is(err, errFailed) {
			ev = ev.AnErr("cause", err)
		}
		ev.Msg("pass failed")
	}

	pubErr := r.publishClose(ctx, closeRec)
	status, reason := closeRec.Status, closeRec.Reason
	if pubErr != nil {
		status, reason = events.PassFailed, events.ReasonPublish
		span.RecordError(pubErr)
		span.SetStatus(codes.Error, "close record not published")
		p.log.Error().Err(pubErr).Str("status", string(closeRec.Status)).Msg("close record not published")
	}
	finished := closeRec.FinishedAt
	r.metrics.pass(ctx, t.Scope, status, reason, finished.Sub(p.started))
	if pubErr != nil {
		return closeRec, fmt.Errorf("%w: %s: %w", ErrClosePublish, t.Scope, pubErr)
	}
	if status == events.PassComplete {
		r.lastMu.Lock()
		r.lastDone[l.key] = finished
		r.lastMu.Unlock()
		r.metrics.complete(ctx, t.Scope, closeRec.InstanceCount, finished)
		p.log.Info().Int("chunks", closeRec.ChunkCount).Int("instances", closeRec.InstanceCount).
			Uint64("lease_revision", closeRec.FencingToken).Dur("duration", finished.Sub(p.started)).Msg("pass complete")
	}
	return closeRec, nil
}

// errFailed marks a failure whose reason and detail say everything.
var errFailed = errors.New("pass failed")

// list does the work of a pass and returns its close record: complete with a
// nil error, or failed with the error behind it.
func (r *Runner) list(ctx context.Context, p *passRun, l *lease) (*events.PassClose, error) {
	sc := p.target.Scope
	// Renewing first proves the lease is still ours and gives the fencing
	// token: nobody else wrote the lease between this revision and the one
	// renewed just before the close record.
	token, err := r.leases.renew(ctx, l)
	if err != nil {
		p.token = l.rev
		if ctx.Err() != nil {
			return r.failed(p, events.ReasonCanceled, "the collector stopped before the pass started"), errFailed
		}
		if errors.Is(err, ErrLeaseLost) {
			return r.failed(p, events.ReasonLeaseLost, "the region lease moved to another replica before the pass started"), err
		}
		return r.failed(p, events.ReasonLeaseLost, "the region lease could not be confirmed before the pass started"), err
	}
	p.token = token

	passCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	passCtx, cancelTimeout := context.WithTimeoutCause(passCtx, r.o.PassTimeout, errPassTimeout)
	defer cancelTimeout()
	var wg sync.WaitGroup
	renewCtx, stopRenew := context.WithCancel(passCtx)
	wg.Go(func() { r.renewLoop(renewCtx, l, cancel, p.log) })
	stop := func() { stopRenew(); wg.Wait() }
	defer stop()

	// Identity, then the listing.
	var identity string
	err = guard(func() (err error) { identity, err = p.target.Source.Identity(passCtx, sc.Region); return err })
	if err != nil {
		r.metrics.calls(ctx, 1, outcomeOf(err))
		return r.sourceFailed(passCtx, p, err, events.ReasonIdentityUnknown)
	}
	r.metrics.calls(ctx, 1, outcomeOK)
	if msg := asset.CheckText(identity, true); msg != "" {
		return r.failed(p, events.ReasonIdentityUnknown, "the source returned an unusable account identity ("+msg+")"), errFailed
	}
	p.identity = identity

	var listing *Listing
	err = guard(func() (err error) { listing, err = p.target.Source.List(passCtx, sc.Region); return err })
	if err != nil {
		var le *ListError
		if errors.As(err, &le) {
			p.probes = le.Probes
			r.metrics.calls(ctx, int64(max(le.Calls-1, 0)), outcomeOK)
		}
		r.metrics.calls(ctx, 1, outcomeOf(err))
		return r.sourceFailed(passCtx, p, err, events.ReasonAPIError)
	}
	if listing == nil {
		return r.failed(p, events.ReasonAPIError, "the source returned neither a listing nor an error"), errFailed
	}
	r.metrics.calls(ctx, int64(listing.Calls), outcomeOK)
	p.probes = listing.Probes

	instances, reason, detail := checkInstances(sc, listing.Instances)
	if reason != "" {
		return r.failed(p, reason, detail), errFailed
	}
	digest, err := asset.Digest(instances)
	if err != nil {
		return r.failed(p, ReasonInvalidInstance, "an instance cannot be encoded"), err
	}
	chunks, err := events.SplitPass(p.id, sc, instances, r.chunkBudget())
	if err != nil {
		return r.failed(p, ReasonInvalidInstance, "an instance is too large for one chunk under the server's max payload"), err
	}

	subject := natsx.SnapshotSubject(p.scope, p.id)
	for _, c := range chunks {
		if passCtx.Err() != nil {
			return r.interrupted(passCtx, p)
		}
		payload, err := events.Encode(c)
		if err != nil {
			return r.failed(p, ReasonInvalidInstance, fmt.Sprintf("chunk %d does not validate", c.Index)), err
		}
		if _, err := natsx.Publish(passCtx, r.o.JS, subject, payload, c.MsgID()); err != nil {
			if passCtx.Err() != nil {
				return r.interrupted(passCtx, p)
			}
			return r.failed(p, events.ReasonPublish, fmt.Sprintf("chunk %d of %d could not be published", c.Index, len(chunks))), err
		}
		p.published++
	}

	stop()
	if passCtx.Err() != nil {
		return r.interrupted(passCtx, p)
	}
	if _, err := r.leases.renew(ctx, l); err != nil {
		return r.failed(p, events.ReasonLeaseLost, "the region lease could not be confirmed before closing the pass"), err
	}
	c := events.NewPassComplete(p.id, sc, len(chunks), len(instances), digest, identity, p.token, p.started, r.finish(p), r.o.Replica)
	c.Probes = p.probes
	return c, nil
}

// renewLoop renews l every LeaseTTL/3 while the pass runs and cancels it
// when the lease is lost.
func (r *Runner) renewLoop(ctx context.Context, l *lease, cancel context.CancelCauseFunc, log zerolog.Logger) {
	t := time.NewTicker(r.o.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, err := r.leases.renew(ctx, l)
			if errors.Is(err, ErrLeaseLost) {
				cancel(err)
				return
			}
			if err != nil && ctx.Err() == nil {
				log.Warn().Err(err).Msg("lease renewal failed; retrying")
			}
		}
	}
}

// guard calls fn, turning a panic of the Source into an error.
func guard(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: the source panicked", errSourcePanic)
		}
	}()
	return fn()
}

var errSourcePanic = errors.New("source panic")

// reasonRE is what a close record accepts as a reason.
var reasonRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// sourceFailed builds the failed close of a Source error. Only the
// ListError's Reason and Detail are published (Detail is secret-free by
// contract); the wrapped error is not.
func (r *Runner) sourceFailed(passCtx context.Context, p *passRun, err error, fallback string) (*events.PassClose, error) {
	if passCtx.Err() != nil {
		return r.interrupted(passCtx, p)
	}
	var le *ListError
	switch {
	case errors.As(err, &le):
		reason := le.Reason
		if !reasonRE.MatchString(reason) {
			reason = fallback
		}
		detail := le.Detail
		if detail == "" {
			detail = "the source reported " + reason
		}
		return r.failed(p, reason, detail), errFailed
	case errors.Is(err, errSourcePanic):
		return r.failed(p, fallback, "the source panicked"), err
	case errors.Is(err, context.DeadlineExceeded):
		return r.failed(p, events.ReasonTimeout, "a cloud API call timed out"), errFailed
	default:
		// Not a ListError: its text is not known to be secret-free, so it
		// goes only to the (redacting) log.
		return r.failed(p, fallback, "the source failed with an unclassified error (see the collector's log)"), err
	}
}

// interrupted is the failed close of a pass whose context ended: the lease
// was lost, the pass timed out, or the collector is shutting down.
func (r *Runner) interrupted(passCtx context.Context, p *passRun) (*events.PassClose, error) {
	cause := context.Cause(passCtx)
	switch {
	case errors.Is(cause, ErrLeaseLost):
		return r.failed(p, events.ReasonLeaseLost, "the region lease moved to another replica during the pass"), errFailed
	case errors.Is(cause, errPassTimeout):
		return r.failed(p, events.ReasonTimeout, fmt.Sprintf("the pass ran out of its %s budget", r.o.PassTimeout)), errFailed
	default:
		return r.failed(p, events.ReasonCanceled, "the collector stopped during the pass"), errFailed
	}
}

// failed builds a failed close record whose detail names the account and
// region and has every registered secret masked.
func (r *Runner) failed(p *passRun, reason, detail string) *events.PassClose {
	sc := p.target.Scope
	if !strings.Contains(detail, sc.AccountID) || !strings.Contains(detail, sc.Region) {
		detail = fmt.Sprintf("account %s, region %s: %s", sc.AccountID, sc.Region, detail)
	}
	detail = sanitizeDetail(logging.Redact(detail))
	c := events.NewPassFailed(p.id, sc, reason, detail, p.published, p.token, p.started, r.finish(p), r.o.Replica)
	c.Probes = p.probes
	c.AccountIdentity = p.identity
	return c
}

// finish is the finish time, never before the start (a clock step back).
func (r *Runner) finish(p *passRun) time.Time {
	if now := r.o.Now(); now.After(p.started) {
		return now
	}
	return p.started
}

// sanitizeDetail keeps a detail valid close-record text: valid UTF-8,
// line feeds allowed, other control characters dropped, at most 2000 bytes.
func sanitizeDetail(s string) string {
	s = strings.Map(func(c rune) rune {
		if c != '\n' && unicode.IsControl(c) {
			return -1
		}
		return c
	}, strings.ToValidUTF8(s, "\uFFFD"))
	const limit = 2000
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// checkInstances fills an empty provider, account or region from the scope
// and checks every instance: it must belong to the scope, be valid and be
// listed once. It returns a failure reason and detail, or "".
func checkInstances(sc events.Scope, in []asset.Instance) ([]asset.Instance, string, string) {
	out := slices.Clone(in)
	seen := make(map[string]bool, len(out))
	for i := range out {
		x := &out[i]
		if x.Provider == "" {
			x.Provider = sc.Provider
		}
		if x.AccountID == "" {
			x.AccountID = sc.AccountID
		}
		if x.Region == "" {
			x.Region = sc.Region
		}
		if !sc.Contains(x) {
			return nil, ReasonScopeMismatch, fmt.Sprintf("account %s, region %s: instance %s was listed as %s/%s/%s",
				sc.AccountID, sc.Region, x.InstanceID, x.Provider, x.AccountID, x.Region)
		}
		if err := x.Validate(); err != nil {
			return nil, ReasonInvalidInstance, fmt.Sprintf("account %s, region %s: instance %d (%s): %v", sc.AccountID, sc.Region, i, x.InstanceID, err)
		}
		if seen[x.InstanceID] {
			return nil, events.ReasonChurn, fmt.Sprintf("account %s, region %s: instance %s listed twice", sc.AccountID, sc.Region, x.InstanceID)
		}
		seen[x.InstanceID] = true
	}
	return out, "", ""
}

// chunkBudget is the largest encoded chunk: ChunkBytes (DefaultChunkBytes
// when 0), or the server's max payload less room for headers and subject
// if smaller.
func (r *Runner) chunkBudget() int {
	maxPayload := int64(1 << 20)
	if r.conn != nil {
		if mp := natsx.MaxPayload(r.conn); mp > 0 {
			maxPayload = mp
		}
	}
	budget := int(maxPayload) - min(maxHeadroom, int(maxPayload)/4)
	want := r.o.ChunkBytes
	if want == 0 {
		want = DefaultChunkBytes
	}
	budget = min(budget, want)
	return budget
}

// publishClose stores the close record, even when ctx ended (bounded by
// closeTimeout).
func (r *Runner) publishClose(ctx context.Context, c *events.PassClose) error {
	payload, err := events.Encode(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	_, err = natsx.Publish(ctx, r.o.JS, natsx.PassSubject(natsScope(c.Scope)), payload, c.MsgID())
	return err
}
