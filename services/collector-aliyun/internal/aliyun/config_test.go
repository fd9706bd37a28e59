package aliyun

import (
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/collector/sourcetest"
	"github.com/jmssync/jmssync/libs/config"
)

const testSecret = "Sup3r-Secret-Value-42"

func validConfig() Config {
	return Config{AccessKeyID: "LTAI5tExample", AccessKeySecret: testSecret, AccountName: "生产账号", AccountID: "prod",
		Regions: []string{"cn-hangzhou", "cn-beijing"}}
}

func TestNewReportsEveryProblemAtOnce(t *testing.T) {
	_, err := New(Config{PageSize: 101, Timeout: -time.Second, Endpoint: "ftp://x", Regions: []string{"cn hangzhou", "a", "a"}})
	sourcetest.ConfigProblems(t, err, ErrInvalidConfig, "AccessKeyID:", "AccessKeySecret:", "AccountID:", "Regions[0]:", "Regions[2]:", "Endpoint:", "PageSize:", "Timeout:")
}

func TestNewNeverEchoesTheSecret(t *testing.T) {
	for _, secret := range []string{" " + testSecret + " ", testSecret + "\n"} {
		cfg := validConfig()
		cfg.AccessKeySecret = secret
		cfg.PageSize = -1
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), "AccessKeySecret") || strings.Contains(err.Error(), testSecret) {
			t.Fatalf("want an AccessKeySecret problem without the value, got %v", err)
		}
	}
	cfg := validConfig()
	cfg.AccessKeySecret = cfg.AccessKeyID
	if _, err := New(cfg); err == nil || strings.Contains(err.Error(), "LTAI5tExample\"") {
		t.Fatalf("secret == id: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg := validConfig()
	cfg.AccountID = ""
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.PageSize != 100 || s.cfg.Timeout != DefaultTimeout || !s.cfg.DryRunProbe() || s.AccountID() != "生产账号" {
		t.Errorf("defaults: %+v", s.cfg.Config)
	}
	if s.cfg.ecs != (endpoint{scheme: "HTTPS"}) || s.cfg.sts != (endpoint{domain: RealSTSEndpoint, scheme: "HTTPS"}) {
		t.Errorf("real endpoints: ecs %+v sts %+v", s.cfg.ecs, s.cfg.sts)
	}
	e, _ := s.ecs.get()
	if e.Domain != "" || e.GetConfig().Scheme != "HTTPS" || e.GetConfig().AutoRetry {
		t.Errorf("ecs client: domain %q scheme %q autoretry %t", e.Domain, e.GetConfig().Scheme, e.GetConfig().AutoRetry)
	}
	cfg.Endpoint = "127.0.0.1:9000"
	s, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.sts.domain != "127.0.0.1:9000" || s.cfg.sts.scheme != "HTTP" {
		t.Errorf("STSEndpoint does not default to Endpoint: %+v", s.cfg.sts)
	}
	st, _ := s.sts.get()
	if st.GetNoProxy() != `^127\.0\.0\.1:9000$` {
		t.Errorf("no proxy %q", st.GetNoProxy())
	}
}

// TestParseEndpoint: the SDK's Domain and scheme of an endpoint setting
// (collector.ParseEndpoint's own tests cover the syntax it refuses).
func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]endpoint{
		"":                        {scheme: "HTTPS"},
		"127.0.0.1:8080":          {domain: "127.0.0.1:8080", scheme: "HTTP", loopback: true},
		"localhost:8080":          {domain: "localhost:8080", scheme: "HTTP", loopback: true},
		"[::1]:8080":              {domain: "[::1]:8080", scheme: "HTTP", loopback: true},
		"http://127.0.0.1:8080/":  {domain: "127.0.0.1:8080", scheme: "HTTP", loopback: true},
		"https://127.0.0.1:8443":  {domain: "127.0.0.1:8443", scheme: "HTTPS", loopback: true},
		"ecs.private.example.com": {domain: "ecs.private.example.com", scheme: "HTTPS"},
		"10.0.0.5:80":             {domain: "10.0.0.5:80", scheme: "HTTPS"},
		"HTTP://10.0.0.5:80":      {domain: "10.0.0.5:80", scheme: "HTTP"},
	} {
		if got, err := parseEndpoint(in); err != nil || got != want {
			t.Errorf("%q: got %+v, %v; want %+v", in, got, err, want)
		}
	}
	if got, err := parseEndpoint("http://host/api"); err == nil {
		t.Errorf("a path accepted as %+v", got)
	}
}

func TestConfigAndSourceNeverPrintTheSecret(t *testing.T) {
	cfg := validConfig()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := sourcetest.PrintsNoSecret(t, testSecret, cfg, s)
	if !strings.Contains(out.String, config.Redacted) || !strings.Contains(out.String, "LTAI5tExample") {
		t.Errorf("String: %s", out.String)
	}
}
