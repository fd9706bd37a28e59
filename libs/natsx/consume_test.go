package natsx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/jmssync/jmssync/libs/logging/logtest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

var spans = tracetest.NewSpanRecorder()

func TestMain(m *testing.M) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	code := m.Run()
	_ = tp.Shutdown(context.Background())
	os.Exit(code)
}

var scope = natsx.Scope{Provider: "aliyun", Account: "acct.1", Region: "cn-hangzhou"}

// setup starts a server with the topology (in memory) and an "applier"
// consumer on INTENTS.
func setup(t *testing.T, edit func(*jetstream.ConsumerConfig)) (jetstream.JetStream, jetstream.Consumer) {
	t.Helper()
	_, js := natstest.Connect(t)
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	cfg := natsx.DefaultConsumer("applier", natsx.SubjectsIntents)
	if edit != nil {
		edit(&cfg)
	}
	c, err := natsx.EnsureConsumer(t.Context(), js, natsx.StreamIntents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return js, c
}

// recorder is a handler that records deliveries and answers from a script.
type recorder struct {
	mu    sync.Mutex
	calls []call
	reply func(n int, ctx context.Context, msg jetstream.Msg) error
}

type call struct {
	at         time.Time
	deliveries uint64
	ctx        context.Context
	data       string
}

func (r *recorder) handle(ctx context.Context, msg jetstream.Msg) error {
	md, _ := msg.Metadata()
	r.mu.Lock()
	r.calls = append(r.calls, call{at: time.Now(), deliveries: md.NumDelivered, ctx: ctx, data: string(msg.Data())})
	n := len(r.calls)
	r.mu.Unlock()
	if r.reply == nil {
		return nil
	}
	return r.reply(n, ctx, msg)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) get(i int) call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[i]
}

// run starts Consume until the test ends.
func run(t *testing.T, c jetstream.Consumer, h natsx.Handler, o natsx.ConsumeOptions) {
	t.Helper()
	if o.Service == "" {
		o.Service = "applier"
	}
	if o.FetchWait == 0 {
		o.FetchWait = 300 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- natsx.Consume(ctx, c, h, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Consume: %v", err)
		}
	})
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func publish(t *testing.T, js jetstream.JetStream, data, id string) *jetstream.PubAck {
	t.Helper()
	ack, err := natsx.Publish(t.Context(), js, natsx.IntentSubject(scope), []byte(data), id)
	if err != nil {
		t.Fatal(err)
	}
	return ack
}

func consumerSettled(t *testing.T, c jetstream.Consumer) func() bool {
	return func() bool {
		info, err := c.Info(t.Context())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0
	}
}

func TestPublishDedupe(t *testing.T) {
	js, _ := setup(t, nil)
	first := publish(t, js, "v1", "asset-1:gen-1")
	second := publish(t, js, "v1", "asset-1:gen-1")
	if first.Duplicate || !second.Duplicate || second.Sequence != first.Sequence {
		t.Fatalf("first %+v second %+v", first, second)
	}
	publish(t, js, "v2", "asset-1:gen-2")
	st, _ := js.Stream(t.Context(), natsx.StreamIntents)
	info, _ := st.Info(t.Context())
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2", info.State.Msgs)
	}
	if _, err := natsx.Publish(t.Context(), js, natsx.IntentSubject(scope), nil, ""); !errors.Is(err, natsx.ErrNoMsgID) {
		t.Fatalf("publish without id: %v", err)
	}
	if _, err := natsx.PublishJSON(t.Context(), js, natsx.IntentSubject(scope), map[string]int{"gen": 3}, "asset-1:gen-3"); err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetLastMsgForSubject(t.Context(), natsx.IntentSubject(scope))
	if err != nil || string(msg.Data) != `{"gen":3}` || msg.Header.Get(natsx.HeaderContentType) != "application/json" || msg.Header.Get(jetstream.MsgIDHeader) != "asset-1:gen-3" {
		t.Fatalf("stored %+v, %v", msg, err)
	}
}

func TestMaxPayload(t *testing.T) {
	nc, js := natstest.Connect(t, natstest.WithMaxPayload(8*1024))
	if got := natsx.MaxPayload(nc); got != 8*1024 {
		t.Fatalf("MaxPayload = %d", got)
	}
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	_, err := natsx.Publish(t.Context(), js, natsx.SnapshotSubject(scope, "p1"), make([]byte, 8*1024), "p1:0")
	if !errors.Is(err, natsx.ErrPayloadTooLarge) {
		t.Fatalf("oversize publish: %v", err)
	}
	if _, err := natsx.Publish(t.Context(), js, natsx.SnapshotSubject(scope, "p1"), make([]byte, 7*1024), "p1:1"); err != nil {
		t.Fatal(err)
	}
}

func TestConsumeAck(t *testing.T) {
	js, c := setup(t, nil)
	var r recorder
	run(t, c, r.handle, natsx.ConsumeOptions{JS: js})
	publish(t, js, "one", "1")
	publish(t, js, "two", "2")
	eventually(t, 5*time.Second, "two messages", func() bool { return r.count() == 2 })
	eventually(t, 5*time.Second, "acks", consumerSettled(t, c))
	st, _ := js.Stream(t.Context(), natsx.StreamIntents)
	if info, _ := st.Info(t.Context()); info.State.Msgs != 0 {
		t.Errorf("work queue still holds %d messages after ack", info.State.Msgs)
	}
}

func TestConsumeRetryRedeliversAfterDelay(t *testing.T) {
	js, c := setup(t, nil)
	const delay = 700 * time.Millisecond
	r := recorder{reply: func(n int, _ context.Context, _ jetstream.Msg) error {
		if n == 1 {
			return natsx.Retry(delay, errors.New("breaker open"))
		}
		return nil
	}}
	run(t, c, r.handle, natsx.ConsumeOptions{JS: js})
	publish(t, js, "x", "1")
	eventually(t, 5*time.Second, "redelivery", func() bool { return r.count() == 2 })
	if gap := r.get(1).at.Sub(r.get(0).at); gap < delay-50*time.Millisecond {
		t.Fatalf("redelivered after %s, want ≥ %s", gap, delay)
	}
	if r.get(1).deliveries != 2 {
		t.Fatalf("deliveries = %d", r.get(1).deliveries)
	}
	eventually(t, 5*time.Second, "ack", func() bool {
		info, err := c.Info(t.Context())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	assertDLQEmpty(t, js)
}

func TestConsumeUnknownErrorRedelivered(t *testing.T) {
	js, c := setup(t, nil)
	r := recorder{reply: func(n int, _ context.Context, _ jetstream.Msg) error {
		if n < 3 {
			return fmt.Errorf("temporary failure %d", n)
		}
		return nil
	}}
	run(t, c, r.handle, natsx.ConsumeOptions{JS: js, BackoffBase: 100 * time.Millisecond})
	publish(t, js, "x", "1")
	eventually(t, 5*time.Second, "third delivery", func() bool { return r.count() == 3 })
	// Exponential: ~100ms then ~200ms.
	if g1, g2 := r.get(1).at.Sub(r.get(0).at), r.get(2).at.Sub(r.get(1).at); g1 < 80*time.Millisecond || g2 < 180*time.Millisecond {
		t.Errorf("gaps %s, %s: want ≥ 100ms, ≥ 200ms", g1, g2)
	}
	eventually(t, 5*time.Second, "ack", func() bool {
		info, err := c.Info(t.Context())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	assertDLQEmpty(t, js)
}

func TestConsumePoisonGoesToDLQ(t *testing.T) {
	js, c := setup(t, func(cc *jetstream.ConsumerConfig) { cc.AckWait = time.Second })
	secret := "dlq-secret-value-42"
	logging.RegisterSecrets(secret)
	var r recorder
	r.reply = func(int, context.Context, jetstream.Msg) error {
		return natsx.Poison("unknown_version", fmt.Errorf("schema v9 unsupported (token %s)", secret))
	}
	run(t, c, r.handle, natsx.ConsumeOptions{JS: js})

	ctx, span := otel.Tracer("test").Start(t.Context(), "producer-root")
	ack, err := natsx.Publish(ctx, js, natsx.IntentSubject(scope), []byte(`{"v":9}`), "asset-9:gen-1", nats.Header{"x-kind": {"intent"}})
	span.End()
	if err != nil {
		t.Fatal(err)
	}

	msg := waitDLQ(t, js, "applier")
	h := msg.Header
	checks := map[string]string{
		natsx.HeaderDLQReason:     "unknown_version",
		natsx.HeaderDLQService:    "applier",
		natsx.HeaderDLQSubject:    natsx.IntentSubject(scope),
		natsx.HeaderDLQStream:     natsx.StreamIntents,
		natsx.HeaderDLQStreamSeq:  fmt.Sprint(ack.Sequence),
		natsx.HeaderDLQConsumer:   "applier",
		natsx.HeaderDLQDeliveries: "1",
		natsx.HeaderDLQMsgID:      "asset-9:gen-1",
		"x-kind":                  "intent",
	}
	for k, want := range checks {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if h.Get("traceparent") == "" {
		t.Error("trace context not kept on the dead letter")
	}
	if e := h.Get(natsx.HeaderDLQError); !strings.Contains(e, "schema v9 unsupported") || strings.Contains(e, secret) {
		t.Errorf("error header = %q", e)
	}
	if string(msg.Data) != `{"v":9}` {
		t.Errorf("payload = %q", msg.Data)
	}

	// Terminated: not redelivered even after AckWait has passed.
	time.Sleep(1500 * time.Millisecond)
	if n := r.count(); n != 1 {
		t.Fatalf("poison message handled %d times", n)
	}
	eventually(t, 2*time.Second, "no pending", func() bool {
		info, err := c.Info(t.Context())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
}

func TestConsumeMaxAttemptsAndMalformed(t *testing.T) {
	js, c := setup(t, nil)
	type intent struct {
		Gen int `json:"gen"`
	}
	var mu sync.Mutex
	seen := map[int]int{}
	h := natsx.JSON(func(_ context.Context, v intent, _ jetstream.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		seen[v.Gen]++
		return errors.New("always failing")
	})
	run(t, c, h, natsx.ConsumeOptions{JS: js, MaxAttempts: 3, BackoffBase: 20 * time.Millisecond})
	publish(t, js, "{not json", "bad")
	publish(t, js, `{"gen":1}`, "good")
	eventually(t, 5*time.Second, "two dead letters", func() bool { return dlqCount(t, js) == 2 })

	st, _ := js.Stream(t.Context(), natsx.StreamDLQ)
	reasons := map[string]string{}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := st.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		reasons[m.Header.Get(natsx.HeaderDLQMsgID)] = m.Header.Get(natsx.HeaderDLQReason) + "@" + m.Header.Get(natsx.HeaderDLQDeliveries)
	}
	if reasons["bad"] != natsx.ReasonMalformed+"@1" || reasons["good"] != natsx.ReasonMaxAttempts+"@3" {
		t.Fatalf("dead letters: %v", reasons)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen[1] != 3 {
		t.Fatalf("handled %d times, want 3", seen[1])
	}
}

func TestTracePropagatesIntoHandler(t *testing.T) {
	js, c := setup(t, nil)
	var r recorder
	run(t, c, r.handle, natsx.ConsumeOptions{JS: js})

	ctx, root := otel.Tracer("test").Start(t.Context(), "reconcile")
	if _, err := natsx.Publish(ctx, js, natsx.IntentSubject(scope), []byte("x"), "traced-1"); err != nil {
		t.Fatal(err)
	}
	root.End()
	eventually(t, 5*time.Second, "delivery", func() bool { return r.count() == 1 })

	got := trace.SpanContextFromContext(r.get(0).ctx)
	if got.TraceID() != root.SpanContext().TraceID() {
		t.Fatalf("handler trace %s, publisher trace %s", got.TraceID(), root.SpanContext().TraceID())
	}
	// The handler's span is a consumer span whose parent is the producer span.
	var producer, consumer sdktrace.ReadOnlySpan
	eventually(t, 5*time.Second, "spans", func() bool {
		for _, s := range spans.Ended() {
			if s.SpanContext().TraceID() != got.TraceID() {
				continue
			}
			switch s.SpanKind() {
			case trace.SpanKindProducer:
				producer = s
			case trace.SpanKindConsumer:
				consumer = s
			}
		}
		return producer != nil && consumer != nil
	})
	if producer.Parent().SpanID() != root.SpanContext().SpanID() || consumer.Parent().SpanID() != producer.SpanContext().SpanID() {
		t.Fatalf("span chain broken: root %s ← producer %s (parent %s) ← consumer (parent %s)",
			root.SpanContext().SpanID(), producer.SpanContext().SpanID(), producer.Parent().SpanID(), consumer.Parent().SpanID())
	}
	if consumer.SpanContext().SpanID() != got.SpanID() {
		t.Fatal("handler ctx does not carry the consumer span")
	}

	// The logger in the handler ctx writes trace ids too.
	var buf bytes.Buffer
	l := logging.New(&buf, "info", "t")
	logging.Ctx(logging.WithContext(r.get(0).ctx, l)).Info().Msg("in handler")
	if !strings.Contains(buf.String(), got.TraceID().String()) {
		t.Fatalf("log line without trace id: %s", buf.String())
	}
}

func TestPauseStopsFetching(t *testing.T) {
	js, c := setup(t, nil)
	var r recorder
	var gate natsx.Gate
	gate.Pause()
	run(t, c, r.handle, natsx.ConsumeOptions{JS: js, Gate: &gate, FetchWait: 200 * time.Millisecond})
	publish(t, js, "waits", "1")
	time.Sleep(800 * time.Millisecond)
	if r.count() != 0 {
		t.Fatal("handled while paused")
	}
	gate.Resume()
	eventually(t, 5*time.Second, "delivery after resume", func() bool { return r.count() == 1 })

	// Pausing a running loop: after the pull in flight, nothing is fetched.
	gate.Pause()
	time.Sleep(400 * time.Millisecond) // > FetchWait
	publish(t, js, "waits too", "2")
	time.Sleep(800 * time.Millisecond)
	if r.count() != 1 {
		t.Fatal("fetched while paused")
	}
	if info, _ := c.Info(t.Context()); info.NumPending != 1 || info.NumRedelivered != 0 {
		t.Fatalf("paused message not waiting untouched: pending %d redelivered %d", info.NumPending, info.NumRedelivered)
	}
	gate.Resume()
	eventually(t, 5*time.Second, "second delivery", func() bool { return r.count() == 2 })
	if r.get(1).deliveries != 1 {
		t.Fatalf("message was delivered %d times", r.get(1).deliveries)
	}
	assertDLQEmpty(t, js)
}

func TestInProgressHeartbeat(t *testing.T) {
	js, c := setup(t, func(cc *jetstream.ConsumerConfig) { cc.AckWait = time.Second })
	r := recorder{reply: func(n int, _ context.Context, _ jetstream.Msg) error {
		if n == 1 {
			time.Sleep(2500 * time.Millisecond) // 2.5 × AckWait
		}
		return nil
	}}
	run(t, c, r.handle, natsx.ConsumeOptions{JS: js, Heartbeat: 300 * time.Millisecond})
	publish(t, js, "slow", "1")
	eventually(t, 5*time.Second, "ack of the slow message", consumerSettled(t, c))
	if n := r.count(); n != 1 {
		t.Fatalf("slow message handled %d times; heartbeat did not hold it", n)
	}
}

func TestConnectAndPermissions(t *testing.T) {
	const password = "collector-pw-Secret-1"
	_, url := natstest.Start(t, natstest.WithUsers(natstest.User{
		Name:      "collector",
		Password:  password,
		Publish:   []string{natsx.SubjectsSnapshots, natsx.SubjectsPasses},
		Subscribe: []string{"_INBOX.>"},
	}))
	_, admin := natstest.Dial(t, url, nats.UserInfo(natstest.AdminUser, natstest.AdminPassword))
	if err := natsx.EnsureTopology(t.Context(), admin, natsx.TopologyOptions{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}

	var logs logtest.Buffer
	log := logging.New(&logs, "debug", "collector")
	nc, err := natsx.Connect(t.Context(), natsx.ConnectOptions{URL: url, Name: "collector", User: "collector", Password: config.Secret(password)}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)

	if _, err := natsx.Publish(t.Context(), js, natsx.PassSubject(scope), []byte("close"), "p1"); err != nil {
		t.Fatalf("allowed publish: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := natsx.Publish(ctx, js, natsx.IntentSubject(scope), []byte("forged"), "f1"); err == nil {
		t.Fatal("collector published an intent")
	}
	eventually(t, 3*time.Second, "permission violation logged", func() bool {
		return strings.Contains(logs.String(), "Permissions Violation")
	})
	st, _ := admin.Stream(t.Context(), natsx.StreamIntents)
	if info, _ := st.Info(t.Context()); info.State.Msgs != 0 {
		t.Fatalf("INTENTS holds %d forged messages", info.State.Msgs)
	}

	if _, err := natsx.Connect(t.Context(), natsx.ConnectOptions{URL: url, User: "collector", Password: "wrong-password-x"}, log); err == nil {
		t.Fatal("wrong password accepted")
	} else if strings.Contains(err.Error(), "wrong-password-x") {
		t.Fatalf("password in error: %v", err)
	}
	nc.Close()
	if strings.Contains(logs.String(), password) {
		t.Fatalf("password in logs: %s", logs.String())
	}
}

func dlqCount(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	st, err := js.Stream(t.Context(), natsx.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func assertDLQEmpty(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	if n := dlqCount(t, js); n != 0 {
		t.Fatalf("DLQ holds %d messages", n)
	}
}

func waitDLQ(t *testing.T, js jetstream.JetStream, service string) *jetstream.RawStreamMsg {
	t.Helper()
	st, err := js.Stream(t.Context(), natsx.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	var msg *jetstream.RawStreamMsg
	eventually(t, 5*time.Second, "dead letter", func() bool {
		msg, err = st.GetLastMsgForSubject(t.Context(), natsx.DLQSubject(service))
		return err == nil
	})
	return msg
}
