package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/sim/aliyunsim"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/dingtalksim"
	"github.com/jmssync/jmssync/libs/sim/huaweisim"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
	"github.com/jmssync/jmssync/services/applier/applier"
	"github.com/jmssync/jmssync/services/jms-sync/internal/app"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

func TestMain(m *testing.M) {
	// The Aliyun SDK sends even loopback traffic through a configured proxy.
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

// The configuration every world shares.
const (
	installID = "e2e"
	orgID     = jmssim.DefaultOrgID

	aliKey, aliSecret, aliAccount = "LTAIe2e00000001", "e2e-aliyun-secret", "1888000000000077"
	hwAK, hwSK, hwDomain          = "HWE2EAK000000001", "e2e-huawei-secret-key-0001", "0e2e0f0a0b0c0d0e0f0a0b0c0d0e0f0a"
	robotToken, robotSecret       = "e2e-robot-token", "SECe2erobotsecret"

	aliAccountID, aliAccountName = "prod-aliyun", "生产阿里云"
	hwAccountID, hwAccountName   = "prod-huawei", "生产华为云"
)

var (
	aliRegions = []string{"cn-hangzhou", "cn-beijing"}
	hwRegions  = []string{"cn-north-4", "cn-east-3"}
)

// World is the four simulators a test syncs between.
type World struct {
	JMS    *jmssim.Server
	Ali    *aliyunsim.Server
	HW     *huaweisim.Server
	Ding   *dingtalksim.Server // nil unless asked for
	AliInv *cloudinv.Inventory
	HWInv  *cloudinv.Inventory
	// Foreign are assets made by hand that carry the ownership label:
	// not managed (no mirror entry), never touched.
	Foreign map[string]bool
}

// WorldOptions shape a world.
type WorldOptions struct {
	PerRegion int // instances per region (2 clouds × 2 regions)
	Seed      uint64
	DingTalk  bool
	// HuaweiKeys are accepted besides the account's normal key.
	HuaweiKeys []cloudinv.Key
}

func NewWorld(t testing.TB, o WorldOptions) *World {
	t.Helper()
	if o.Seed == 0 {
		o.Seed = 7
	}
	w := &World{
		AliInv: cloudinv.New(cloudinv.Spec{Provider: cloudinv.Aliyun, Seed: o.Seed, Regions: aliRegions, PerRegion: o.PerRegion}),
		HWInv:  cloudinv.New(cloudinv.Spec{Provider: cloudinv.Huawei, Seed: o.Seed, Regions: hwRegions, PerRegion: o.PerRegion}),
	}
	w.JMS = jmssim.Start(t, jmssim.Options{Seed: o.Seed})
	w.Ali = aliyunsim.Start(t, aliyunsim.Options{Inventory: w.AliInv,
		Keys: []cloudinv.Key{{ID: aliKey, Secret: aliSecret, Account: aliAccount}}})
	w.HW = huaweisim.Start(t, huaweisim.Options{Inventory: w.HWInv,
		Keys: append([]cloudinv.Key{{ID: hwAK, Secret: hwSK, Account: hwDomain}}, o.HuaweiKeys...)})
	if o.DingTalk {
		w.Ding = dingtalksim.Start(t, dingtalksim.Options{Robots: []dingtalksim.Robot{{Token: robotToken, Name: "e2e", Secret: robotSecret}}})
	}
	return w
}

// Env is the configuration aiming every service at the simulators, as an
// operator aims them at the real systems, with test-sized timings:
// collectors run once at start and then only when triggered, the
// reconciler decides 200 ms after the last pass.
func (w *World) Env() map[string]string {
	env := map[string]string{
		"JMSSYNC_INSTALL_ID":                          installID,
		"JMSSYNC_LOG_LEVEL":                           "warn",
		"JMSSYNC_HTTP_ADDR":                           "127.0.0.1:0",
		"JMSSYNC_JUMPSERVER_URL":                      w.JMS.URL,
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_ID":            jmssim.DefaultKeyID,
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_SECRET":        jmssim.DefaultSecret,
		"JMSSYNC_JUMPSERVER_RATE":                     "1000",
		"JMSSYNC_ALIYUN_ENDPOINT":                     w.Ali.URL,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ID":                aliAccountID,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_NAME":              aliAccountName,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID":     aliKey,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET": aliSecret,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS":           strings.Join(aliRegions, ","),
		"JMSSYNC_HUAWEI_ENDPOINT":                     w.HW.URL,
		"JMSSYNC_HUAWEI_IAM_ENDPOINT":                 w.HW.URL,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ID":                hwAccountID,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_NAME":              hwAccountName,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ACCESS_KEY_ID":     hwAK,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_SECRET_ACCESS_KEY": hwSK,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_REGIONS":           strings.Join(hwRegions, ","),
		"JMSSYNC_INTERVAL":                            "1h",
		"JMSSYNC_JITTER":                              "0s",
		"JMSSYNC_RECONCILE_DEBOUNCE":                  "200ms",
		"JMSSYNC_RECONCILE_INTERVAL":                  "1h",
		"JMSSYNC_APPLIER_REBUILD_INTERVAL":            "1h",
		"JMSSYNC_APPLIER_PROBE_INTERVAL":              "1s",
		// The brief's mapping: a host per instance with a private address.
		"JMSSYNC_SYNC_ADDRESS": "private",
	}
	if w.Ding != nil {
		env["JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK"] = w.Ding.WebhookURL(robotToken)
		env["JMSSYNC_DINGTALK_ROBOTS_0_SECRET"] = robotSecret
		env["JMSSYNC_NOTIFY_RUN_TIMEOUT"] = "30s"
	}
	return env
}

// with returns a copy of env with overrides; an empty value removes a key.
func with(env map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(env)+len(kv)/2)
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

// Stack is the all-in-one running on one data directory.
type Stack struct {
	t    testing.TB
	W    *World
	Env  map[string]string
	Dir  string
	Cfg  *app.Configs
	Bus  *app.Bus
	Svcs *app.Services
	log  *logBuffer

	ctx    context.Context
	cancel context.CancelFunc
	done   chan error
	quiet  time.Duration
	// explicit: no cycle follows a pass by itself; the test runs them.
	explicit bool
	// Wait bounds every wait (pass, settle).
	Wait time.Duration
}

// Start runs the all-in-one on dir ("" = a new temporary directory) with
// env, waits for the collectors' first cycle and for the pipeline to settle.
func (w *World) Start(t testing.TB, env map[string]string, dir string) *Stack {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s := &Stack{t: t, W: w, Dir: dir, Wait: 90 * time.Second, log: &logBuffer{}}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("last log lines of the stack:\n%s", s.log.tail(80))
		}
	})
	s.start(env)
	return s
}

func (s *Stack) start(env map[string]string) {
	t := s.t
	t.Helper()
	s.Env = env
	cfg, err := app.LoadConfigs(env)
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	s.Cfg = cfg
	s.quiet = 500 * time.Millisecond
	// With a debounce this long, cycles are run by the test (Decide).
	s.explicit = cfg.Reconciler.Debounce > time.Minute
	log := logging.New(s.log, env["JMSSYNC_LOG_LEVEL"], "jms-sync-e2e")
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.Bus, err = app.OpenBus(s.ctx, "", s.Dir, log); err != nil {
		t.Fatalf("bus: %v", err)
	}
	before := s.lastSeq(natsx.StreamSnapshots)
	if s.Svcs, err = app.Build(s.ctx, cfg, s.Bus, log); err != nil {
		t.Fatalf("build: %v", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.Svcs.Run(s.ctx, log) }()
	s.decided(s.waitPasses(before))
	s.Settle()
}

// Stop stops the services and the bus (the data directory stays).
func (s *Stack) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("services stopped with: %v", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Errorf("services did not stop within 30s")
	}
	s.Bus.Close()
	s.cancel = nil
}

// Restart stops everything and starts again on the same data directory
// with env (nil: the same environment).
func (s *Stack) Restart(env map[string]string) {
	s.t.Helper()
	if env == nil {
		env = s.Env
	}
	s.Stop()
	s.start(env)
}

func (s *Stack) lastSeq(stream string) uint64 {
	s.t.Helper()
	st, err := s.Bus.JS.Stream(s.ctx, stream)
	if err != nil {
		s.t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(s.ctx)
	if err != nil {
		s.t.Fatalf("stream %s: %v", stream, err)
	}
	return info.State.LastSeq
}

// scopes are the scopes the collectors list.
func (s *Stack) scopes() []events.Scope {
	var out []events.Scope
	for _, c := range s.Svcs.Collectors {
		for _, t := range c.Targets {
			out = append(out, t.Scope)
		}
	}
	return out
}

func natsScope(sc events.Scope) natsx.Scope {
	return natsx.Scope{Provider: string(sc.Provider), Account: sc.AccountID, Region: sc.Region}
}

// waitPasses waits until every listed scope has a close record after
// stream sequence before, and returns them by scope ("provider/account/region").
func (s *Stack) waitPasses(before uint64, scopes ...events.Scope) map[string]*events.PassClose {
	t := s.t
	t.Helper()
	if len(scopes) == 0 {
		scopes = s.scopes()
	}
	st, err := s.Bus.JS.Stream(s.ctx, natsx.StreamSnapshots)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*events.PassClose{}
	deadline := time.Now().Add(s.Wait)
	for _, sc := range scopes {
		for {
			m, err := st.GetLastMsgForSubject(s.ctx, natsx.PassSubject(natsScope(sc)))
			if err == nil && m.Sequence > before {
				c, err := events.DecodeAs[*events.PassClose](m.Data)
				if err != nil {
					t.Fatalf("close of %s: %v", sc, err)
				}
				out[sc.String()] = c
				break
			}
			if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Fatalf("close of %s: %v", sc, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("no pass of %s within %s", sc, s.Wait)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return out
}

// Collect runs one collector cycle on demand (the trigger subject, as an
// operator would) and returns its close records by scope.
func (s *Stack) Collect() map[string]*events.PassClose {
	s.t.Helper()
	return s.collect(s.scopes())
}

// CollectScope lists one scope only (a trigger naming account and region).
func (s *Stack) CollectScope(sc events.Scope) map[string]*events.PassClose {
	s.t.Helper()
	return s.collect([]events.Scope{sc})
}

func (s *Stack) collect(scopes []events.Scope) map[string]*events.PassClose {
	t := s.t
	t.Helper()
	before := s.lastSeq(natsx.StreamSnapshots)
	for _, c := range s.Svcs.Collectors {
		var sel []byte
		for _, sc := range scopes {
			if sc.Provider != c.Provider {
				continue
			}
			if len(scopes) == 1 {
				sel = []byte(`{"account":"` + sc.AccountID + `","region":"` + sc.Region + `"}`)
			} else {
				sel = []byte(`{}`)
			}
		}
		if sel == nil {
			continue
		}
		msg, err := s.Bus.NC.Request(natsx.TriggerSubject(string(c.Provider)), sel, 5*time.Second)
		if err != nil {
			t.Fatalf("trigger %s: %v", c.Provider, err)
		}
		if !strings.Contains(string(msg.Data), `"queued":true`) {
			t.Fatalf("trigger %s: %s", c.Provider, msg.Data)
		}
	}
	return s.waitPasses(before, scopes...)
}

// Sync is one collector cycle followed by the pipeline settling.
func (s *Stack) Sync() map[string]*events.PassClose {
	s.t.Helper()
	closes := s.Collect()
	s.decided(closes)
	s.Settle()
	return closes
}

// scopeState is the part of the reconciler's per-scope state the tests read.
type scopeState struct {
	Verified *struct {
		PassID string `json:"pass_id"`
	} `json:"verified"`
	Counted string `json:"counted"`
}

func (s *Stack) scopeState(sc events.Scope) scopeState {
	s.t.Helper()
	kv, err := s.Bus.JS.KeyValue(s.ctx, natsx.BucketState)
	if err != nil {
		s.t.Fatal(err)
	}
	var st scopeState
	e, err := kv.Get(s.ctx, reconciler.ScopeStateKey(sc))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return st
	}
	if err != nil {
		s.t.Fatal(err)
	}
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// decided waits until the reconciler has verified closes and, unless the
// test runs the cycles, a cycle has decided from every usable one of them
// (it has counted its absences, which it records after publishing its
// intents).
func (s *Stack) decided(closes map[string]*events.PassClose) {
	s.t.Helper()
	s.verified()
	if s.explicit {
		return
	}
	deadline := time.Now().Add(s.Wait)
	for _, c := range closes {
		for {
			st := s.scopeState(c.Scope)
			if st.Verified == nil || st.Verified.PassID != c.PassID || st.Counted == c.PassID {
				break // not usable (no cycle follows), or decided
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("no cycle decided from pass %s of %s within %s", c.PassID, c.Scope, s.Wait)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// consumerIdle reports whether a durable consumer has nothing pending.
func (s *Stack) consumerIdle(stream, durable string) bool {
	c, err := s.Bus.JS.Consumer(s.ctx, stream, durable)
	if err != nil {
		return false
	}
	info, err := c.Info(s.ctx)
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
}

func (s *Stack) streamMsgs(stream string) uint64 {
	st, err := s.Bus.JS.Stream(s.ctx, stream)
	if err != nil {
		return 1
	}
	info, err := st.Info(s.ctx)
	if err != nil {
		return 1
	}
	return info.State.Msgs
}

// Settle waits until the pipeline is at rest: every close record verified,
// the INTENTS work queue empty and acknowledged, and no JumpServer write,
// reconciler cycle, intent, pass or dead letter for a short quiet period.
// (A cycle that follows a pass is awaited by decided.)
func (s *Stack) Settle() {
	t := s.t
	t.Helper()
	type mark struct {
		writes          int64
		cycles          int64
		intents, passes uint64
		dlq             uint64
	}
	read := func() mark {
		return mark{s.W.JMS.Counters().Writes, s.Svcs.Reconciler.Cycles(), s.lastSeq(natsx.StreamIntents),
			s.lastSeq(natsx.StreamSnapshots), s.lastSeq(natsx.StreamDLQ)}
	}
	deadline := time.Now().Add(s.Wait)
	last, since := read(), time.Now()
	for {
		time.Sleep(100 * time.Millisecond)
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline did not settle within %s (intents left %d)", s.Wait, s.streamMsgs(natsx.StreamIntents))
		}
		m := read()
		if m != last {
			last, since = m, time.Now()
			continue
		}
		if !s.consumerIdle(natsx.StreamSnapshots, reconciler.Name) || s.streamMsgs(natsx.StreamIntents) != 0 ||
			!s.consumerIdle(natsx.StreamIntents, applier.Durable) {
			since = time.Now()
			continue
		}
		if time.Since(since) >= s.quiet {
			return
		}
	}
}

// Decide waits until every close record is verified, runs one reconciler
// cycle now (as the interval would), and waits for its intents to be
// applied.
func (s *Stack) Decide() *planOutput {
	t := s.t
	t.Helper()
	s.verified()
	out, err := s.Svcs.Reconciler.Cycle(s.ctx, "e2e")
	if err != nil {
		t.Fatalf("cycle: %v", err)
	}
	s.Settle()
	po := &planOutput{Alerts: out.Alerts, Intents: out.Intents, Held: map[string]string{}}
	for _, sc := range out.Scopes {
		if sc.Held != nil {
			po.Held[sc.Scope.String()] = sc.Held.ID
		}
	}
	return po
}

// verified waits until the reconciler has verified every close record.
func (s *Stack) verified() {
	s.t.Helper()
	deadline := time.Now().Add(s.Wait)
	for !s.consumerIdle(natsx.StreamSnapshots, reconciler.Name) {
		if time.Now().After(deadline) {
			s.t.Fatal("close records not verified in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Mirror returns the mirror by identity key.
func (s *Stack) Mirror() map[string]*mirror.Entry {
	s.t.Helper()
	m, err := mirror.Open(s.ctx, s.Bus.JS)
	if err != nil {
		s.t.Fatal(err)
	}
	all, err := m.All(s.ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return all
}

// Rebuild makes the applier re-read JumpServer now (it does so on start
// and every APPLIER_REBUILD_INTERVAL).
func (s *Stack) Rebuild() {
	s.t.Helper()
	if err := s.Svcs.Applier.Rebuild(s.ctx); err != nil {
		s.t.Fatalf("rebuild: %v", err)
	}
}

// subjectMsgs returns the messages of stream whose subject matches filter.
func (s *Stack) subjectMsgs(stream, filter string) []*jetstream.RawStreamMsg {
	t := s.t
	t.Helper()
	st, err := s.Bus.JS.Stream(s.ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := uint64(1); ; {
		m, err := st.GetMsg(s.ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
		seq = m.Sequence + 1
	}
}

// Alerts returns every alert of kind on the ALERTS stream.
func (s *Stack) Alerts(kind events.AlertKind) []*events.Alert {
	var out []*events.Alert
	for _, m := range s.subjectMsgs(natsx.StreamAlerts, natsx.AlertSubject(string(kind))) {
		a, err := events.DecodeAs[*events.Alert](m.Data)
		if err != nil {
			s.t.Fatalf("alert: %v", err)
		}
		out = append(out, a)
	}
	return out
}

// DeadLetter is one message of the DLQ stream.
type DeadLetter struct {
	Subject, Reason, Error, Origin string
	Data                           []byte
}

func (s *Stack) DeadLetters(service string) []DeadLetter {
	var out []DeadLetter
	for _, m := range s.subjectMsgs(natsx.StreamDLQ, natsx.DLQSubject(service)) {
		out = append(out, DeadLetter{Subject: m.Subject, Reason: m.Header.Get(natsx.HeaderDLQReason),
			Error: m.Header.Get(natsx.HeaderDLQError), Origin: m.Header.Get(natsx.HeaderDLQSubject), Data: m.Data})
	}
	return out
}

// logBuffer keeps the stack's log for a failing test.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		b.lines = append(b.lines, l)
	}
	if len(b.lines) > 2000 {
		b.lines = slices.Clone(b.lines[len(b.lines)-1000:])
	}
	return len(p), nil
}

func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines[max(0, len(b.lines)-n):], "\n")
}

// ------------------------------------------------------------ JumpServer

// Hosts returns JumpServer's hosts of the Default org by asset id.
func (w *World) Hosts() map[string]jmssim.AssetState {
	out := map[string]jmssim.AssetState{}
	for _, o := range w.JMS.State().Orgs {
		if o.ID != orgID {
			continue
		}
		for _, a := range o.Assets {
			out[strings.ToLower(a.ID)] = a
		}
	}
	return out
}

// Managed are the hosts carrying the ownership label.
func (w *World) Managed() map[string]jmssim.AssetState {
	out := map[string]jmssim.AssetState{}
	for id, a := range w.Hosts() {
		if slices.Contains(a.Labels, applier.LabelPrefix+":"+installID) && !w.Foreign[id] {
			out[id] = a
		}
	}
	return out
}

// NodeID returns the id of a node path of the Default org.
func (w *World) NodeID(t testing.TB, path string) string {
	t.Helper()
	for _, o := range w.JMS.State().Orgs {
		if o.ID != orgID {
			continue
		}
		for _, n := range o.Nodes {
			if n.FullValue == path {
				return n.ID
			}
		}
	}
	t.Fatalf("no node %s", path)
	return ""
}

// Hand changes JumpServer as a person would, through its API.
func (w *World) Hand(t testing.TB, method, path string, body any) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.JMS.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token "+jmssim.DefaultPrivateToken)
	req.Header.Set("X-JMS-ORG", orgID)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

// PlatformID looks a platform up by name, as a person picks it in the UI.
func (w *World) PlatformID(t testing.TB, name string) int {
	t.Helper()
	b := w.Hand(t, "GET", "/api/v1/assets/platforms/", nil)
	var list []struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		var page struct {
			Results json.RawMessage `json:"results"`
		}
		if err := json.Unmarshal(b, &page); err != nil || json.Unmarshal(page.Results, &list) != nil {
			t.Fatalf("platforms: %s", b)
		}
	}
	for _, p := range list {
		if p.Name == name {
			return p.ID
		}
	}
	t.Fatalf("no platform %q", name)
	return 0
}

// ------------------------------------------------------------ expectations

// AssetID is the deterministic JumpServer id of an instance.
func AssetID(p asset.Provider, instanceID string) string {
	return asset.AssetID(installID, orgID, p, instanceID).String()
}

func provOf(inv *cloudinv.Inventory) asset.Provider {
	if inv.Provider() == cloudinv.Huawei {
		return asset.HuaweiCloud
	}
	return asset.Aliyun
}

// Want is a host the pipeline should have made.
type Want struct {
	ID       string
	Provider asset.Provider
	Instance string
	Base     string // the name before de-duplication
	Name     string
	// Alts are the other names a new host may get: when same names are
	// decided in different cycles (passes of different scopes that did
	// not arrive together), the first created keeps the plain name.
	Alts     []string
	Address  string
	Platform string
	Node     string
	Active   bool
}

// Expect computes the hosts the current configuration and inventories call
// for: an instance listed in a configured scope, running or stopped (not
// starting, stopping or being created), with a private address, is one host
// named after the instance (a name taken is suffixed with the end of the
// instance id — CheckHosts also checks that every name is unique; sticky
// holds the names already given, which never change),
// addressed by its first private IP, on the platform of its OS, in node
// /DEFAULT/<cloud>/<account name>.
func (s *Stack) Expect(sticky map[string]string) map[string]*Want {
	rc := s.Cfg.Reconciler
	deactivateStopped := strings.EqualFold(strings.TrimSpace(rc.Stopped), "deactivate")
	out := map[string]*Want{}
	var fresh []*Want
	for _, g := range []struct {
		inv      *cloudinv.Inventory
		accounts []reconciler.CloudAccount
	}{{s.W.AliInv, rc.AliyunAccounts}, {s.W.HWInv, rc.HuaweiAccounts}} {
		p := provOf(g.inv)
		for _, a := range g.accounts {
			if a.Disabled {
				continue
			}
			name := strings.TrimSpace(a.Name)
			if name == "" {
				name = a.StableID()
			}
			for _, r := range a.Regions {
				for _, in := range g.inv.All(strings.TrimSpace(r)) {
					if in.State != cloudinv.Running && in.State != cloudinv.Stopped {
						continue
					}
					ips := in.PrivateIPs()
					if len(ips) == 0 {
						continue
					}
					plat := "Linux"
					if in.OSType == "windows" {
						plat = "Windows"
					}
					base := strings.TrimSpace(in.Name)
					if base == "" {
						base = strings.TrimSpace(in.HostName)
					}
					if base == "" {
						base = in.ID
					}
					wt := &Want{ID: AssetID(p, in.ID), Provider: p, Instance: in.ID, Base: base, Address: ips[0], Platform: plat,
						Node:   "/DEFAULT/" + p.DisplayName() + "/" + name,
						Active: !(deactivateStopped && in.State == cloudinv.Stopped)}
					out[wt.ID] = wt
					if n, ok := sticky[wt.ID]; ok {
						wt.Name = n
					} else {
						fresh = append(fresh, wt)
					}
				}
			}
		}
	}
	nameNew(fresh, sticky)
	return out
}

// nameNew names the hosts created together: taken (folded) names stay with
// their holders; claims in identity order take their own name if free,
// then the others get "-" and the last 6 (8, 12, all) characters of their
// instance id.
func nameNew(claims []*Want, sticky map[string]string) {
	fold := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	used := map[string]bool{}
	for _, n := range sticky {
		used[fold(n)] = true
	}
	sort.Slice(claims, func(i, j int) bool { return claimKey(claims[i]) < claimKey(claims[j]) })
	var rest []*Want
	for _, c := range claims {
		if !used[fold(c.Base)] {
			used[fold(c.Base)] = true
			c.Name = c.Base
			continue
		}
		rest = append(rest, c)
	}
	for _, c := range rest {
		for _, n := range []int{6, 8, 12, len(c.Instance)} {
			tail := strings.TrimLeft(c.Instance[len(c.Instance)-min(n, len(c.Instance)):], "-_.")
			if cand := c.Base + "-" + tail; !used[fold(cand)] {
				used[fold(cand)] = true
				c.Name = cand
				break
			}
		}
	}
	for _, c := range claims {
		c.Alts = []string{c.Base}
		for _, n := range []int{6, 8, 12, len(c.Instance)} {
			c.Alts = append(c.Alts, c.Base+"-"+strings.TrimLeft(c.Instance[len(c.Instance)-min(n, len(c.Instance)):], "-_."))
		}
	}
}

// claimKey orders claims by identity: provider, then instance id.
func claimKey(w *Want) string { return string(w.Provider) + "\x00" + w.Instance }

// Names returns the names of the managed hosts by asset id (sticky names).
func (w *World) Names() map[string]string {
	out := map[string]string{}
	for id, a := range w.Managed() {
		out[id] = a.Name
	}
	return out
}

// CheckHosts compares the managed hosts with want exactly: missing, extra
// and wrong hosts are all reported.
func (w *World) CheckHosts(t testing.TB, want map[string]*Want) {
	t.Helper()
	have := w.Managed()
	var problems []string
	for id, wt := range want {
		h, ok := have[id]
		if !ok {
			problems = append(problems, fmt.Sprintf("missing %s (%s %q)", id, wt.Instance, wt.Name))
			continue
		}
		var diff []string
		if h.Name != wt.Name && !slices.Contains(wt.Alts, h.Name) {
			diff = append(diff, fmt.Sprintf("name %q, want %q", h.Name, wt.Name))
		}
		if h.Address != wt.Address {
			diff = append(diff, fmt.Sprintf("address %s, want %s", h.Address, wt.Address))
		}
		if h.Platform != wt.Platform {
			diff = append(diff, fmt.Sprintf("platform %s, want %s", h.Platform, wt.Platform))
		}
		if !slices.Contains(h.Nodes, wt.Node) {
			diff = append(diff, fmt.Sprintf("nodes %v, want %s", h.Nodes, wt.Node))
		}
		if h.IsActive != wt.Active {
			diff = append(diff, fmt.Sprintf("is_active %v, want %v", h.IsActive, wt.Active))
		}
		if len(diff) > 0 {
			problems = append(problems, fmt.Sprintf("wrong %s (%s): %s", id, wt.Instance, strings.Join(diff, "; ")))
		}
	}
	for id, h := range have {
		if _, ok := want[id]; !ok {
			problems = append(problems, fmt.Sprintf("extra %s %q %s", id, h.Name, h.Address))
		}
	}
	names := map[string]string{}
	for id, h := range w.Hosts() {
		k := strings.ToLower(strings.TrimSpace(h.Name))
		if other, dup := names[k]; dup {
			problems = append(problems, fmt.Sprintf("name %q used by %s and %s", h.Name, other, id))
		}
		names[k] = id
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		if len(problems) > 40 {
			problems = append(problems[:40], fmt.Sprintf("… and %d more", len(problems)-40))
		}
		t.Fatalf("JumpServer does not hold exactly the expected %d hosts (it holds %d managed):\n  %s",
			len(want), len(have), strings.Join(problems, "\n  "))
	}
}

// planOutput is what a test reads of a cycle it ran.
type planOutput struct {
	Alerts  []events.Alert
	Intents []events.Intent
	Held    map[string]string // scope → held plan id
}

// counters is a snapshot of JumpServer's write counters.
type counters struct{ writes, created, updated, deleted int64 }

func (w *World) counters() counters {
	c := w.JMS.Counters()
	return counters{c.Writes, c.AssetsCreated, c.AssetsUpdated, c.AssetsDeleted}
}

func (c counters) sub(o counters) counters {
	return counters{c.writes - o.writes, c.created - o.created, c.updated - o.updated, c.deleted - o.deleted}
}

func (c counters) String() string {
	return fmt.Sprintf("%d writes (%d created, %d updated, %d deleted)", c.writes, c.created, c.updated, c.deleted)
}

// pickMapped returns n instances of region that have a host (running, with
// a private address), skipping the first skip of them.
func pickMapped(t testing.TB, inv *cloudinv.Inventory, region string, skip, n int) []*cloudinv.Instance {
	t.Helper()
	var out []*cloudinv.Instance
	for _, in := range inv.All(region) {
		if in.State != cloudinv.Running || len(in.PrivateIPs()) == 0 {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, in)
		if len(out) == n {
			return out
		}
	}
	t.Fatalf("region %s has fewer than %d mapped instances", region, n)
	return nil
}
