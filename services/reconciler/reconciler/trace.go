package reconciler

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// A cycle runs in the loop goroutine, long after the passes that feed it
// were consumed, so nothing carries their trace there by itself. Each
// usable pass therefore leaves the span context it was verified in (the
// consumer span of its close record, a child of the collector's publish
// in the collector.pass trace) here, by scope key, and the cycle's
// reconciler.decide span continues from them: its parent is the latest
// pass that arrived since the previous cycle, every other pass is a link
// (a span has one parent; a decision reads every scope's pass). The run
// record, the intents and the alerts are published inside that span, so
// the trace goes on to the applier and JumpServer.
//
// A command (confirm, prune) is a decision someone asked for, not a
// consequence of a pass: it continues the caller's span when its context
// has one, else starts a root span; either way the passes are links. So
// does a cycle without any new pass (the interval): an hourly cycle is not
// made part of a listing's trace from hours ago.

// Attributes of the reconciler.decide span and of its links.
const (
	attrTrigger = "jmssync.trigger"
	attrRunID   = "jmssync.run_id"
	attrIntents = "jmssync.intents"
	attrAlerts  = "jmssync.alerts"
	attrPasses  = "jmssync.passes" // pass span contexts the decision continues (parent and links)
	attrScope   = "jmssync.scope"
	attrPassID  = "jmssync.pass_id"
)

// passTrace is the span context a usable pass was verified in.
type passTrace struct {
	sc     trace.SpanContext
	passID string
	seq    uint64 // arrival order
	fresh  bool   // not yet decided by a cycle
}

// passTraces holds the latest usable pass's span context per scope key.
type passTraces struct {
	mu     sync.Mutex
	seq    uint64
	scopes map[string]passTrace
}

func (s *Service) passTraces() *passTraces { return &s.traces }

// rememberPass notes the span context of ctx (handleClose's: the consumer
// span of the close record) as that of sc's latest usable pass. Without a
// valid one the scope's previous context is dropped: it belongs to a pass
// no longer decided from.
func (s *Service) rememberPass(ctx context.Context, sc events.Scope, passID string) {
	pt := s.passTraces()
	pt.mu.Lock()
	defer pt.mu.Unlock()
	key := plan.ScopeKey(sc)
	spanCtx := trace.SpanContextFromContext(ctx)
	if !spanCtx.IsValid() {
		delete(pt.scopes, key)
		return
	}
	pt.seq++
	if pt.scopes == nil {
		pt.scopes = map[string]passTrace{}
	}
	pt.scopes[key] = passTrace{sc: spanCtx, passID: passID, seq: pt.seq, fresh: true}
}

// startDecide starts the reconciler.decide span of a cycle (see above);
// command is true for a cycle someone asked for (confirm, prune). Every
// remembered pass counts as decided from then on.
func (s *Service) startDecide(ctx context.Context, trigger string, command bool) (context.Context, trace.Span) {
	pt := s.passTraces()
	pt.mu.Lock()
	keys := make([]string, 0, len(pt.scopes))
	for k := range pt.scopes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(pt.scopes[a].seq, pt.scopes[b].seq) })
	parent := ""
	if !command && !trace.SpanContextFromContext(ctx).IsValid() {
		for _, k := range keys { // the latest fresh pass
			if pt.scopes[k].fresh {
				parent = k
			}
		}
	}
	var links []trace.Link
	for _, k := range keys {
		p := pt.scopes[k]
		p.fresh = false
		pt.scopes[k] = p
		if k == parent {
			continue
		}
		links = append(links, trace.Link{SpanContext: p.sc, Attributes: []attribute.KeyValue{
			attribute.String(attrScope, k), attribute.String(attrPassID, p.passID),
		}})
	}
	attrs := []attribute.KeyValue{attribute.String(attrTrigger, trigger), attribute.Int(attrPasses, len(keys))}
	if parent != "" {
		p := pt.scopes[parent]
		ctx = trace.ContextWithSpanContext(ctx, p.sc)
		attrs = append(attrs, attribute.String(attrScope, parent), attribute.String(attrPassID, p.passID))
	}
	pt.mu.Unlock()
	return otel.Tracer(instrumentation).Start(ctx, "reconciler.decide",
		trace.WithLinks(links...), trace.WithAttributes(attrs...))
}

// decided records what the cycle decided on its span.
func decided(span trace.Span, out *plan.Output) {
	span.SetAttributes(attribute.String(attrRunID, out.Run.RunID),
		attribute.Int(attrIntents, len(out.Intents)), attribute.Int(attrAlerts, len(out.Alerts)))
}

// endDecide ends the span of a cycle, marking it failed when err is set.
func endDecide(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "cycle failed")
	}
	span.End()
}
