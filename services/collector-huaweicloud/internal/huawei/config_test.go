package huawei

import (
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/collector/sourcetest"
	"github.com/jmssync/jmssync/libs/config"
)

const testSecret = "Sup3r-Secret-Value-42"

func validConfig() Config {
	return Config{AccessKeyID: "HWEXAMPLEAK", SecretAccessKey: testSecret, AccountName: "生产账号", AccountID: "prod",
		Regions: []string{"cn-north-4", "cn-east-3"}}
}

func TestNewReportsEveryProblemAtOnce(t *testing.T) {
	_, err := New(Config{PageSize: 1001, Timeout: -time.Second, Endpoint: "ftp://x", IAMEndpoint: "http://h/path",
		Regions: []string{"cn north 4", "a", "a"}, EnterpriseProjectID: "a/b",
		ProjectIDs: map[string]string{"a": "{project_id}", "cn-south-1": "p1"}})
	sourcetest.ConfigProblems(t, err, ErrInvalidConfig, "AccessKeyID:", "SecretAccessKey:", "AccountID:", "Regions[0]:", "Regions[2]:", "Endpoint:",
		"IAMEndpoint:", "PageSize:", "Timeout:", "EnterpriseProjectID:", `ProjectIDs["a"]:`, `ProjectIDs["cn-south-1"]:`)
}

func TestNewNeverEchoesTheSecret(t *testing.T) {
	for _, secret := range []string{" " + testSecret + " ", testSecret + "\n"} {
		cfg := validConfig()
		cfg.SecretAccessKey = secret
		cfg.PageSize = -1
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), "SecretAccessKey") || strings.Contains(err.Error(), testSecret) {
			t.Fatalf("want a SecretAccessKey problem without the value, got %v", err)
		}
	}
	cfg := validConfig()
	cfg.SecretAccessKey = cfg.AccessKeyID
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "equals AccessKeyID") {
		t.Fatalf("secret == id: %v", err)
	}
	// A secret pasted into another field is masked there too.
	cfg = validConfig()
	cfg.Regions = []string{testSecret + "/"}
	if _, err := New(cfg); err == nil || strings.Contains(err.Error(), testSecret) {
		t.Fatalf("secret echoed: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg := validConfig()
	cfg.AccountID = ""
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.PageSize != MaxPageSize || s.cfg.Timeout != DefaultTimeout || s.cfg.ep != AllGrantedEPs || s.AccountID() != "生产账号" {
		t.Errorf("defaults: %+v", s.cfg.Config)
	}
	// The real endpoints: the SDK's region tables, then the documented patterns.
	for _, tc := range []struct{ got, want string }{
		{s.ecsEndpoint("cn-north-4"), "https://ecs.cn-north-4.myhuaweicloud.com"},
		{s.ecsEndpoint("xx-nowhere-1"), "https://ecs.xx-nowhere-1.myhuaweicloud.com"},
		{s.iamEndpoint("cn-north-4"), "https://iam.cn-north-4.myhuaweicloud.com"},
		{s.iamEndpoint("xx-nowhere-1"), RealIAMEndpoint},
	} {
		if tc.got != tc.want {
			t.Errorf("endpoint %q, want %q", tc.got, tc.want)
		}
	}
	cfg.Endpoint, cfg.EnterpriseProjectID = "127.0.0.1:9000", "0"
	cfg.ProjectIDs = map[string]string{" cn-north-4 ": " 0123456789abcdef0123456789abcdef "}
	s, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.ecsEndpoint("cn-east-3") != "http://127.0.0.1:9000" || s.iamEndpoint("cn-east-3") != "http://127.0.0.1:9000" || s.cfg.ep != "0" {
		t.Errorf("endpoints %q %q, ep %q", s.ecsEndpoint("cn-east-3"), s.iamEndpoint("cn-east-3"), s.cfg.ep)
	}
	if id, ok := s.projects.get("cn-north-4"); !ok || id != "0123456789abcdef0123456789abcdef" {
		t.Errorf("configured project id: %q %t", id, ok)
	}
	cfg.IAMEndpoint = "https://iam.private.example.com/"
	if s, err = New(cfg); err != nil || s.iamEndpoint("cn-north-4") != "https://iam.private.example.com" {
		t.Errorf("IAMEndpoint: %v", err)
	}
}

// TestParseEndpoint: the SDK's "scheme://host[:port]" of an endpoint
// setting (collector.ParseEndpoint's own tests cover the syntax it refuses).
func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"127.0.0.1:8080":          "http://127.0.0.1:8080",
		"localhost:8080":          "http://localhost:8080",
		"[::1]:8080":              "http://[::1]:8080",
		"http://127.0.0.1:8080/":  "http://127.0.0.1:8080",
		"https://127.0.0.1:8443":  "https://127.0.0.1:8443",
		"ecs.private.example.com": "https://ecs.private.example.com",
		"10.0.0.5:80":             "https://10.0.0.5:80",
		"HTTP://10.0.0.5:80":      "http://10.0.0.5:80",
	} {
		if got, err := parseEndpoint(in); err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	if got, err := parseEndpoint("http://host/api"); err == nil {
		t.Errorf("a path accepted as %q", got)
	}
}

func TestConfigAndSourceNeverPrintTheSecret(t *testing.T) {
	cfg := validConfig()
	cfg.ProjectIDs = map[string]string{"cn-north-4": "pid-1"}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := sourcetest.PrintsNoSecret(t, testSecret, cfg, s)
	if !strings.Contains(out.String, config.Redacted) || !strings.Contains(out.String, "HWEXAMPLEAK") || !strings.Contains(out.String, "cn-north-4=pid-1") {
		t.Errorf("String: %s", out.String)
	}
	if !strings.Contains(out.Slog, `"SecretAccessKey":"[REDACTED]"`) {
		t.Errorf("slog: %s", out.Slog)
	}
}
