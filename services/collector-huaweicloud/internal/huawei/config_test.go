package huawei

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
	return Config{AccessKeyID: "HWEXAMPLEAK", SecretAccessKey: testSecret, AccountName: "生产账号", AccountID: "prod",
		Regions: []string{"cn-north-4", "cn-east-3"}}
}

func TestNewReportsEveryProblemAtOnce(t *testing.T) {
	_, err := New(Config{PageSize: 1001, Timeout: -time.Second, Endpoint: "ftp://x", IAMEndpoint: "http://h/path",
		Regions: []string{"cn north 4", "a", "a"}, EnterpriseProjectID: "a/b",
		ProjectIDs: map[string]string{"a": "{project_id}", "cn-south-1": "p1"}})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("want ErrInvalidConfig, got %v", err)
	}
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("no FieldError in %v", err)
	}
	for _, field := range []string{"AccessKeyID:", "SecretAccessKey:", "AccountID:", "Regions[0]:", "Regions[2]:", "Endpoint:",
		"IAMEndpoint:", "PageSize:", "Timeout:", "EnterpriseProjectID:", `ProjectIDs["a"]:`, `ProjectIDs["cn-south-1"]:`} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
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

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "", want: ""},
		{in: "127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "localhost:8080", want: "http://localhost:8080"},
		{in: "[::1]:8080", want: "http://[::1]:8080"},
		{in: "http://127.0.0.1:8080/", want: "http://127.0.0.1:8080"},
		{in: "https://127.0.0.1:8443", want: "https://127.0.0.1:8443"},
		{in: "ecs.private.example.com", want: "https://ecs.private.example.com"},
		{in: "10.0.0.5:80", want: "https://10.0.0.5:80"},
		{in: "HTTP://10.0.0.5:80", want: "http://10.0.0.5:80"},
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
				t.Errorf("%q accepted as %q", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestConfigAndSourceNeverPrintTheSecret(t *testing.T) {
	cfg := validConfig()
	cfg.ProjectIDs = map[string]string{"cn-north-4": "pid-1"}
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
	if !strings.Contains(outs[0], config.Redacted) || !strings.Contains(outs[0], "HWEXAMPLEAK") || !strings.Contains(outs[0], "cn-north-4=pid-1") {
		t.Errorf("String: %s", outs[0])
	}
	if !strings.Contains(buf.String(), `"SecretAccessKey":"[REDACTED]"`) {
		t.Errorf("slog: %s", buf.String())
	}
}
