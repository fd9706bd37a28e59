package reconciler

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
)

// recordSpans installs a tracer provider with a span recorder for the test.
func recordSpans(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = tp.Shutdown(context.Background()) })
	return rec
}

func attrOf(sp sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range sp.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// closeSpan waits for the reconciler's consumer span of the close record
// of scope sc sent in the trace of send (the test's collector.pass).
func (e *env) closeSpan(rec *tracetest.SpanRecorder, sc events.Scope, send trace.SpanContext) sdktrace.ReadOnlySpan {
	e.t.Helper()
	var found sdktrace.ReadOnlySpan
	e.wait("the consumer span of the close of "+sc.String(), func() bool {
		for _, sp := range rec.Ended() {
			if strings.HasPrefix(sp.Name(), "process ") && sp.SpanContext().TraceID() == send.TraceID() &&
				attrOf(sp, "messaging.destination.name").AsString() == natsx.PassSubject(natsScope(sc)) {
				found = sp
				return true
			}
		}
		return false
	})
	return found
}

// decideSpans returns the ended reconciler.decide spans with trigger.
func decideSpans(rec *tracetest.SpanRecorder, trigger string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		if sp.Name() == "reconciler.decide" && attrOf(sp, attrTrigger).AsString() == trigger {
			out = append(out, sp)
		}
	}
	return out
}

func linkIDs(sp sdktrace.ReadOnlySpan) []trace.SpanID {
	var ids []trace.SpanID
	for _, l := range sp.Links() {
		ids = append(ids, l.SpanContext.SpanID())
	}
	return ids
}

// tracedPass sends a pass the way a collector does, inside a span standing
// for collector.pass, and returns that span's context.
func (e *env) tracedPass(sc events.Scope, ins []asset.Instance) (string, trace.SpanContext) {
	e.t.Helper()
	ctx, span := otel.Tracer("test").Start(e.t.Context(), "collector.pass")
	defer span.End()
	id := events.NewPassID()
	chunks, err := events.SplitPass(id, sc, ins, 600)
	if err != nil {
		e.t.Fatal(err)
	}
	pub := func(subject string, m events.Message) {
		b, err := events.Encode(m)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := natsx.Publish(ctx, e.js, subject, b, m.MsgID()); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, c := range chunks {
		pub(natsx.SnapshotSubject(natsScope(sc), id), c)
	}
	digest, err := asset.Digest(ins)
	if err != nil {
		e.t.Fatal(err)
	}
	pub(natsx.PassSubject(natsScope(sc)), events.NewPassComplete(id, sc, len(chunks), len(ins), digest, "acct-1", e.fence(), e.tick(), e.tick(), "c1"))
	e.verified(sc, id)
	return id, span.SpanContext()
}

// The decision of a cycle continues the passes' traces: reconciler.decide
// has the latest new pass's consumer span as parent and the other passes
// as links, carries the trigger, run id and intent count, and the run
// record and the intent batch are published under it. A command or a cycle
// without a new pass starts a root span (or continues the caller's) with
// every pass as a link.
func TestDecideSpanContinuesThePasses(t *testing.T) {
	rec := recordSpans(t)
	e := newEnv(t)
	s, _ := e.start(loadConfig(t, baseEnv()))

	// Both passes are verified before the mirror is ready: the first cycle
	// decides from both, B being the latest.
	idA, traceA := e.tracedPass(scopeA, vms(scopeA, 0, 3))
	idB, traceB := e.tracedPass(scopeB, vms(scopeB, 0, 2))
	procA, procB := e.closeSpan(rec, scopeA, traceA), e.closeSpan(rec, scopeB, traceB)
	e.mirrorReady("")
	e.wait("first cycle", func() bool { return s.Cycles() == 1 && len(decideSpans(rec, "pass")) == 1 })

	d := decideSpans(rec, "pass")[0]
	if d.Parent().SpanID() != procB.SpanContext().SpanID() || d.SpanContext().TraceID() != traceB.TraceID() {
		t.Fatalf("decide parent %s (trace %s), want pass B's consumer span %s (trace %s)",
			d.Parent().SpanID(), d.SpanContext().TraceID(), procB.SpanContext().SpanID(), traceB.TraceID())
	}
	if ids := linkIDs(d); len(ids) != 1 || ids[0] != procA.SpanContext().SpanID() {
		t.Fatalf("decide links %v, want pass A's consumer span %s", ids, procA.SpanContext().SpanID())
	}
	if set := attribute.NewSet(d.Links()[0].Attributes...); !set.HasValue(attrPassID) {
		t.Errorf("link without the pass id: %v", d.Links()[0].Attributes)
	} else if v, _ := set.Value(attrPassID); v.AsString() != idA {
		t.Errorf("link pass id %s, want %s", v.AsString(), idA)
	}
	if v := attrOf(d, attrPassID).AsString(); v != idB {
		t.Errorf("decide pass id %s, want %s", v, idB)
	}
	runs := e.runs()
	if len(runs) != 1 || attrOf(d, attrRunID).AsString() != runs[0].RunID {
		t.Errorf("run id attribute %q, runs %d", attrOf(d, attrRunID).AsString(), len(runs))
	}
	if n := attrOf(d, attrIntents).AsInt64(); n != 5 || len(e.intents(1)) != 5 {
		t.Errorf("intents attribute %d, published %d", n, len(e.intents(1)))
	}
	// The run record's send and the intent batch's send are children of
	// the decision (so every intent carries its trace).
	children := map[string]bool{}
	for _, sp := range rec.Ended() {
		if sp.Parent().SpanID() == d.SpanContext().SpanID() {
			children[sp.Name()] = true
		}
	}
	if !children["send jmssync.run"] || !children["send jmssync.intent batch"] {
		t.Errorf("children of the decision: %v", children)
	}

	// A command: no parent of a pass, both passes as links.
	if r := e.request(SubjectPrune, PruneRequest{ScopeRef{Provider: asset.Aliyun, AccountID: "prod", Region: scopeC.Region}}); !r.OK {
		t.Fatalf("prune: %+v", r)
	}
	prune := decideSpans(rec, "prune")
	if len(prune) != 1 || prune[0].Parent().IsValid() || len(prune[0].Links()) != 2 {
		t.Fatalf("prune decisions %d; want a root span with 2 links", len(prune))
	}
	// A cycle without a new pass (the interval's): a root span too.
	if _, err := s.Cycle(t.Context(), "interval"); err != nil {
		t.Fatal(err)
	}
	if iv := decideSpans(rec, "interval"); len(iv) != 1 || iv[0].Parent().IsValid() || len(iv[0].Links()) != 2 {
		t.Fatalf("interval decisions %d; want a root span with 2 links", len(iv))
	}
	// A caller's span is the parent.
	ctx, caller := otel.Tracer("test").Start(t.Context(), "caller")
	if _, err := s.Cycle(ctx, "caller"); err != nil {
		t.Fatal(err)
	}
	caller.End()
	if c := decideSpans(rec, "caller"); len(c) != 1 || c[0].Parent().SpanID() != caller.SpanContext().SpanID() || len(c[0].Links()) != 2 {
		t.Fatal("a caller's cycle does not continue its span")
	}

	// A new pass of A: the next cycle continues it, B (decided before) is a link.
	cycles := s.Cycles()
	_, traceA2 := e.tracedPass(scopeA, vms(scopeA, 0, 4))
	procA2 := e.closeSpan(rec, scopeA, traceA2)
	e.wait("cycle after the new pass", func() bool { return s.Cycles() > cycles && len(decideSpans(rec, "pass")) == 2 })
	d2 := decideSpans(rec, "pass")[1]
	if d2.Parent().SpanID() != procA2.SpanContext().SpanID() {
		t.Fatalf("second decision's parent %s, want the new pass of A %s", d2.Parent().SpanID(), procA2.SpanContext().SpanID())
	}
	if ids := linkIDs(d2); len(ids) != 1 || ids[0] != procB.SpanContext().SpanID() {
		t.Fatalf("second decision's links %v, want pass B's %s", ids, procB.SpanContext().SpanID())
	}
}
