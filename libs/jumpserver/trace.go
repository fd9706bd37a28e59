package jumpserver

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation is the tracer name of this package.
const instrumentation = "github.com/jmssync/jmssync/libs/jumpserver"

// tracedSend is send inside a client span, a child of the caller's span
// (the applier's batch, itself in the trace of the intents), so a trace
// runs from the cloud listing to the request that wrote JumpServer. The
// span names the path template, never ids or the query, so spans group by
// endpoint and carry no asset data.
func (c *Client) tracedSend(ctx context.Context, cl call, payload []byte) (*response, error) {
	tmpl := pathTemplate(cl.path)
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(cl.method),
		semconv.URLTemplate(tmpl),
		semconv.ServerAddress(c.base.Hostname()),
	}
	if p, err := strconv.Atoi(c.base.Port()); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	ctx, span := otel.Tracer(instrumentation).Start(ctx, cl.method+" "+tmpl,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()
	res, err := c.send(ctx, cl, payload)
	var e *Error
	switch {
	case err == nil:
		span.SetAttributes(semconv.HTTPResponseStatusCode(res.status))
	case errors.As(err, &e):
		if e.Status != 0 {
			span.SetAttributes(semconv.HTTPResponseStatusCode(e.Status))
		}
		span.SetAttributes(semconv.ErrorTypeKey.String(string(e.Kind)))
		span.SetStatus(codes.Error, string(e.Kind))
	default: // the caller's context ended
		span.SetAttributes(semconv.ErrorTypeKey.String("canceled"))
		span.SetStatus(codes.Error, "canceled")
	}
	return res, err
}

// idSegment matches a path segment that is an object id: a UUID (with or
// without dashes) or a number.
var idSegment = regexp.MustCompile(`^(?:[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}|[0-9]+)$`)

// pathTemplate replaces the ids in an API path with {id}:
// /api/v1/assets/hosts/3f…/ → /api/v1/assets/hosts/{id}/.
func pathTemplate(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if idSegment.MatchString(s) {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}
