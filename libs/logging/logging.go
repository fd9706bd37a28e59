package logging

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
)

// Field names shared by every service's logs.
const (
	FieldService = "service"
	FieldTraceID = "trace_id"
	FieldSpanID  = "span_id"
)

// Option configures [New].
type Option func(*settings)

type settings struct {
	secrets    []string
	secretKeys []string
}

// WithSecrets masks these values in this logger's output (in addition to the
// process-wide values of [RegisterSecrets]).
func WithSecrets(values ...string) Option {
	return func(s *settings) { s.secrets = append(s.secrets, values...) }
}

// WithSecretKeys adds key names whose values are masked (matched like the
// built-in ones: case-insensitive, ignoring "_", "-" and ".", as a substring).
func WithSecretKeys(keys ...string) Option {
	return func(s *settings) { s.secretKeys = append(s.secretKeys, keys...) }
}

// New returns a JSON logger writing to w (os.Stdout when nil) at level
// ("trace", "debug", "info", "warn", "error"; anything unparsable means info),
// with a "service" field, timestamps, trace ids from the event's context, and
// secret redaction.
func New(w io.Writer, level, service string, opts ...Option) zerolog.Logger {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	if w == nil {
		w = os.Stdout
	}
	lvl, err := ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	rw := newRedactingWriter(w, s.secrets, s.secretKeys)
	return zerolog.New(rw).Level(lvl).Hook(traceHook{}).With().
		Timestamp().
		Str(FieldService, service).
		Logger()
}

// ParseLevel parses a level name; the empty string is info. Use it to
// validate a LOG_LEVEL setting.
func ParseLevel(level string) (zerolog.Level, error) {
	if strings.TrimSpace(level) == "" {
		return zerolog.InfoLevel, nil
	}
	return zerolog.ParseLevel(strings.ToLower(strings.TrimSpace(level)))
}

// WithContext returns a copy of ctx carrying l; retrieve it with [Ctx].
func WithContext(ctx context.Context, l zerolog.Logger) context.Context {
	return l.WithContext(ctx)
}

// Ctx returns the logger stored in ctx (a disabled logger if none) bound to
// ctx, so its events carry the trace_id and span_id of the span in ctx.
func Ctx(ctx context.Context) *zerolog.Logger {
	l := zerolog.Ctx(ctx).With().Ctx(ctx).Logger()
	return &l
}

// traceHook adds the trace and span ids of the event's context.
type traceHook struct{}

func (traceHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	sc := trace.SpanContextFromContext(e.GetCtx())
	if !sc.IsValid() {
		return
	}
	e.Str(FieldTraceID, sc.TraceID().String()).Str(FieldSpanID, sc.SpanID().String())
}
