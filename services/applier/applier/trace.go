package applier

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/telemetry"
)

// handleTraced is handle inside the batch's span, so the JumpServer
// requests of the batch (spans of libs/jumpserver) continue the trace that
// began with the cloud listing and went through the reconciler's intent.
func (a *Applier) handleTraced(ctx context.Context, msgs []jetstream.Msg) error {
	ctx, span := startBatchSpan(ctx, msgs)
	defer span.End()
	err := a.handle(ctx, msgs)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// startBatchSpan starts the span of one fetched batch. A span has one
// parent: it is the first intent's publish span; every other intent's
// is a link. The intents of one cycle share the cycle's trace, so a batch
// usually sits in that single trace. Each intent's outcome becomes an
// event of this span (metrics.intent).
func startBatchSpan(ctx context.Context, msgs []jetstream.Msg) (context.Context, trace.Span) {
	var parent trace.SpanContext
	var links []trace.Link
	seen := map[trace.SpanID]bool{}
	for _, m := range msgs {
		sc := trace.SpanContextFromContext(telemetry.ExtractNATS(context.Background(), m.Headers()))
		if !sc.IsValid() || seen[sc.SpanID()] {
			continue
		}
		seen[sc.SpanID()] = true
		if !parent.IsValid() {
			parent = sc
			continue
		}
		links = append(links, trace.Link{SpanContext: sc})
	}
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	return otel.Tracer(instrumentation).Start(ctx, "applier.apply",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(links...),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("nats"),
			semconv.MessagingDestinationName(natsx.StreamIntents),
			semconv.MessagingBatchMessageCount(len(msgs)),
			semconv.MessagingOperationTypeProcess,
		))
}
