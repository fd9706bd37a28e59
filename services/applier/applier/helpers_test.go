package applier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

const (
	testInstall  = "test-install"
	testTemplate = "root-template"
	testZone     = "zone-a"
	testNodePath = "/DEFAULT/阿里云/prod"
)

var testScope = events.Scope{Provider: asset.Aliyun, AccountID: "acct-1", AccountName: "生产", Region: "cn-hangzhou"}

type env struct {
	t   *testing.T
	sim *jmssim.Server
	js  jetstream.JetStream
	cfg Config
}

// newEnv starts a simulator (seeded with a zone and an account template)
// and an embedded JetStream server with the topology.
func newEnv(t *testing.T, o jmssim.Options, edit func(*Config)) *env {
	t.Helper()
	sim := jmssim.Start(t, o)
	if err := sim.Seed(jmssim.Seed{
		Zones:     []jmssim.SeedZone{{Name: testZone}},
		Templates: []jmssim.SeedTemplate{{Name: testTemplate, Username: "root", Secret: "s3cret-pw"}},
	}); err != nil {
		t.Fatal(err)
	}
	_, js := natstest.Connect(t)
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		InstallID:       testInstall,
		RebuildInterval: time.Hour,
		LockTTL:         2 * time.Second,
		ProbeInterval:   100 * time.Millisecond,
		CapRetry:        300 * time.Millisecond,
		AckWait:         2 * time.Second,
		JumpServer: JumpServerConfig{
			URL: sim.URL, AccessKeyID: jmssim.DefaultKeyID, AccessSecret: config.Secret(jmssim.DefaultSecret),
			VerifySSL: true, Timeout: 3 * time.Second, BatchSize: 100, Concurrency: 4, Rate: 5000,
			Licensed: o.Licensed, AssetCap: 5000, BreakerFailures: 3, BreakerOpenTimeout: 300 * time.Millisecond,
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	return &env{t: t, sim: sim, js: js, cfg: cfg}
}

type runner struct {
	a      *Applier
	cancel context.CancelFunc
	done   chan error
}

// start runs an applier until the test ends (or stop).
func (e *env) start(hooks testHooks) *runner {
	e.t.Helper()
	var log zerolog.Logger
	if os.Getenv("APPLIER_TEST_LOG") != "" {
		log = zerolog.New(zerolog.ConsoleWriter{Out: testWriter{e.t}}).Level(zerolog.InfoLevel)
	} else {
		log = zerolog.New(io.Discard)
	}
	a, err := New(e.t.Context(), e.cfg, Deps{JS: e.js, Logger: log, FetchWait: 300 * time.Millisecond,
		EditClient: func(c *jumpserver.Config) {
			c.RetryBackoff = 10 * time.Millisecond
			c.Burst = 100
		}})
	if err != nil {
		e.t.Fatal(err)
	}
	a.hooks = hooks
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{a: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	e.t.Cleanup(r.stop)
	return r
}

func (r *runner) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // later stops return at once
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func ident(i int) asset.ID {
	return asset.ID{Provider: asset.Aliyun, InstanceID: fmt.Sprintf("i-bp%06d", i)}
}

func assetIDOf(e *env, i int) uuid.UUID { return ident(i).AssetID(testInstall, jmssim.DefaultOrgID) }

func desired(i int) *events.Desired {
	return &events.Desired{
		Name: fmt.Sprintf("web-%04d", i), Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
		Platform: "Linux", Protocols: []events.Protocol{{Name: "ssh", Port: 22}}, NodePath: testNodePath,
		Labels: []events.Label{{Name: "jmssync", Value: testInstall}, {Name: "jmssync-provider", Value: "aliyun"},
			{Name: "jmssync-account", Value: "acct-1"}, {Name: "jmssync-region", Value: "cn-hangzhou"}},
		Zone: testZone, AccountTemplate: testTemplate, Comment: "jms-sync: aliyun i-" + fmt.Sprint(i), IsActive: true,
	}
}

func intent(e *env, op events.Op, i int, gen uint64, d *events.Desired) *events.Intent {
	return events.NewIntent(op, assetIDOf(e, i), ident(i), gen, d, "new_instance", "run-1", testScope, "", time.Now())
}

// publish sends intents (msg id: the intent's own, or with a suffix to
// bypass de-duplication when resending the same generation).
func (e *env) publish(ins []*events.Intent, idSuffix string) {
	e.t.Helper()
	subj := natsx.IntentSubject(natsx.Scope{Provider: string(testScope.Provider), Account: testScope.AccountID, Region: testScope.Region})
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, len(ins))
	for _, in := range ins {
		b, err := events.Encode(in)
		if err != nil {
			e.t.Fatal(err)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := natsx.Publish(e.t.Context(), e.js, subj, b, in.MsgID()+idSuffix); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
}

func (e *env) publishRaw(data []byte, id string) {
	e.t.Helper()
	subj := natsx.IntentSubject(natsx.Scope{Provider: string(testScope.Provider), Account: testScope.AccountID, Region: testScope.Region})
	if _, err := natsx.Publish(e.t.Context(), e.js, subj, data, id); err != nil {
		e.t.Fatal(err)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// msgs returns the messages of stream matching subject filter.
func (e *env) msgs(stream, filter string) []jetstream.RawStreamMsg {
	e.t.Helper()
	s, err := e.js.Stream(e.t.Context(), stream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(e.t.Context(), seq)
		if err != nil {
			continue
		}
		if filter == "" || strings.HasPrefix(m.Subject, filter) {
			out = append(out, *m)
		}
	}
	return out
}

func (e *env) facts() []*events.AppliedFact {
	e.t.Helper()
	var out []*events.AppliedFact
	for _, m := range e.msgs(natsx.StreamAssets, "jmssync.asset.") {
		f, err := events.DecodeAs[*events.AppliedFact](m.Data)
		if err != nil {
			e.t.Fatalf("fact %s: %v", m.Subject, err)
		}
		out = append(out, f)
	}
	return out
}

func (e *env) factCount() int {
	s, err := e.js.Stream(e.t.Context(), natsx.StreamAssets)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return int(info.State.Msgs)
}

func (e *env) dlq() []jetstream.RawStreamMsg { return e.msgs(natsx.StreamDLQ, natsx.DLQSubject(Name)) }

func (e *env) alerts(kind events.AlertKind) []*events.Alert {
	var out []*events.Alert
	for _, m := range e.msgs(natsx.StreamAlerts, natsx.AlertSubject(string(kind))) {
		a, err := events.DecodeAs[*events.Alert](m.Data)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// pendingIntents is what the INTENTS work queue still holds.
func (e *env) pendingIntents() int {
	s, err := e.js.Stream(e.t.Context(), natsx.StreamIntents)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return int(info.State.Msgs)
}

// hosts returns the simulator's Default-org assets by id.
func (e *env) hosts() map[string]jmssim.AssetState {
	out := map[string]jmssim.AssetState{}
	for _, o := range e.sim.State().Orgs {
		if o.ID != jmssim.DefaultOrgID {
			continue
		}
		for _, a := range o.Assets {
			if _, dup := out[a.ID]; dup {
				e.t.Fatalf("asset id %s twice", a.ID)
			}
			out[a.ID] = a
		}
	}
	return out
}

// checkOnePerIdentity checks that each of n identities has exactly one host
// (by id, and no second host with its name).
func (e *env) checkOnePerIdentity(n int) map[string]jmssim.AssetState {
	e.t.Helper()
	hs := e.hosts()
	names := map[string]int{}
	for _, h := range hs {
		names[strings.ToLower(h.Name)]++
	}
	for i := range n {
		id := assetIDOf(e, i).String()
		h, ok := hs[id]
		if !ok {
			e.t.Fatalf("identity %d: no host %s", i, id)
		}
		if names[strings.ToLower(h.Name)] != 1 {
			e.t.Fatalf("identity %d: name %q held %d times", i, h.Name, names[strings.ToLower(h.Name)])
		}
	}
	return hs
}

func readyInfo(t *testing.T, e *env) (ReadyInfo, bool) {
	kv, err := e.js.KeyValue(t.Context(), natsx.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	kve, err := kv.Get(t.Context(), ReadyKey)
	if err != nil {
		return ReadyInfo{}, false
	}
	var ri ReadyInfo
	if err := json.Unmarshal(kve.Value(), &ri); err != nil {
		t.Fatal(err)
	}
	return ri, true
}

func creates(e *env, from, n int, gen uint64) []*events.Intent {
	out := make([]*events.Intent, n)
	for i := range out {
		out[i] = intent(e, events.OpCreate, from+i, gen, desired(from+i))
	}
	return out
}
