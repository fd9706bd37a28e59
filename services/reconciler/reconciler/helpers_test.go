package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/logging/logtest"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

var (
	scopeA = events.Scope{Provider: asset.Aliyun, AccountID: "prod", AccountName: "生产", Region: "cn-hangzhou"}
	scopeB = events.Scope{Provider: asset.Aliyun, AccountID: "prod", AccountName: "生产", Region: "cn-shanghai"}
	scopeC = events.Scope{Provider: asset.Aliyun, AccountID: "prod", AccountName: "生产", Region: "cn-beijing"} // not configured
)

// baseEnv configures scopes A and B the way the collectors' variables do
// (secrets included: the reconciler ignores them).
func baseEnv() map[string]string {
	return map[string]string{
		"JMSSYNC_INSTALL_ID":                          "test",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ID":                "prod",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_NAME":              "生产",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS":           "cn-hangzhou,cn-shanghai",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID":     "LTAI-not-read",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET": "not-read-either",
		"JMSSYNC_SYNC_ABSENT_PASSES":                  "1",
		"JMSSYNC_SYNC_DELETE_GRACE":                   "0s",
		"JMSSYNC_RECONCILE_DEBOUNCE":                  "30ms",
		"JMSSYNC_RECONCILE_INTERVAL":                  "1h",
	}
}

func loadConfig(t *testing.T, env map[string]string) Config {
	t.Helper()
	cfg, err := config.Load[Config](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(env))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// env is one embedded JetStream with the topology, a fake collector and a
// fake applier around reconciler instances.
type env struct {
	t      *testing.T
	nc     *nats.Conn
	js     jetstream.JetStream
	mirror *mirror.Store
	state  jetstream.KeyValue
	logs   *logtest.Buffer

	clock    time.Time // pass times advance by a minute each
	skewMu   sync.Mutex
	skew     time.Duration // added to the reconcilers' decision clock
	token    uint64
	applied  uint64 // INTENTS sequence the fake applier read up to
	alertsMu sync.Mutex
	alerts   []*events.Alert // every alert publish, as core NATS sees it (duplicates included)
	order    []string        // subjects of run records and intents in publish order
}

func newEnv(t *testing.T) *env {
	t.Helper()
	nc, js := natstest.Connect(t)
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	m, err := mirror.Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(t.Context(), natsx.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, nc: nc, js: js, mirror: m, state: kv, logs: &logtest.Buffer{}, clock: time.Now().Add(-time.Hour).UTC().Truncate(time.Second)}
	// One subscription: nats.go delivers each subscription on its own
	// goroutine, so only a single one preserves the order of publication.
	if _, err := nc.Subscribe("jmssync.>", func(m *nats.Msg) {
		if !strings.HasPrefix(m.Subject, "jmssync.alert.") && !strings.HasPrefix(m.Subject, "jmssync.run.") && !strings.HasPrefix(m.Subject, "jmssync.intent.") {
			return
		}
		e.alertsMu.Lock()
		defer e.alertsMu.Unlock()
		if a, err := events.DecodeAs[*events.Alert](m.Data); err == nil {
			e.alerts = append(e.alerts, a)
			return
		}
		e.order = append(e.order, m.Subject)
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return e
}

// start runs a reconciler until the test ends (or stop is called).
func (e *env) start(cfg Config) (*Service, func()) {
	e.t.Helper()
	s, err := New(e.t.Context(), cfg, Deps{JS: e.js, Logger: logging.New(e.logs, "debug", Name), FetchWait: 200 * time.Millisecond, Now: e.now})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			e.t.Errorf("run: %v", err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	e.wait("consuming", func() bool { return s.consuming.Check("").Fn(e.t.Context()) == nil })
	return s, stop
}

// now is the reconcilers' clock: real time plus what advance added.
func (e *env) now() time.Time {
	e.skewMu.Lock()
	defer e.skewMu.Unlock()
	return time.Now().Add(e.skew)
}

func (e *env) advance(d time.Duration) {
	e.skewMu.Lock()
	defer e.skewMu.Unlock()
	e.skew += d
}

// mirrorReady writes what the applier writes once the mirror is rebuilt.
func (e *env) mirrorReady(root string) {
	e.t.Helper()
	b, _ := json.Marshal(MirrorReady{RebuiltAt: time.Now().UTC(), Entries: 0, RootNode: root})
	if _, err := e.state.Put(e.t.Context(), KeyMirrorReady, b); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) wait(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s\nlogs:\n%s", what, e.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// vm is a running Linux instance of scope s.
func vm(s events.Scope, n int) asset.Instance {
	in := asset.Instance{Provider: s.Provider, AccountID: s.AccountID, Region: s.Region,
		InstanceID: fmt.Sprintf("i-%s-%03d", s.Region, n), Name: fmt.Sprintf("web-%s-%d", s.Region, n),
		OSType: asset.Linux, State: asset.Running, Status: "Running", PrivateIPs: []string{fmt.Sprintf("10.0.%d.%d", len(s.Region), n+1)}}
	in.Normalize()
	return in
}

func vms(s events.Scope, from, to int) []asset.Instance {
	var out []asset.Instance
	for i := from; i < to; i++ {
		out = append(out, vm(s, i))
	}
	return out
}

// pass publishes a complete pass the way a collector does: chunks (small,
// so a pass has several), then the close record. It returns the pass id.
func (e *env) pass(s events.Scope, ins []asset.Instance) string {
	e.t.Helper()
	id := events.NewPassID()
	chunks, err := events.SplitPass(id, s, ins, 600)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range chunks {
		e.publish(natsx.SnapshotSubject(natsScope(s), id), c)
	}
	digest, err := asset.Digest(ins)
	if err != nil {
		e.t.Fatal(err)
	}
	e.close(s, events.NewPassComplete(id, s, len(chunks), len(ins), digest, "acct-1", e.fence(), e.tick(), e.tick(), "c1"))
	return id
}

func (e *env) tick() time.Time { e.clock = e.clock.Add(time.Minute); return e.clock }
func (e *env) fence() uint64   { e.token++; return e.token }

func (e *env) close(s events.Scope, c *events.PassClose) {
	e.t.Helper()
	e.publish(natsx.PassSubject(natsScope(s)), c)
}

func (e *env) publish(subject string, m events.Message) {
	e.t.Helper()
	b, err := events.Encode(m)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := natsx.Publish(e.t.Context(), e.js, subject, b, m.MsgID()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) publishRaw(subject string, data []byte, msgID string) {
	e.t.Helper()
	if _, err := natsx.Publish(e.t.Context(), e.js, subject, data, msgID); err != nil {
		e.t.Fatal(err)
	}
}

// msgs reads the stored messages of stream matching filter, from sequence from.
func (e *env) msgs(stream, filter string, from uint64) []*jetstream.RawStreamMsg {
	e.t.Helper()
	st, err := e.js.Stream(e.t.Context(), stream)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := max(from, 1); ; {
		m, err := st.GetMsg(e.t.Context(), seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out
		}
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
		seq = m.Sequence + 1
	}
}

func (e *env) intents(from uint64) []*events.Intent {
	e.t.Helper()
	var out []*events.Intent
	for _, m := range e.msgs(natsx.StreamIntents, natsx.SubjectsIntents, from) {
		in, err := events.DecodeAs[*events.Intent](m.Data)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, in)
	}
	return out
}

func (e *env) lastSeq(stream string) uint64 {
	e.t.Helper()
	st, err := e.js.Stream(e.t.Context(), stream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.LastSeq
}

func (e *env) runs() []*events.RunRecord {
	e.t.Helper()
	var out []*events.RunRecord
	for _, m := range e.msgs(natsx.StreamRuns, natsx.SubjectsRuns, 1) {
		r, err := events.DecodeAs[*events.RunRecord](m.Data)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func (e *env) alertsOf(kind events.AlertKind) []*events.Alert {
	e.alertsMu.Lock()
	defer e.alertsMu.Unlock()
	var out []*events.Alert
	for _, a := range e.alerts {
		if a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}

func (e *env) scopeState(s events.Scope) (st struct {
	Verified *struct {
		PassID string `json:"pass_id"`
	} `json:"verified"`
	Trouble *struct {
		Reason string `json:"reason"`
	} `json:"trouble"`
	Held *struct {
		ID         string     `json:"id"`
		Identities []asset.ID `json:"identities"`
	} `json:"held"`
}) {
	e.t.Helper()
	kve, err := e.state.Get(e.t.Context(), ScopeStateKey(s))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return st
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal(kve.Value(), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// verified waits until the scope's state names pass id as verified.
func (e *env) verified(s events.Scope, id string) {
	e.t.Helper()
	e.wait("pass "+id+" verified", func() bool {
		st := e.scopeState(s)
		return st.Verified != nil && st.Verified.PassID == id
	})
}

// request sends a command and decodes the reply.
func (e *env) request(subject string, req any) Reply {
	e.t.Helper()
	b, _ := json.Marshal(req)
	m, err := e.nc.Request(subject, b, 10*time.Second)
	if err != nil {
		e.t.Fatalf("request %s: %v", subject, err)
	}
	var r Reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// apply is the fake applier: it applies the intents published since its
// last call to the mirror, as the real one would (generation-checked).
func (e *env) apply() int {
	e.t.Helper()
	ctx := e.t.Context()
	n := 0
	for _, m := range e.msgs(natsx.StreamIntents, natsx.SubjectsIntents, e.applied+1) {
		e.applied = m.Sequence
		in, err := events.DecodeAs[*events.Intent](m.Data)
		if err != nil {
			e.t.Fatal(err)
		}
		prev, rev, err := e.mirror.Get(ctx, in.Identity)
		if err != nil && !errors.Is(err, mirror.ErrNotFound) {
			e.t.Fatal(err)
		}
		if prev != nil && in.Generation <= prev.Generation {
			continue
		}
		next := applyIntent(prev, in)
		if _, err := e.mirror.Put(ctx, next, rev); err != nil {
			e.t.Fatal(err)
		}
		n++
	}
	return n
}

func applyIntent(prev *mirror.Entry, in *events.Intent) *mirror.Entry {
	now := time.Now().UTC()
	var e mirror.Entry
	if prev != nil {
		e = *prev
		e.State.Labels = slices.Clone(prev.State.Labels)
		e.State.Nodes = slices.Clone(prev.State.Nodes)
	}
	d := in.Desired
	switch in.Op {
	case events.OpCreate:
		e = mirror.Entry{AssetID: in.AssetID, Identity: in.Identity, Scope: in.Scope, State: events.AssetState{
			Name: d.Name, Address: d.Address, Platform: d.Platform,
			Protocols: append(slices.Clone(d.Protocols), events.Protocol{Name: "sftp", Port: 22}),
			Nodes:     []string{d.NodePath}, Labels: slices.Clone(d.Labels), Zone: d.Zone, IsActive: d.IsActive, Comment: d.Comment,
		}}
	case events.OpUpdate, events.OpActivate, events.OpDeactivate:
		e.Scope, e.Orphaned = in.Scope, false
		e.State.Address, e.State.Platform = d.Address, d.Platform
		if !slices.Contains(e.State.Nodes, d.NodePath) {
			e.State.Nodes = append(e.State.Nodes, d.NodePath)
		}
		for _, l := range d.Labels {
			e.State.Labels = slices.DeleteFunc(e.State.Labels, func(h events.Label) bool { return h.Name == l.Name })
			e.State.Labels = append(e.State.Labels, l)
		}
		if d.Zone != "" {
			e.State.Zone = d.Zone
		}
		switch in.Op {
		case events.OpActivate:
			e.State.IsActive, e.DeactivatedBySync, e.DeactivatedAt = true, false, time.Time{}
		case events.OpDeactivate:
			e.State.IsActive, e.DeactivatedBySync, e.DeactivatedAt = false, true, now
		}
	case events.OpDelete:
		e.Deleted = true
	case events.OpOrphan:
		e.Orphaned = true
	}
	e.Generation = in.Generation
	e.UpdatedAt = now
	return &e
}

func opsOf(ins []*events.Intent) map[events.Op]int {
	m := map[events.Op]int{}
	for _, in := range ins {
		m[in.Op]++
	}
	return m
}
