package applier

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// TestTraceReachesJumpServer: an intent published inside a span (the
// reconciler's decision) is applied in a span of that trace, and the
// JumpServer write is a child of it with its path template and status.
func TestTraceReachesJumpServer(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = tp.Shutdown(context.Background()) })

	e := newEnv(t, jmssim.Options{Version: jmssim.V410, Knobs: jmssim.Knobs{Licensed: true}}, nil)
	e.start(testHooks{})
	waitFor(t, 10*time.Second, "mirror ready", func() bool { _, ok := readyInfo(t, e); return ok })

	ctx, decision := tp.Tracer("test").Start(t.Context(), "reconciler.decide")
	in := intent(e, events.OpCreate, 1, 1, desired(1))
	in.ObservedAt = time.Now().Add(-time.Minute).UTC()
	b, err := events.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	subj := natsx.IntentSubject(natsx.Scope{Provider: string(testScope.Provider), Account: testScope.AccountID, Region: testScope.Region})
	if _, err := natsx.Publish(ctx, e.js, subj, b, in.MsgID()); err != nil {
		t.Fatal(err)
	}
	decision.End()
	waitFor(t, 10*time.Second, "the fact", func() bool { return e.factCount() >= 1 })

	traceID := decision.SpanContext().TraceID()
	var apply, post sdktrace.ReadOnlySpan
	waitFor(t, 5*time.Second, "the spans", func() bool {
		for _, s := range rec.Ended() {
			switch {
			case s.Name() == "applier.apply" && s.SpanContext().TraceID() == traceID:
				apply = s
			case s.Name() == "POST /api/v1/assets/hosts/" && s.SpanContext().TraceID() == traceID:
				post = s
			}
		}
		return apply != nil && post != nil
	})
	if apply.Parent().TraceID() != traceID || !apply.Parent().IsRemote() {
		t.Errorf("applier.apply parent %v", apply.Parent())
	}
	if post.Parent().SpanID() != apply.SpanContext().SpanID() {
		t.Errorf("the JumpServer request is not a child of applier.apply")
	}
	attrs := attribute.NewSet(post.Attributes()...)
	if v, _ := attrs.Value("url.template"); v.AsString() != "/api/v1/assets/hosts/" {
		t.Errorf("url.template = %v", v)
	}
	if v, _ := attrs.Value("http.response.status_code"); v.AsInt64() < 200 || v.AsInt64() > 299 {
		t.Errorf("status = %v", v)
	}
	settled := false
	for _, ev := range apply.Events() {
		if ev.Name == "intent settled" {
			settled = true
		}
	}
	if !settled {
		t.Error("no intent outcome on applier.apply")
	}
}
