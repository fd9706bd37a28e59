package app

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/logging/logtest"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// startTokenNATS runs a JetStream server that requires token.
func startTokenNATS(t *testing.T, token string) (*server.Server, string) {
	t.Helper()
	return natstest.Start(t, natstest.WithToken(token))
}

// hasClient reports whether a client named name is connected to s.
func hasClient(t *testing.T, s *server.Server, name string) bool {
	t.Helper()
	cz, err := s.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cz.Conns {
		if c.Name == name {
			return true
		}
	}
	return false
}

// authFails checks err is the server refusing the credentials, naming want
// and leaking no secret, in the error or in the logs.
func authFails(t *testing.T, what string, err error, logs string, want string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want an authorization error", what)
	}
	if !natsx.IsAuthError(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: %q, want an authorization error naming %s", what, err, want)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) || strings.Contains(logs, s) {
			t.Fatalf("%s: a secret leaked:\nerror: %v\nlogs: %s", what, err, logs)
		}
	}
}

// TestExternalNATSCredentials: with JMSSYNC_NATS_URL the all-in-one
// connects with JMSSYNC_NATS_USER/PASSWORD (or _PASSWORD_FILE) — once,
// serve, plan and the request to a running jms-sync — and fails with an
// error naming the variables, never the password, when they are wrong or
// missing.
func TestExternalNATSCredentials(t *testing.T) {
	const secret = "jms-sync-n4ts-s3cret"
	srv, url := natstest.Start(t, natstest.WithUsers(natstest.User{Name: "jms-sync", Password: secret}))
	st := startSimStack(t, 2)
	env := func(kv ...string) map[string]string {
		m := maps.Clone(st.vars)
		m["JMSSYNC_NATS_URL"] = url
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	right := env("JMSSYNC_NATS_USER", "jms-sync", "JMSSYNC_NATS_PASSWORD", secret)
	wrong := env("JMSSYNC_NATS_USER", "jms-sync", "JMSSYNC_NATS_PASSWORD", "not-"+secret)
	options := func(vars map[string]string, logs *logtest.Buffer) CommandOptions {
		o := st.options(t.TempDir(), nil)
		o.Env = vars
		o.Log = zerolog.New(logs).Level(zerolog.DebugLevel)
		return o
	}

	t.Run("once", func(t *testing.T) {
		var logs logtest.Buffer
		res, err := Once(t.Context(), options(right, &logs))
		if err != nil {
			t.Fatalf("once with the right password: %v", err)
		}
		if res.ExitCode() != ExitOK || res.Intents["create"] == 0 {
			var out bytes.Buffer
			res.Print(&out)
			t.Fatalf("once on the external server: exit %d\n%s", res.ExitCode(), out.String())
		}
		// The pipeline ran on the external server, not on an embedded one.
		_, js := natstest.Dial(t, url, nats.UserInfo("jms-sync", secret))
		if _, err := js.KeyValue(t.Context(), natsx.BucketAssets); err != nil {
			t.Fatalf("no mirror on the external server: %v", err)
		}
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the password is in the logs:\n%s", logs.String())
		}

		logs = logtest.Buffer{}
		_, err = Once(t.Context(), options(wrong, &logs))
		authFails(t, "once, wrong password", err, logs.String(), "JMSSYNC_NATS_PASSWORD", secret)
		_, err = Once(t.Context(), options(env(), &logs))
		authFails(t, "once, no credentials", err, logs.String(), "JMSSYNC_NATS_USER", secret)
	})

	t.Run("password file", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "nats-password")
		if err := os.WriteFile(pw, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ext, err := natsConfig(env("JMSSYNC_NATS_USER", "jms-sync", "JMSSYNC_NATS_PASSWORD_FILE", pw))
		if err != nil {
			t.Fatal(err)
		}
		var logs logtest.Buffer
		b, err := OpenSharedConfig(t.Context(), ext, t.TempDir(), true, 0, zerolog.New(&logs))
		if err != nil {
			t.Fatalf("password from a file: %v", err)
		}
		b.Close()
	})

	t.Run("serve", func(t *testing.T) {
		var logs logtest.Buffer
		log := zerolog.New(&logs)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		err := Serve(ctx, &Environment{Vars: wrong}, st.cfgs, t.TempDir(), log)
		if ctx.Err() != nil {
			t.Fatal("serve with a wrong password did not stop")
		}
		authFails(t, "serve, wrong password", err, logs.String(), "JMSSYNC_NATS_PASSWORD", secret)

		ctx, cancel = context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, &Environment{Vars: right}, st.cfgs, t.TempDir(), log) }()
		deadline := time.Now().Add(20 * time.Second)
		for !hasClient(t, srv, "jms-sync") {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("serve did not connect: %v\n%s", <-done, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the password is in the logs:\n%s", logs.String())
		}
	})

	t.Run("plan", func(t *testing.T) {
		var logs logtest.Buffer
		res, err := Plan(t.Context(), options(right, &logs))
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		if res.MirrorSource != "the shared store at JMSSYNC_NATS_URL" {
			t.Fatalf("plan read %q, want the external store", res.MirrorSource)
		}
		_, err = Plan(t.Context(), options(wrong, &logs))
		authFails(t, "plan, wrong password", err, logs.String(), "JMSSYNC_NATS_PASSWORD", secret)
	})

	t.Run("ask serve", func(t *testing.T) {
		var logs logtest.Buffer
		o := options(right, &logs)
		if _, ok, err := askServe(t.Context(), &o, reconciler.SubjectConfirm, []byte(`{}`)); err != nil || ok {
			t.Fatalf("ask serve with nobody answering: ok %v, %v", ok, err)
		}
		o = options(wrong, &logs)
		_, _, err := askServe(t.Context(), &o, reconciler.SubjectConfirm, []byte(`{}`))
		authFails(t, "ask serve, wrong password", err, logs.String(), "JMSSYNC_NATS_PASSWORD", secret)
	})
}

// TestExternalNATSToken: the same with JMSSYNC_NATS_TOKEN.
func TestExternalNATSToken(t *testing.T) {
	const token = "jms-sync-t0ken-s3cret"
	srv, url := startTokenNATS(t, token)
	vars := func(tok string) map[string]string {
		m := map[string]string{"JMSSYNC_NATS_URL": url}
		if tok != "" {
			m["JMSSYNC_NATS_TOKEN"] = tok
		}
		return m
	}
	var logs logtest.Buffer
	log := zerolog.New(&logs).Level(zerolog.DebugLevel)
	open := func(v map[string]string) error {
		ext, err := natsConfig(v)
		if err != nil {
			return err
		}
		b, err := OpenSharedConfig(t.Context(), ext, t.TempDir(), true, 0, log)
		if err == nil {
			if !hasClient(t, srv, "jms-sync") {
				t.Error("no client jms-sync on the token server")
			}
			b.Close()
		}
		return err
	}
	if err := open(vars(token)); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	authFails(t, "wrong token", open(vars("not-"+token)), logs.String(), "JMSSYNC_NATS_TOKEN", token)
	authFails(t, "no token", open(vars("")), logs.String(), "JMSSYNC_NATS_TOKEN", token)

	// Ambiguous credentials are refused before any dial, naming the key.
	_, err := natsConfig(map[string]string{"JMSSYNC_NATS_URL": url, "JMSSYNC_NATS_TOKEN": token,
		"JMSSYNC_NATS_USER": "u", "JMSSYNC_NATS_PASSWORD": "p"})
	if err == nil || !strings.Contains(err.Error(), "JMSSYNC_NATS_CREDS_FILE") || strings.Contains(err.Error(), token) {
		t.Fatalf("ambiguous credentials: %v", err)
	}
}
