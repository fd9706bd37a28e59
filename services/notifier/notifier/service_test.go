package notifier

import (
	"context"
	"fmt"
	"github.com/jmssync/jmssync/libs/logging/logtest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
	"github.com/jmssync/jmssync/libs/notify/notifytest"
	"github.com/jmssync/jmssync/libs/sim/dingtalksim"
)

const (
	tokA    = "tokA-0123456789abcdef0123456789"
	secretA = "SECaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tokB    = "tokB-0123456789abcdef0123456789"
	secretB = "SECbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	jmsURL  = "https://jms.example.com"
)

type env struct {
	t     *testing.T
	js    jetstream.JetStream
	sim   *dingtalksim.Server
	clock *notifytest.Clock
	svc   *Service
	logs  *logtest.Buffer
	stop  func() // stops the notifier (idempotent)
}

func baseConfig() Config {
	return Config{RunTimeout: 30 * time.Minute, MaxRows: 20, JumpServerURL: jmsURL, AssetsPath: "/ui/#/console/assets/assets",
		RateLimit: 18, AlertRepeat: 24 * time.Hour, Lookback: time.Hour, FailureSubject: natsx.DLQSubject("applier"), TimeZone: "UTC"}
}

// start runs a notifier on an embedded JetStream against the simulator; the
// notifier, the robots and the simulator share one manual clock.
func start(t *testing.T, cfg Config, robots ...dingtalksim.Robot) *env {
	t.Helper()
	_, js := natstest.Connect(t)
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	clock := notifytest.NewClock(time.Now())
	sim := dingtalksim.Start(t, dingtalksim.Options{Robots: robots, Now: clock.Now})
	for i := range cfg.Robots {
		tok := cfg.Robots[i].Webhook.Reveal()
		cfg.Robots[i].Webhook = config.Secret(sim.WebhookURL(tok))
	}
	e := &env{t: t, js: js, sim: sim, clock: clock, logs: &logtest.Buffer{}}
	svc, err := New(t.Context(), cfg, Deps{JS: js, Clock: clock, Logger: logging.New(e.logs, "debug", Name)})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	var once sync.Once
	e.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(e.stop)
	e.wait("caught up", func() bool { return svc.caughtUp.Check("").Fn(t.Context()) == nil })
	return e
}

func robot(name, tok, secret string, at ...string) Robot {
	return Robot{Name: name, Enabled: true, Webhook: config.Secret(tok), Secret: config.Secret(secret), AtMobiles: at}
}

// wait polls cond without moving the clock.
func (e *env) wait(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// drive polls cond, moving the manual clock to the next timer each time.
func (e *env) drive(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		e.clock.AdvanceToNext()
		time.Sleep(2 * time.Millisecond)
	}
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

func scopeOf(account, region string) events.Scope {
	return events.Scope{Provider: asset.Aliyun, AccountID: account, AccountName: "账号" + account, Region: region}
}

func (e *env) open(runID string, scopes ...events.RunScope) {
	e.publish(natsx.RunSubject(runID), events.NewRunOpen(runID, e.clock.Now(), "", scopes))
}

var factSeq int

func (e *env) fact(runID string, s events.Scope, op events.AppliedOp, name string) {
	factSeq++
	st := &events.AssetState{Name: name, Address: fmt.Sprintf("10.0.0.%d", factSeq%250), Platform: "Linux", IsActive: true}
	var before, after *events.AssetState
	switch op {
	case events.Created:
		after = st
	case events.Deleted:
		before = st
	default:
		before, after = st, st
	}
	f := &events.AppliedFact{Schema: events.SchemaAssetApplied, Op: op, AssetID: uuid.New(),
		Identity: asset.ID{Provider: s.Provider, InstanceID: fmt.Sprintf("i-%d", factSeq)}, Provider: s.Provider,
		AccountID: s.AccountID, Region: s.Region, Before: before, After: after, AppliedAt: e.clock.Now(), RunID: runID,
		IntentGeneration: 1, JumpServer: events.JumpServerRef{URL: jmsURL, OrgID: "00000000-0000-0000-0000-000000000002"}}
	e.publish(natsx.AssetSubject(string(op), natsx.Scope{Provider: string(s.Provider), Account: s.AccountID, Region: s.Region}), f)
}

func (e *env) closedRecord(runID string) *events.RunRecord {
	e.t.Helper()
	st, err := e.js.Stream(e.t.Context(), natsx.StreamRuns)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(e.t.Context(), natsx.RunSubject(runID))
	if err != nil {
		return nil
	}
	rec, err := events.DecodeAs[*events.RunRecord](m.Data)
	if err != nil || rec.Kind != events.RunClosed {
		return nil
	}
	return rec
}

func TestOneSignedCardPerRunAndAccount(t *testing.T) {
	cfg := baseConfig()
	cfg.Robots = []Robot{robot("ops", tokA, secretA), robot("oncall", tokB, secretB, "13800000000")}
	e := start(t, cfg, dingtalksim.Robot{Token: tokA, Secret: secretA}, dingtalksim.Robot{Token: tokB, Secret: secretB})

	const run = "0190a1b2-0000-7000-8000-0000000000a1"
	prod, dev, quiet := scopeOf("prod", "cn-hangzhou"), scopeOf("dev", "cn-beijing"), scopeOf("quiet", "cn-beijing")
	e.open(run, events.RunScope{Scope: prod, ExpectedIntents: 3, HeldDeletions: 2}, events.RunScope{Scope: dev, ExpectedIntents: 1},
		events.RunScope{Scope: quiet})
	e.fact(run, prod, events.Created, "web-01")
	e.fact(run, prod, events.Created, "web-02")
	e.fact(run, prod, events.Deleted, "old-01")
	e.fact(run, dev, events.Updated, "dev-db")

	e.drive("two cards per robot", func() bool { return len(e.sim.Accepted(tokA)) == 2 && len(e.sim.Accepted(tokB)) == 2 })
	a := e.sim.Accepted(tokA)
	texts := a[0].Text + a[1].Text
	for _, want := range []string{"| 新增资产 | 2 个 |", "| 删除资产 | 1 个 |", "| 暂缓删除 | 2 个 |", "| 更新资产 | 1 个 |",
		"| web-01 |", "| old-01 |", "| dev-db |", "账号prod (prod)", "账号dev (dev)", run} {
		if !strings.Contains(texts, want) {
			t.Errorf("cards lack %q:\n%s", want, texts)
		}
	}
	for _, m := range a {
		if !m.Signed || m.MsgType != "actionCard" || len(m.Buttons) != 1 || m.Buttons[0].URL != jmsURL+"/ui/#/console/assets/assets" {
			t.Errorf("card %+v", m)
		}
		if strings.Contains(m.Text, "quiet") {
			t.Error("a card was sent for an account without changes")
		}
	}
	for _, m := range e.sim.Accepted(tokB) { // at_mobiles: markdown that really mentions
		if m.MsgType != "markdown" || len(m.At.Mobiles) != 1 || len(m.MissingMentions) != 0 || !strings.Contains(m.Text, "@13800000000") {
			t.Errorf("mention message %+v", m)
		}
	}
	e.wait("closed record", func() bool { return e.closedRecord(run) != nil })
	rec := e.closedRecord(run)
	if s := rec.Summary; s.Applied[events.Created] != 2 || s.Applied[events.Updated] != 1 || s.TimedOut || s.Held != 2 {
		t.Errorf("summary %+v", s)
	}
	if n := len(e.sim.Rejected("")); n != 0 {
		t.Errorf("%d rejections: %+v", n, e.sim.Rejected(""))
	}
}

func TestThirtyRunsInAMinuteAllDeliveredWithoutThrottle(t *testing.T) {
	cfg := baseConfig()
	cfg.Robots = []Robot{robot("ops", tokA, secretA)}
	e := start(t, cfg, dingtalksim.Robot{Token: tokA, Secret: secretA})
	var runs []string
	for i := range 30 {
		run := fmt.Sprintf("0190a1b2-0000-7000-8000-%012d", i)
		runs = append(runs, run)
		s := scopeOf(fmt.Sprintf("acc%02d", i), "cn-hangzhou")
		e.open(run, events.RunScope{Scope: s, ExpectedIntents: 2})
		e.fact(run, s, events.Created, fmt.Sprintf("host-%02d-a", i))
		e.fact(run, s, events.Created, fmt.Sprintf("host-%02d-b", i))
		e.clock.Advance(2 * time.Second) // 30 runs over one minute
	}
	all := func() string {
		var b strings.Builder
		for _, m := range e.sim.Accepted(tokA) {
			b.WriteString(m.Text)
		}
		return b.String()
	}
	e.drive("every run delivered", func() bool {
		text := all()
		for _, r := range runs {
			if !strings.Contains(text, r) {
				return false
			}
		}
		return true
	})
	text := all()
	for i := range 30 {
		if !strings.Contains(text, fmt.Sprintf("host-%02d-b", i)) {
			t.Errorf("run %d rows missing", i)
		}
	}
	if rej := e.sim.Rejected(""); len(rej) != 0 {
		t.Fatalf("refused: %+v", rej)
	}
	t.Logf("30 runs in %d messages", len(e.sim.Accepted(tokA)))
}

func TestAlertsOncePerStateAndAheadOfCards(t *testing.T) {
	cfg := baseConfig()
	cfg.RateLimit = 1
	cfg.Robots = []Robot{robot("ops", tokA, secretA)}
	e := start(t, cfg, dingtalksim.Robot{Token: tokA, Secret: secretA})

	for i := range 3 { // one card goes out, two wait for the rate limit
		run := fmt.Sprintf("0190a1b2-0000-7000-8000-%012d", 100+i)
		s := scopeOf("prod", "cn-hangzhou")
		e.open(run, events.RunScope{Scope: s, ExpectedIntents: 1})
		e.fact(run, s, events.Created, fmt.Sprintf("card-%d", i))
	}
	e.wait("first card", func() bool { return len(e.sim.Accepted(tokA)) == 1 })
	e.wait("two cards queued", func() bool { return e.svc.Pending() == 2 })

	scope := scopeOf("prod", "cn-hangzhou")
	held := events.NewAlert(events.AlertDeletionsHeld, events.SeverityCritical, &scope, "37 deletions held", "plan-1",
		"reconciler", e.clock.Now(), map[string]string{"plan": "plan-1", "deletions": "37"})
	again := *held
	again.StateChangeID = "plan-1-cycle-2" // a producer repeating itself every cycle
	failed := events.NewAlert(events.AlertPassFailed, events.SeverityWarning, &scope, "DescribeInstances: Forbidden.RAM",
		"pass-1", "collector-aliyun", e.clock.Now(), map[string]string{"reason": "api_error"})
	e.publish(natsx.AlertSubject(string(held.Kind)), held)
	e.publish(natsx.AlertSubject(string(held.Kind)), &again)
	e.publish(natsx.AlertSubject(string(failed.Kind)), failed)
	e.wait("alerts queued", func() bool { return e.svc.Pending() == 4 })
	e.drive("everything sent", func() bool { return len(e.sim.Accepted(tokA)) >= 5 || e.svc.Pending() == 0 })
	e.drive("everything sent", func() bool { return e.svc.Pending() == 0 })

	// Queued messages of one class are merged while the robot is at its
	// limit, so look at where each piece of information went.
	var all strings.Builder
	for _, m := range e.sim.Accepted(tokA) {
		all.WriteString(m.Text + "\n<<message>>\n")
	}
	text := all.String()
	if n := strings.Count(text, "资产删除已暂缓"); n != 1 {
		t.Errorf("held deletions alerted %d times", n)
	}
	if n := strings.Count(text, "云资产采集失败"); n != 1 {
		t.Errorf("failed pass alerted %d times", n)
	}
	for _, want := range []string{"jms-sync confirm plan-1", "37", "cn-hangzhou", "Forbidden.RAM"} {
		if !strings.Contains(text, want) {
			t.Errorf("alerts lack %q", want)
		}
	}
	heldAt, failedAt := strings.Index(text, "资产删除已暂缓"), strings.Index(text, "云资产采集失败")
	for _, card := range []string{"card-1", "card-2"} {
		if i := strings.Index(text, card); i < heldAt || i < failedAt {
			t.Errorf("%s sent before the alerts:\n%s", card, text)
		}
	}
	if strings.Index(text, "card-0") > heldAt {
		t.Error("the first card was not sent first")
	}
}

func TestWrongSecretIsAClearSecretFreeError(t *testing.T) {
	const wrong = "SECwrongwrongwrongwrongwrong0000"
	cfg := baseConfig()
	cfg.Robots = []Robot{robot("ops", tokA, wrong)}
	e := start(t, cfg, dingtalksim.Robot{Token: tokA, Secret: secretA})
	const run = "0190a1b2-0000-7000-8000-0000000000c1"
	s := scopeOf("prod", "cn-hangzhou")
	e.open(run, events.RunScope{Scope: s, ExpectedIntents: 1})
	e.fact(run, s, events.Created, "web-01")

	var readyErr error
	e.drive("channel not ready", func() bool {
		for _, c := range e.svc.Checks()[1:] {
			if err := c.Fn(t.Context()); err != nil {
				readyErr = err
				return true
			}
		}
		return false
	})
	msg := readyErr.Error()
	if !strings.Contains(msg, "310000") || !strings.Contains(msg, "signing secret") {
		t.Errorf("unclear error: %s", msg)
	}
	if e.svc.Pending() != 1 {
		t.Errorf("card not kept: %d pending", e.svc.Pending())
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "misconfigured") {
		t.Errorf("not logged:\n%s", logs)
	}
	for _, secret := range []string{wrong, tokA, secretA} {
		if strings.Contains(msg, secret) || strings.Contains(logs, secret) {
			t.Errorf("%q leaked", secret)
		}
	}
}

func TestRunTimeoutAndFailuresFromTheDLQ(t *testing.T) {
	cfg := baseConfig()
	cfg.Robots = []Robot{robot("ops", tokA, "")}
	e := start(t, cfg, dingtalksim.Robot{Token: tokA})
	const run = "0190a1b2-0000-7000-8000-0000000000d1"
	hz, bj := scopeOf("prod", "cn-hangzhou"), scopeOf("prod", "cn-beijing")
	e.open(run, events.RunScope{Scope: hz, ExpectedIntents: 2}, events.RunScope{Scope: bj, ExpectedIntents: 5})
	e.fact(run, hz, events.Created, "web-01")
	in := events.NewIntent(events.OpDelete, uuid.New(), asset.ID{Provider: asset.Aliyun, InstanceID: "i-gone"}, 3, nil,
		"absent", run, hz, "", e.clock.Now())
	b, err := events.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(natsx.DLQSubject("applier"))
	m.Data = b
	m.Header.Set(natsx.HeaderDLQError, "jumpserver: 400 asset is in use")
	m.Header.Set(jetstream.MsgIDHeader, "dlq-1")
	if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	e.drive("timed-out card", func() bool { return len(e.sim.Accepted(tokA)) == 1 })
	text := e.sim.Accepted(tokA)[0].Text
	for _, want := range []string{"等待超时：5 个结果未返回", "cn-beijing：5 个中缺 5 个", "| 失败操作 | 1 个 |", "asset is in use", "| DELETE |"} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q:\n%s", want, text)
		}
	}
	e.wait("closed record", func() bool { return e.closedRecord(run) != nil })
	if s := e.closedRecord(run).Summary; !s.TimedOut || s.Pending != 5 || s.Failed != 1 {
		t.Errorf("summary %+v", s)
	}
}
