package svc

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/logging/logtest"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

// TestStandaloneCredentials: a standalone service connects with the
// natsx.Config credentials; when the server refuses them it stops with an
// error naming the variables (never the secret) instead of retrying
// forever on a closed connection.
func TestStandaloneCredentials(t *testing.T) {
	const secret = "svc-test-s3cret"
	_, url := natstest.Start(t, natstest.WithUsers(natstest.User{Name: "applier", Password: secret}))
	build := func(context.Context, Bus) (Service, error) {
		return Service{Run: func(context.Context) error { return nil }}, nil
	}

	t.Run("right", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		cfg := natsx.Config{URL: url, User: "applier", Password: config.Secret(secret)}
		if err := Standalone(ctx, "svc-test", cfg, "127.0.0.1:"+strconv.Itoa(freePort(t)), zerolog.Nop(), build); err != nil {
			t.Fatalf("Standalone with the right password: %v", err)
		}
	})
	for _, tc := range []struct {
		name string
		cfg  natsx.Config
		want string
	}{
		{"wrong password", natsx.Config{URL: url, User: "applier", Password: "not-" + secret}, "JMSSYNC_NATS_PASSWORD"},
		{"none", natsx.Config{URL: url}, "no credentials are set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			var logs logtest.Buffer
			err := Standalone(ctx, "svc-test", tc.cfg, "127.0.0.1:"+strconv.Itoa(freePort(t)), zerolog.New(&logs), build)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("Standalone = %v (context: %v), want an authorization error", err, ctx.Err())
			}
			if !natsx.IsAuthError(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want an authorization error naming %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
				t.Fatalf("the secret leaked: %v\n%s", err, logs.String())
			}
		})
	}
}
