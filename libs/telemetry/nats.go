package telemetry

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// Trace header names as W3C spells them. NATS headers are case-sensitive, so
// these exact lower-case keys are what other languages look up.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
	HeaderBaggage     = "baggage"
)

// NATSCarrier adapts nats.Header to propagation.TextMapCarrier. Unlike
// propagation.HeaderCarrier (which goes through http.Header and writes
// "Traceparent"), it writes lower-case keys; it reads exact keys first and
// falls back to a case-insensitive match, so a peer that canonicalised the
// key is still understood.
type NATSCarrier nats.Header

var _ propagation.TextMapCarrier = NATSCarrier(nil)

// Get returns the first value of key.
func (c NATSCarrier) Get(key string) string {
	if v := nats.Header(c).Get(key); v != "" {
		return v
	}
	for k, vs := range c {
		if len(vs) > 0 && strings.EqualFold(k, key) {
			return vs[0]
		}
	}
	return ""
}

// Set stores value under the lower-cased key, replacing any other spelling.
func (c NATSCarrier) Set(key, value string) {
	if c == nil {
		return
	}
	key = strings.ToLower(key)
	for k := range c {
		if k != key && strings.EqualFold(k, key) {
			delete(c, k)
		}
	}
	c[key] = []string{value}
}

// Keys lists the header keys.
func (c NATSCarrier) Keys() []string { return slices.Sorted(maps.Keys(c)) }

// InjectNATS writes the trace context (and baggage) of ctx into h. h must be
// non-nil (nats.NewMsg allocates it); a nil h is left alone.
func InjectNATS(ctx context.Context, h nats.Header) {
	if h == nil {
		return
	}
	propagator.Inject(ctx, NATSCarrier(h))
}

// ExtractNATS returns ctx with the remote span context (and baggage) found in
// h; with none, ctx is returned unchanged. A nil h is fine.
func ExtractNATS(ctx context.Context, h nats.Header) context.Context {
	return propagator.Extract(ctx, NATSCarrier(h))
}
