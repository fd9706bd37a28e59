package aliyun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/config"
)

const testSecret = "Sup3r-Secret-Value-42"

func validConfig() Config {
	return Config{AccessKeyID: "LTAI5tExample", AccessKeySecret: testSecret, AccountName: "生产账号", AccountID: "prod",
		Regions: []string{"cn-hangzhou", "cn-beijing"}}
}

func TestNewReportsEveryProblemAtOnce(t *testing.T) {
	_, err := New(Config{PageSize: 101, Timeout: -time.Second, Endpoint: "ftp://x", Regions: []string{"cn hangzhou", "a", "a"}})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("want ErrInvalidConfig, got %v", err)
	}
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("no FieldError in %v", err)
	}
	for _, field := range []string{"AccessKeyID:", "AccessKeySecret:", "AccountID:", "Regions[0]:", "Regions[2]:", "Endpoint:", "PageSize:", "Timeout:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
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

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want endpoint
		bad  bool
	}{
		{in: "", want: endpoint{scheme: "HTTPS"}},
		{in: "127.0.0.1:8080", want: endpoint{domain: "127.0.0.1:8080", scheme: "HTTP", loopback: true}},
		{in: "localhost:8080", want: endpoint{domain: "localhost:8080", scheme: "HTTP", loopback: true}},
		{in: "[::1]:8080", want: endpoint{domain: "[::1]:8080", scheme: "HTTP", loopback: true}},
		{in: "http://127.0.0.1:8080/", want: endpoint{domain: "127.0.0.1:8080", scheme: "HTTP", loopback: true}},
		{in: "https://127.0.0.1:8443", want: endpoint{domain: "127.0.0.1:8443", scheme: "HTTPS", loopback: true}},
		{in: "ecs.private.example.com", want: endpoint{domain: "ecs.private.example.com", scheme: "HTTPS"}},
		{in: "10.0.0.5:80", want: endpoint{domain: "10.0.0.5:80", scheme: "HTTPS"}},
		{in: "HTTP://10.0.0.5:80", want: endpoint{domain: "10.0.0.5:80", scheme: "HTTP"}},
		{in: "ftp://host", bad: true},
		{in: "http://host/api", bad: true},
		{in: "host:99999", bad: true},
		{in: "host:", bad: true},
		{in: "http://user:pw@host", bad: true},
		{in: "host?x=1", bad: true},
		{in: "http://", bad: true},
	} {
		got, err := parseEndpoint(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q accepted as %+v", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestConfigAndSourceNeverPrintTheSecret(t *testing.T) {
	cfg := validConfig()
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%q", "%x"} {
		outs = append(outs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg))
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", cfg)
	outs = append(outs, buf.String())
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s))
	}
	for _, o := range outs {
		if strings.Contains(o, testSecret) {
			t.Fatalf("secret printed: %s", o)
		}
	}
	if !strings.Contains(outs[0], config.Redacted) || !strings.Contains(outs[0], "LTAI5tExample") {
		t.Errorf("String: %s", outs[0])
	}
}
