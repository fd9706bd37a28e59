package logging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/logging"
)

func lines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestNewJSON(t *testing.T) {
	var b bytes.Buffer
	l := logging.New(&b, "warn", "applier")
	l.Info().Msg("dropped")
	l.Warn().Str("subject", "jmssync.intent.x").Msg("kept")
	got := lines(t, &b)
	if len(got) != 1 {
		t.Fatalf("want 1 line at warn, got %d: %s", len(got), b.String())
	}
	if got[0]["service"] != "applier" || got[0]["level"] != "warn" || got[0]["message"] != "kept" || got[0]["time"] == nil {
		t.Fatalf("unexpected line %v", got[0])
	}
	if _, err := logging.ParseLevel("loud"); err == nil {
		t.Fatal("ParseLevel accepted a bad level")
	}
}

func TestTraceIDsFromContext(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(t.Context(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
	}))
	var b bytes.Buffer
	l := logging.New(&b, "debug", "svc")
	ctx = logging.WithContext(ctx, l)
	logging.Ctx(ctx).Info().Msg("via ctx")
	l.Info().Ctx(ctx).Msg("via event")
	l.Info().Msg("no ctx")
	got := lines(t, &b)
	for i, m := range got[:2] {
		if m["trace_id"] != tid.String() || m["span_id"] != sid.String() {
			t.Errorf("line %d lacks trace ids: %v", i, m)
		}
	}
	if _, ok := got[2]["trace_id"]; ok {
		t.Errorf("trace id without a context: %v", got[2])
	}
	// No logger in ctx: a disabled logger, not a panic.
	logging.Ctx(t.Context()).Info().Msg("nowhere")
}

func TestRedaction(t *testing.T) {
	registered := `reg-Secret"With\Quote`
	local := "local-only-secret"
	logging.RegisterSecrets(registered, "ab") // "ab" is too short and ignored
	var b bytes.Buffer
	l := logging.New(&b, "info", "svc", logging.WithSecrets(local), logging.WithSecretKeys("ak_sk"))
	l.Info().
		Str("password", "pw-by-key-1").
		Str("NATS_PASSWORD", "pw-by-key-2").
		Str("api_key", "pw-by-key-3").
		Str("Authorization", "Bearer pw-by-key-4").
		Int("access_token", 123456789).
		Str("ak_sk", "pw-by-key-5").
		Dict("creds", zerolog.Dict().Str("secret", "pw-by-key-6")).
		Interface("cfg", struct{ P config.Secret }{config.Secret("pw-by-type-7")}).
		Err(fmt.Errorf("login as admin:%s failed", registered)).
		Str("detail", "uses "+local).
		Str("about", "the password rules").
		Msg("connect failed: " + registered)
	l.Error().Err(errors.New("ab is fine")).Msg("short")
	out := b.String()
	for _, leaked := range []string{"pw-by-key-", "123456789", "pw-by-type-7", "Quote", local} {
		if strings.Contains(out, leaked) {
			t.Errorf("%q leaked: %s", leaked, out)
		}
	}
	got := lines(t, &b)
	if got[0]["about"] != "the password rules" {
		t.Errorf("non-secret key masked: %v", got[0]["about"])
	}
	if got[0]["password"] != logging.Redacted {
		t.Errorf("password = %v", got[0]["password"])
	}
	if !strings.Contains(got[1]["error"].(string), "ab is fine") {
		t.Errorf("short value masked: %v", got[1])
	}
	if s := logging.Redact("x " + registered + " y"); s != "x [REDACTED] y" {
		t.Errorf("Redact = %q", s)
	}
}
