package notifier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/jmssync/jmssync/libs/dingtalk"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/notify"
	"github.com/jmssync/jmssync/libs/ops"
)

// Name is the service name on the bus (durable consumer, DLQ subject) and
// in telemetry.
const Name = "notifier"

const instrumentation = "github.com/jmssync/jmssync/services/notifier/notifier"

// Deps are the service's dependencies, built by Run (or a test).
type Deps struct {
	JS jetstream.JetStream
	// Clock drives rate limits, run timeouts and signing (system clock when nil).
	Clock notify.Clock
	// HTTPClient for the robots (a client with a 10s timeout when nil).
	HTTPClient *http.Client
	Logger     zerolog.Logger
	// Channels replaces the channels built from Config.Robots (another chat
	// tool, tests).
	Channels []notify.Channel
	// Tick is how often run timeouts are checked (1s when 0).
	Tick time.Duration
}

// Service is one notifier. New builds it, Run serves it.
type Service struct {
	cfg      Config
	d        Deps
	log      zerolog.Logger
	clock    notify.Clock
	outboxes []*notify.Outbox
	render   RenderOptions
	tracker  *Tracker
	events   chan event
	caughtUp ops.Flag
	closing  []*closing
	closed   metric.Int64Counter
	alerts   metric.Int64Counter
	alertMu  sync.Mutex
}

type event struct {
	source   string
	rec      *events.RunRecord
	fact     *events.AppliedFact
	failure  *failure
	caughtUp bool
}

type failure struct {
	runID string
	scope events.Scope
	f     events.RunFailure
}

type closing struct {
	Closing
	enqueued, published bool
}

// New builds the service from cfg: one channel and outbox per enabled robot,
// each outbox kept in the jmssync_state bucket (which must exist).
func New(ctx context.Context, cfg Config, d Deps) (*Service, error) {
	if d.JS == nil {
		return nil, errors.New("notifier: no JetStream")
	}
	kv, err := d.JS.KeyValue(ctx, natsx.BucketState)
	if err != nil {
		return nil, fmt.Errorf("notifier: state bucket: %w", err)
	}
	if d.Clock == nil {
		d.Clock = notify.SystemClock()
	}
	if d.Tick <= 0 {
		d.Tick = time.Second
	}
	loc, lerr := time.LoadLocation(cfg.TimeZone)
	if lerr != nil {
		loc = time.Local
	}
	s := &Service{
		cfg: cfg, d: d, clock: d.Clock, log: d.Logger.With().Str("component", Name).Logger(),
		tracker: NewTracker(cfg.MaxRows, cfg.RunTimeout), events: make(chan event, 1024),
	}
	s.caughtUp.Clear("reading RUNS, ASSETS and failures since " + cfg.Lookback.String() + " ago")
	channels := d.Channels
	if channels == nil {
		for i, r := range cfg.Robots {
			if !r.Enabled {
				continue
			}
			logging.RegisterSecrets(r.Webhook.Reveal(), r.Secret.Reveal(), webhookToken(r.Webhook.Reveal()))
			c, err := dingtalk.New(dingtalk.Options{Webhook: r.Webhook.Reveal(), Secret: r.Secret.Reveal(), HTTPClient: d.HTTPClient, Now: d.Clock.Now})
			if err != nil {
				return nil, fmt.Errorf("robot %d: %w", i, err)
			}
			name := r.Name
			if name == "" {
				name = "robot-" + strconv.Itoa(i)
			}
			channels = append(channels, dingtalk.NewChannel(c, dingtalk.ChannelOptions{Name: name, AtMobiles: r.AtMobiles, AtAll: r.AtAll}))
		}
	}
	for _, ch := range channels {
		s.outboxes = append(s.outboxes, notify.NewOutbox(ch, notify.OutboxOptions{
			Limit: cfg.RateLimit, Clock: d.Clock, Logger: s.log, Store: newKVStore(kv, ch.Name())}))
	}
	s.render = RenderOptions{MaxRows: cfg.MaxRows, ButtonURL: cfg.ButtonURL(), Location: loc, Fits: s.fits}
	m := otel.Meter(instrumentation)
	s.closed, _ = m.Int64Counter("jmssync.notifier.runs.closed", metric.WithDescription("Runs closed, by whether they timed out."))
	s.alerts, _ = m.Int64Counter("jmssync.notifier.alerts", metric.WithDescription("Alerts received, by outcome (queued, repeated)."))
	return s, nil
}

func webhookToken(webhook string) string {
	u, err := url.Parse(webhook)
	if err != nil {
		return ""
	}
	return u.Query().Get("access_token")
}

// fits is true when every channel takes m.
func (s *Service) fits(m notify.Message) bool {
	for _, b := range s.outboxes {
		if !b.Channel().Fits(m) {
			return false
		}
	}
	return true
}

// Checks are the readiness checks: the replay is done and every channel
// delivers (a misconfigured robot makes the service not ready).
func (s *Service) Checks() []ops.Check {
	checks := []ops.Check{s.caughtUp.Check("runs rebuilt")}
	for _, b := range s.outboxes {
		checks = append(checks, ops.Check{Name: "channel " + b.Channel().Name(), Fn: func(context.Context) error { return b.Err() }})
	}
	return checks
}

// Pending is the number of notifications queued over all channels.
func (s *Service) Pending() int {
	n := 0
	for _, b := range s.outboxes {
		n += b.Pending()
	}
	return n
}

// Run serves until ctx ends. It rebuilds the runs not closed yet from the
// last Lookback of RUNS, ASSETS and failures, then follows them live; it
// consumes ALERTS with the durable consumer "notifier".
func (s *Service) Run(ctx context.Context) error {
	if len(s.outboxes) == 0 {
		s.log.Warn().Msg("no notification channel configured: runs are closed, nothing is sent")
	}
	for _, b := range s.outboxes {
		if err := b.Load(ctx); err != nil {
			return err
		}
	}
	alertsCons, err := natsx.EnsureConsumer(ctx, s.d.JS, natsx.StreamAlerts, natsx.DefaultConsumer(Name, natsx.SubjectsAlerts))
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	goRun := func(f func() error) {
		wg.Go(func() {
			if err := f(); err != nil && ctx.Err() == nil {
				errc <- err
				cancel()
			}
		})
	}
	for _, b := range s.outboxes {
		goRun(func() error { return b.Run(ctx) })
	}
	goRun(func() error { return s.follow(ctx, natsx.StreamRuns, natsx.SubjectsRuns, s.decodeRun) })
	goRun(func() error { return s.follow(ctx, natsx.StreamAssets, natsx.SubjectsAssets, s.decodeFact) })
	goRun(func() error { return s.follow(ctx, natsx.StreamDLQ, s.cfg.FailureSubject, s.decodeFailure) })
	goRun(func() error {
		return natsx.Consume(ctx, alertsCons, s.handleAlert, natsx.ConsumeOptions{Service: Name, JS: s.d.JS, Logger: s.log})
	})
	s.loop(ctx)
	cancel()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// loop owns the tracker.
func (s *Service) loop(ctx context.Context) {
	caught := map[string]bool{}
	tick := s.clock.After(s.d.Tick)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			tick = s.clock.After(s.d.Tick)
		case ev := <-s.events:
			s.apply(ev)
			if ev.caughtUp && !caught[ev.source] {
				caught[ev.source] = true
				if len(caught) == 3 {
					s.caughtUp.Set()
					s.log.Info().Int("open_runs", s.tracker.Pending()).Msg("runs rebuilt from the streams")
				}
			}
		}
		if len(caught) == 3 {
			s.closeDue(ctx)
		}
	}
}

func (s *Service) apply(ev event) {
	now := s.clock.Now()
	switch {
	case ev.rec != nil && ev.rec.Kind == events.RunOpen:
		s.tracker.Open(ev.rec, now)
	case ev.rec != nil && ev.rec.Kind == events.RunClosed:
		s.tracker.Closed(ev.rec.RunID, now)
	case ev.fact != nil:
		s.tracker.Fact(ev.fact, now)
	case ev.failure != nil:
		s.tracker.Failure(ev.failure.runID, ev.failure.scope, ev.failure.f, now)
	}
}

// follow reads subject of stream from Lookback ago with an ordered consumer
// and hands every message to the loop; the first event at or past the last
// message present at start is marked caughtUp.
func (s *Service) follow(ctx context.Context, stream, subject string, decode func(jetstream.Msg) event) error {
	start := s.clock.Now().Add(-s.cfg.Lookback)
	target, err := s.lastSeq(ctx, stream, subject, start)
	if err != nil {
		return err
	}
	if target == 0 {
		s.send(ctx, event{source: stream, caughtUp: true})
	}
	cons, err := s.d.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
	})
	if err != nil {
		return fmt.Errorf("notifier: follow %s: %w", stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("notifier: follow %s: %w", stream, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			s.log.Warn().Err(err).Str("stream", stream).Msg("reading the stream failed; going on")
			continue
		}
		md, err := msg.Metadata()
		if err != nil {
			continue
		}
		ev := decode(msg)
		ev.source = stream
		ev.caughtUp = target != 0 && md.Sequence.Stream >= target
		if !s.send(ctx, ev) {
			return nil
		}
	}
}

func (s *Service) send(ctx context.Context, ev event) bool {
	select {
	case s.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// lastSeq is the sequence of the last message on subject, 0 when there is
// none newer than start.
func (s *Service) lastSeq(ctx context.Context, stream, subject string, start time.Time) (uint64, error) {
	st, err := s.d.JS.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("notifier: stream %s: %w", stream, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("notifier: last message of %s: %w", subject, err)
	}
	if m.Time.Before(start) {
		return 0, nil
	}
	return m.Sequence, nil
}

func (s *Service) decodeRun(msg jetstream.Msg) event {
	rec, err := events.DecodeAs[*events.RunRecord](msg.Data())
	if err != nil {
		s.log.Warn().Err(err).Str("subject", msg.Subject()).Msg("run record ignored")
		return event{}
	}
	return event{rec: rec}
}

func (s *Service) decodeFact(msg jetstream.Msg) event {
	f, err := events.DecodeAs[*events.AppliedFact](msg.Data())
	if err != nil {
		s.log.Warn().Err(err).Str("subject", msg.Subject()).Msg("applied fact ignored")
		return event{}
	}
	return event{fact: f}
}

// decodeFailure reads a dead-lettered intent of the applier: an intent that
// will not be applied, so a result of its run.
func (s *Service) decodeFailure(msg jetstream.Msg) event {
	in, err := events.DecodeAs[*events.Intent](msg.Data())
	if err != nil || in.RunID == "" {
		return event{} // not an intent: nothing to count
	}
	reason := msg.Headers().Get(natsx.HeaderDLQError)
	if reason == "" {
		reason = msg.Headers().Get(natsx.HeaderDLQReason)
	}
	if reason == "" {
		reason = "dead-lettered"
	}
	f := events.RunFailure{Key: in.Identity.Key(), Op: in.Op, Error: logging.Redact(reason)}
	if in.AssetID.String() != "" {
		f.AssetID = in.AssetID.String()
	}
	return event{failure: &failure{runID: in.RunID, scope: in.Scope, f: f}}
}

// closeDue closes what is due, queues the cards, publishes the closing
// records. What fails is retried on the next tick; queueing is idempotent
// and the closing record has a deterministic message id.
func (s *Service) closeDue(ctx context.Context) {
	now := s.clock.Now()
	for _, c := range s.tracker.Due(now) {
		s.closing = append(s.closing, &closing{Closing: c})
		s.closed.Add(ctx, 1, metric.WithAttributes(attribute.Bool("timed_out", c.Summary.TimedOut)))
		s.log.Info().Str("run_id", c.RunID).Bool("timed_out", c.Summary.TimedOut).Int("failed", c.Summary.Failed).
			Int("pending", c.Summary.Pending).Msg("run closed")
	}
	s.tracker.Forget(now.Add(-2 * s.cfg.Lookback))
	for len(s.closing) > 0 {
		c := s.closing[0]
		if !c.enqueued {
			if err := s.enqueueCards(ctx, c.Closing); err != nil {
				s.log.Warn().Err(err).Str("run_id", c.RunID).Msg("run cards not queued; will retry")
				return
			}
			c.enqueued = true
		}
		if !c.published && c.Open != nil {
			rec := events.NewRunClosed(c.Open, c.Summary)
			payload, err := events.Encode(rec)
			if err == nil {
				_, err = natsx.Publish(ctx, s.d.JS, natsx.RunSubject(rec.RunID), payload, rec.MsgID())
			}
			if err != nil {
				s.log.Warn().Err(err).Str("run_id", c.RunID).Msg("closing record not published; will retry")
				return
			}
		}
		c.published = true
		s.closing = s.closing[1:]
	}
}

func (s *Service) enqueueCards(ctx context.Context, c Closing) error {
	for _, a := range c.Accounts {
		if !a.Eventful() && !s.cfg.SendEmpty {
			continue
		}
		m := RenderRun(a, s.render)
		m.Markdown, m.Title = logging.Redact(m.Markdown), logging.Redact(m.Title)
		for _, b := range s.outboxes {
			if err := b.Enqueue(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// alertState is what jmssync_state keeps of the last alert of a state.
type alertState struct {
	StateChangeID string    `json:"state_change_id"`
	Fingerprint   string    `json:"fingerprint"`
	At            time.Time `json:"at"`
}

// alertKey groups alerts whose kinds are states of one thing: paused and
// resumed, cap reached and cleared.
func alertKey(a *events.Alert) string {
	family := string(a.Kind)
	switch a.Kind {
	case events.AlertApplierPaused, events.AlertApplierResumed:
		family = "applier"
	case events.AlertCapReached, events.AlertCapCleared:
		family = "cap"
	}
	scope := "global"
	if a.Scope != nil {
		scope = natsx.Scope{Provider: string(a.Scope.Provider), Account: a.Scope.AccountID, Region: a.Scope.Region}.Token()
	}
	return keyAlert + natsx.EncodeToken(family) + "." + scope
}

// fingerprint identifies what an alert says, whatever its state change id.
func fingerprint(a *events.Alert) string {
	h := sha256.New()
	h.Write([]byte(string(a.Kind) + "\x00" + string(a.Severity) + "\x00" + a.Message))
	for _, k := range slices.Sorted(maps.Keys(a.Details)) {
		h.Write([]byte("\x00" + k + "=" + a.Details[k]))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// handleAlert queues an alert unless it repeats the last one of its state:
// same state change id, or the same content within AlertRepeat.
func (s *Service) handleAlert(ctx context.Context, msg jetstream.Msg) error {
	a, err := events.DecodeAs[*events.Alert](msg.Data())
	if err != nil {
		return natsx.Poison(natsx.ReasonMalformed, err)
	}
	s.alertMu.Lock()
	defer s.alertMu.Unlock()
	kv, err := s.d.JS.KeyValue(ctx, natsx.BucketState)
	if err != nil {
		return err
	}
	key := alertKey(a)
	fp := fingerprint(a)
	now := s.clock.Now()
	if e, err := kv.Get(ctx, key); err == nil {
		var prev alertState
		if json.Unmarshal(e.Value(), &prev) == nil {
			same := prev.StateChangeID == a.StateChangeID
			repeat := prev.Fingerprint == fp && (s.cfg.AlertRepeat == 0 || now.Sub(prev.At) < s.cfg.AlertRepeat)
			if same || repeat {
				s.alerts.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "repeated")))
				logging.Ctx(ctx).Debug().Str("kind", string(a.Kind)).Msg("alert repeats the current state; not sent again")
				return nil
			}
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	m := RenderAlert(a, s.render)
	m.Markdown, m.Title = logging.Redact(m.Markdown), logging.Redact(m.Title)
	for _, b := range s.outboxes {
		if err := b.Enqueue(ctx, m); err != nil {
			return err
		}
	}
	v, _ := json.Marshal(alertState{StateChangeID: a.StateChangeID, Fingerprint: fp, At: now})
	if _, err := kv.Put(ctx, key, v); err != nil {
		return err
	}
	s.alerts.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", "queued")))
	return nil
}
