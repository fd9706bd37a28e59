package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/config"
)

const hunter = "hunter2-super-secret"

type natsConfig struct {
	URL      string        `env:"URL,required"`
	Password config.Secret `env:"PASSWORD"`
	Timeout  time.Duration `env:"TIMEOUT" envDefault:"5s"`
}

func (c natsConfig) Validate() error {
	if c.URL != "" && !strings.HasPrefix(c.URL, "nats://") {
		return config.Invalid("URL", "must start with nats://")
	}
	return nil
}

type port int

func (p port) Validate() error {
	if p < 0 || p > 65535 {
		return fmt.Errorf("out of range: %d", int(p))
	}
	return nil
}

type jumpConfig struct {
	URL     string        `env:"URL"`
	Token   config.Secret `env:"TOKEN,required"`
	Timeout time.Duration `env:"TIMEOUT" envDefault:"10s"`
}

type testConfig struct {
	Service  string        `env:"SERVICE" envDefault:"test"`
	Workers  int           `env:"WORKERS" envDefault:"4"`
	Port     port          `env:"PORT" envDefault:"8080"`
	Interval time.Duration `env:"INTERVAL" envDefault:"1m"`
	NATS     natsConfig    `envPrefix:"NATS_"`
	Jump     jumpConfig    `envPrefix:"JUMPSERVER_"`
	Tags     []string      `env:"TAGS"`
}

func (c *testConfig) Validate() error {
	var errs []error
	if c.Workers < 1 {
		errs = append(errs, config.Invalid("WORKERS", "must be at least 1, got %d", c.Workers))
	}
	if c.Interval < time.Second {
		errs = append(errs, config.Invalid("INTERVAL", "must be at least 1s"))
	}
	return errors.Join(errs...)
}

func TestLoadOK(t *testing.T) {
	cfg, err := config.Load[testConfig](config.WithPrefix("APP_"), config.WithEnvironment(map[string]string{
		"APP_NATS_URL":         "nats://127.0.0.1:4222",
		"APP_NATS_PASSWORD":    hunter,
		"APP_JUMPSERVER_TOKEN": "tok-123456",
		"APP_TAGS":             "a,b",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Password.Reveal() != hunter || cfg.Jump.Token.Reveal() != "tok-123456" {
		t.Fatalf("secrets not loaded: %q %q", cfg.NATS.Password.Reveal(), cfg.Jump.Token.Reveal())
	}
	if cfg.Workers != 4 || cfg.NATS.Timeout != 5*time.Second || cfg.Jump.Timeout != 10*time.Second || len(cfg.Tags) != 2 {
		t.Fatalf("unexpected config %+v", cfg)
	}
	got := config.SecretValues(cfg)
	if len(got) != 2 {
		t.Fatalf("SecretValues = %d values, want 2", len(got))
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	_, err := config.Load[testConfig](config.WithPrefix("APP_"), config.WithEnvironment(map[string]string{
		"APP_WORKERS":          "0",           // Validate on the root
		"APP_PORT":             "70000",       // field-level Validate
		"APP_INTERVAL":         "soon",        // parse error
		"APP_NATS_URL":         "http://x",    // nested Validate, prefixed
		"APP_NATS_TIMEOUT":     "nope",        // parse error, same field name as JUMPSERVER_TIMEOUT
		"APP_JUMPSERVER_URL":   "https://jms", // fine
		"APP_NATS_PASSWORD":    hunter,
		"APP_JUMPSERVER_TOKEN": "", // required and set empty is fine for env; keep
	}))
	if err == nil {
		t.Fatal("want error")
	}
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("want *config.Error, got %T", err)
	}
	keys := map[string]bool{}
	for _, p := range cerr.Problems {
		var fe *config.FieldError
		if !errors.As(p, &fe) {
			t.Errorf("problem without a key: %v", p)
			continue
		}
		keys[fe.Key] = true
	}
	for _, want := range []string{"APP_WORKERS", "APP_PORT", "APP_INTERVAL", "APP_NATS_URL", "APP_NATS_TIMEOUT"} {
		if !keys[want] {
			t.Errorf("missing problem for %s in %v", want, err)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error text does not name %s: %v", want, err)
		}
	}
	if keys["APP_JUMPSERVER_TIMEOUT"] {
		t.Errorf("JUMPSERVER_TIMEOUT wrongly blamed: %v", err)
	}
	if strings.Contains(err.Error(), hunter) {
		t.Fatalf("secret in error text: %v", err)
	}
}

func TestLoadRequiredMissing(t *testing.T) {
	_, err := config.Load[testConfig](config.WithEnvironment(map[string]string{}))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"NATS_URL: required", "JUMPSERVER_TOKEN: required but not set (set JUMPSERVER_TOKEN or JUMPSERVER_TOKEN_FILE)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	// Validation of a key that failed to parse is not reported twice.
	if n := strings.Count(err.Error(), "NATS_URL"); n != 1 {
		t.Errorf("NATS_URL reported %d times: %v", n, err)
	}
}

func TestLoadSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(hunter+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("pw-from-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load[testConfig](config.WithEnvironment(map[string]string{
		"NATS_URL":              "nats://x",
		"NATS_PASSWORD_FILE":    pwFile,
		"JUMPSERVER_TOKEN_FILE": tokenFile, // satisfies ,required
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Jump.Token.Reveal() != hunter {
		t.Errorf("token = %q, want trimmed file content", cfg.Jump.Token.Reveal())
	}
	if cfg.NATS.Password.Reveal() != "pw-from-file" {
		t.Errorf("password = %q", cfg.NATS.Password.Reveal())
	}
}

func TestLoadSecretFileProblems(t *testing.T) {
	dir := t.TempDir()
	_, err := config.Load[testConfig](config.WithEnvironment(map[string]string{
		"NATS_URL":              "nats://x",
		"NATS_PASSWORD":         hunter,
		"NATS_PASSWORD_FILE":    filepath.Join(dir, "pw"), // both set
		"JUMPSERVER_TOKEN_FILE": filepath.Join(dir, "missing"),
	}))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"NATS_PASSWORD_FILE: set only one of NATS_PASSWORD and NATS_PASSWORD_FILE", "JUMPSERVER_TOKEN_FILE: read secret file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), hunter) {
		t.Fatalf("secret in error text: %v", err)
	}
}

type leaky struct {
	Password config.Secret `env:"PASSWORD"`
}

// Validate is careless: it puts the secret into the message.
func (l leaky) Validate() error {
	return config.Invalid("PASSWORD", "value %s is too weak", l.Password.Reveal())
}

func TestSecretsNeverInErrorText(t *testing.T) {
	_, err := config.Load[leaky](config.WithEnvironment(map[string]string{"PASSWORD": hunter}))
	if err == nil {
		t.Fatal("want error")
	}
	if strings.Contains(err.Error(), hunter) || !strings.Contains(err.Error(), config.Redacted) {
		t.Fatalf("secret not masked: %v", err)
	}
}

func TestSecretRendering(t *testing.T) {
	s := config.Secret(hunter)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %v %+v %#v %q %x %d|", s, s, s, s, s, s, s)
	fmt.Fprint(&b, s, struct{ P config.Secret }{s})
	j, _ := json.Marshal(map[string]any{"p": s})
	b.Write(j)
	txt, _ := s.MarshalText()
	b.Write(txt)
	zl := zerolog.New(&b)
	zl.Info().Interface("i", s).Stringer("s", s).Any("a", s).Fields(map[string]any{"f": s}).Msg("x")
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "p", s)
	out := b.String()
	if strings.Contains(out, hunter) {
		t.Fatalf("secret leaked: %s", out)
	}
	if s.Reveal() != hunter || !s.IsSet() {
		t.Fatal("Reveal broken")
	}
	var u config.Secret
	if err := u.UnmarshalText([]byte("v")); err != nil || u.Reveal() != "v" {
		t.Fatal("UnmarshalText broken")
	}
}

func TestLoadNeedsStruct(t *testing.T) {
	if _, err := config.Load[int](); err == nil {
		t.Fatal("want error for non-struct")
	}
}
