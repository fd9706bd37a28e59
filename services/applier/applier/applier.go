package applier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/events/schemacheck"
	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/ops"
)

// Name is the service name on the bus (durable consumer, DLQ subject
// jmssync.dlq.applier) and in telemetry.
const Name = "applier"

// Durable is the name of the applier's pull consumer on INTENTS. Every
// applier replica binds to it, so replicas share the work.
const Durable = "applier"

// ReadyKey is the jmssync_state key the applier writes after each mirror
// rebuild: JSON ReadyInfo. The reconciler waits for it before diffing.
const ReadyKey = "applier.mirror.ready"

// Keys of jmssync_state owned by the applier.
const (
	lockPrefix  = "applier.lock."   // + identity key: the per-asset write lock
	pausePrefix = "applier.paused." // + pause reason: when the pause began
	capKey      = "applier.cap"     // the cap was reached: when
)

// LabelPrefix is the prefix of every label jms-sync owns; the ownership
// label is LabelPrefix:<install-id>.
const LabelPrefix = "jmssync"

const instrumentation = "github.com/jmssync/jmssync/services/applier/applier"

// ReadyInfo is the value of ReadyKey.
type ReadyInfo struct {
	RebuiltAt time.Time `json:"rebuilt_at"`
	// Entries is the number of live (not deleted) mirror entries.
	Entries int `json:"entries"`
	// RootNode is the org's root node value ("DEFAULT" or "Default"), for
	// the reconciler's node paths; OrgID and Version describe the server.
	RootNode string `json:"root_node"`
	OrgID    string `json:"org_id"`
	Version  string `json:"version"`
	// Unmapped counts assets carrying the ownership label but no mirror
	// entry (their identity is unknown until an intent names them).
	Unmapped int `json:"unmapped"`
}

// Deps are the applier's dependencies; Run builds them, the all-in-one and
// tests build their own.
type Deps struct {
	// JS is the JetStream context of the caller's NATS connection.
	JS     jetstream.JetStream
	Logger zerolog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// FetchWait bounds one pull request (2s when 0).
	FetchWait time.Duration
	// InstanceID names this applier in its locks (random when empty).
	InstanceID string
	// EditClient changes the JumpServer client configuration before the
	// client is built (tests: retry back-off, HTTP client).
	EditClient func(*jumpserver.Config)
}

// testHooks simulate a crash at a kill point: a hook returning an error
// abandons the batch (nothing more is written, acked or unlocked).
type testHooks struct {
	beforeWrite, afterWrite, afterMirror, afterFact func() error
}

// Applier applies intents. New builds it, Run serves it.
type Applier struct {
	cfg      Config
	d        Deps
	log      zerolog.Logger
	now      func() time.Time
	js       jetstream.JetStream
	client   *jumpserver.Client
	mirror   *mirror.Store
	assetsKV jetstream.KeyValue
	stateKV  jetstream.KeyValue
	consumer jetstream.Consumer
	checker  *schemacheck.Checker
	instance string
	jsURL    string

	gate  natsx.Gate
	ready ops.Flag
	names *nameIndex

	// workMu: batches share it (RLock; per-asset locks keep them apart, as
	// they keep replicas apart), a rebuild takes it alone (Lock).
	workMu sync.RWMutex
	capMu  sync.Mutex // one count-and-create under the Community Edition cap at a time

	pmu        sync.Mutex
	paused     map[string]pauseState
	probing    bool
	capReached bool
	capSince   time.Time
	missingTpl map[string]bool

	pausedNow atomic.Bool
	m         *metrics
	hooks     testHooks
}

type pauseState struct {
	since   time.Time
	stateID string
}

// New builds an applier: the JumpServer client (not started yet), the
// mirror, the state bucket and the durable consumer. The topology must
// exist (natsx.EnsureTopology).
func New(ctx context.Context, cfg Config, d Deps) (*Applier, error) {
	if d.JS == nil {
		return nil, errors.New("applier: no JetStream")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("applier: %w", err)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.FetchWait <= 0 {
		d.FetchWait = 2 * time.Second
	}
	if d.InstanceID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		d.InstanceID = hex.EncodeToString(b[:])
	}
	a := &Applier{
		cfg: cfg, d: d, now: d.Now, js: d.JS, instance: d.InstanceID,
		log:        d.Logger.With().Str("component", Name).Logger(),
		paused:     map[string]pauseState{},
		missingTpl: map[string]bool{},
		names:      newNameIndex(),
	}
	a.ready.Clear("mirror not rebuilt yet")
	u, _ := url.Parse(cfg.JumpServer.URL)
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	a.jsURL = u.String()

	var err error
	if a.m, err = newMetrics(a); err != nil {
		return nil, err
	}
	jcfg := cfg.clientConfig()
	jcfg.Logger = &a.log
	jcfg.HTTPClient = a.m.httpClient(cfg)
	jcfg.OnStateChange = a.onBreaker
	if d.EditClient != nil {
		d.EditClient(&jcfg)
	}
	if a.client, err = jumpserver.New(jcfg); err != nil {
		return nil, fmt.Errorf("applier: %w", err)
	}
	if a.checker, err = schemacheck.Default(); err != nil {
		return nil, fmt.Errorf("applier: schemas: %w", err)
	}
	if a.mirror, err = mirror.Open(ctx, d.JS); err != nil {
		return nil, fmt.Errorf("applier: %w", err)
	}
	if a.assetsKV, err = d.JS.KeyValue(ctx, natsx.BucketAssets); err != nil {
		return nil, fmt.Errorf("applier: %s: %w", natsx.BucketAssets, err)
	}
	if a.stateKV, err = d.JS.KeyValue(ctx, natsx.BucketState); err != nil {
		return nil, fmt.Errorf("applier: %s: %w", natsx.BucketState, err)
	}
	cc := natsx.DefaultConsumer(Durable, natsx.SubjectsIntents)
	cc.AckWait = cfg.AckWait
	cc.MaxAckPending = max(cc.MaxAckPending, 4*cfg.fetchBatch())
	if a.consumer, err = natsx.EnsureConsumer(ctx, d.JS, natsx.StreamIntents, cc); err != nil {
		return nil, fmt.Errorf("applier: %w", err)
	}
	return a, nil
}

// Client is the JumpServer client (for the all-in-one's checks).
func (a *Applier) Client() *jumpserver.Client { return a.client }

// Checks are the applier's readiness checks: the mirror was rebuilt and
// fetching is not paused.
func (a *Applier) Checks() []ops.Check {
	return []ops.Check{a.ready.Check("mirror"), {Name: "paused", Fn: func(context.Context) error {
		if a.pausedNow.Load() {
			return errors.New("paused: " + a.pauseReasons())
		}
		return nil
	}}}
}

// Run serves until ctx ends: it starts the client (waiting, paused, while
// JumpServer refuses), rebuilds the mirror, then fetches and applies intents
// while rebuilding the mirror every Config.RebuildInterval.
func (a *Applier) Run(ctx context.Context) error {
	for {
		err := a.start(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		a.log.Warn().Err(err).Msg("jumpserver not usable yet; retrying")
		if !sleepCtx(ctx, a.cfg.ProbeInterval) {
			return nil
		}
	}
	for {
		err := a.Rebuild(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		a.log.Warn().Err(err).Msg("mirror rebuild failed; retrying")
		a.failGlobal(ctx, err)
		if !sleepCtx(ctx, a.cfg.ProbeInterval) {
			return nil
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { a.rebuildLoop(lctx) })
	err := a.fetchLoop(lctx)
	cancel()
	wg.Wait()
	return err
}

// start starts the client; a global refusal pauses (with its alert).
func (a *Applier) start(ctx context.Context) error {
	info, err := a.client.Start(ctx)
	if err != nil {
		a.failGlobal(ctx, err)
		return err
	}
	a.resumeAll(ctx, PauseAuth, PauseConfig)
	a.log.Info().Str("version", string(info.Version)).Str("org", info.Org.Name).Str("root_node", info.RootNode.Value).
		Msg("jumpserver client started")
	return nil
}

func (a *Applier) rebuildLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.RebuildInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if a.gate.Paused() {
				continue
			}
			if err := a.Rebuild(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn().Err(err).Msg("periodic mirror rebuild failed")
				a.failGlobal(ctx, err)
			}
		}
	}
}

// batchesInFlight is how many fetched batches are handled at once: while
// one settles (mirror, facts, acks) and one prepares (locks, reads), a
// third writes to JumpServer, so a large cycle's later intents do not wait
// for the bookkeeping of the earlier ones.
const batchesInFlight = 3

// fetchLoop fetches batches while the gate is open.
func (a *Applier) fetchLoop(ctx context.Context) error {
	n := a.cfg.fetchBatch()
	slots := make(chan struct{}, batchesInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	var abandoned atomic.Bool
	for {
		if abandoned.Load() {
			a.log.Warn().Msg("batch abandoned (test kill point); stopping")
			return errAbandoned
		}
		if ctx.Err() != nil {
			return nil
		}
		if err := a.gate.Wait(ctx); err != nil {
			return nil
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		msgs, err := a.fetch(ctx, n)
		if err != nil {
			<-slots
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				return fmt.Errorf("applier: consumer: %w", err)
			}
			if ctx.Err() != nil {
				return nil
			}
			a.log.Warn().Err(err).Msg("fetch failed")
			sleepCtx(ctx, time.Second)
			continue
		}
		if len(msgs) == 0 {
			<-slots
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := a.handleTraced(ctx, msgs); errors.Is(err, errAbandoned) {
				abandoned.Store(true)
			}
		})
	}
}

// drain appends a fetch's messages to msgs and returns how many came.
func drain(batch jetstream.MessageBatch, msgs *[]jetstream.Msg) int {
	n := len(*msgs)
	for msg := range batch.Messages() {
		*msgs = append(*msgs, msg)
	}
	return len(*msgs) - n
}

// fetchQuiet is how long a batch waits for more intents once none are
// pending: long enough to see whether the reconciler is still publishing a
// cycle (it pipelines them, so gaps are short), short enough that a change
// reaches JumpServer at once.
const fetchQuiet = 30 * time.Millisecond

// fetchLingerMax bounds the whole wait for more intents of one batch.
const fetchLingerMax = time.Second

// fetchRound is the most intents one pull request asks for.
const fetchRound = 1000

// fetch waits (up to FetchWait) for the first intent, then takes what is
// pending without waiting, round after round, and stops once the stream
// stays quiet for fetchQuiet, fetchLingerMax has passed or n are in. A
// cycle the reconciler publishes thus becomes one batch (its creates are
// then spread over every worker). A single Fetch(n) would wait its whole
// timeout whenever fewer than n intents are pending.
func (a *Applier) fetch(ctx context.Context, n int) ([]jetstream.Msg, error) {
	fctx, cancel := context.WithTimeout(ctx, a.d.FetchWait)
	defer cancel()
	first, err := a.consumer.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	if drain(first, &msgs) == 0 {
		return msgs, nil
	}
	deadline := time.Now().Add(fetchLingerMax)
	for len(msgs) < n && time.Now().Before(deadline) {
		want := min(n-len(msgs), fetchRound)
		batch, err := a.consumer.FetchNoWait(want)
		if err != nil {
			break // what is in is ours to handle; the rest waits for the next fetch
		}
		if drain(batch, &msgs) == want {
			continue
		}
		// Nothing more pending right now (so room is left): is a publisher
		// still at it?
		batch, err = a.consumer.Fetch(min(n-len(msgs), fetchRound), jetstream.FetchMaxWait(fetchQuiet))
		if err != nil || drain(batch, &msgs) == 0 {
			break // quiet
		}
	}
	return msgs, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jsRef names the JumpServer and org of the facts.
func (a *Applier) jsRef() events.JumpServerRef {
	info := a.client.Info()
	return events.JumpServerRef{URL: a.jsURL, OrgID: info.Org.ID, OrgName: info.Org.Name}
}
