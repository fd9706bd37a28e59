package svc

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/config"
)

type testConfig struct {
	LogLevel string        `env:"LOG_LEVEL" envDefault:"info"`
	Workers  int           `env:"WORKERS" envDefault:"1"`
	Token    config.Secret `env:"TOKEN"`
}

func (c testConfig) LogLevelName() string { return c.LogLevel }

func (c testConfig) Validate() error {
	if c.Workers < 1 {
		return config.Invalid("WORKERS", "must be at least 1")
	}
	return nil
}

func TestMainExitCodes(t *testing.T) {
	const secret = "svc-test-secret-token"
	for _, tc := range []struct {
		name       string
		env        map[string]string
		runErr     error
		want       int
		wantStderr string
		wantLog    string
	}{
		{"unparsable", map[string]string{"JMSSYNC_WORKERS": "many"}, nil, ExitConfig, "JMSSYNC_WORKERS", ""},
		{"invalid", map[string]string{"JMSSYNC_WORKERS": "0"}, nil, ExitConfig, "JMSSYNC_WORKERS", ""},
		{"run fails", map[string]string{"JMSSYNC_TOKEN": secret}, errors.New("lost " + secret), ExitRun, "", `"message":"svc-test stopped"`},
		{"clean stop", map[string]string{"JMSSYNC_LOG_LEVEL": "debug"}, nil, 0, "", `"level":"debug"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ran := false
			run := func(ctx context.Context, cfg testConfig, log zerolog.Logger) error {
				ran = true
				log.Debug().Msg("running")
				return tc.runErr
			}
			code := exitCode(t.Context(), "svc-test", run, &stdout, &stderr, config.WithEnvironment(tc.env))
			if code != tc.want {
				t.Fatalf("exit code %d, want %d (stderr %q)", code, tc.want, stderr.String())
			}
			if ran != (tc.want != ExitConfig) {
				t.Errorf("run called: %v", ran)
			}
			if tc.want == ExitConfig && !strings.HasPrefix(stderr.String(), "svc-test: configuration: ") {
				t.Errorf("stderr %q does not name the service's configuration", stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantStderr)
			}
			if !strings.Contains(stdout.String(), tc.wantLog) {
				t.Errorf("log %q lacks %q", stdout.String(), tc.wantLog)
			}
			if strings.Contains(stdout.String()+stderr.String(), secret) {
				t.Errorf("the secret leaked: %s %s", stdout.String(), stderr.String())
			}
		})
	}
}
