package jumpserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// The spec's §1.2 example, computed independently (Python hmac) in the
// simulator's own tests.
func TestSignMatchesSpecVector(t *testing.T) {
	req, _ := http.NewRequest("GET", "http://jms.example/api/v1/assets/hosts/?limit=100&offset=0", nil)
	when, _ := time.Parse(http.TimeFormat, "Mon, 02 Jun 2025 08:00:00 GMT")
	if err := sign(req, jmssim.DefaultKeyID, config.Secret(jmssim.DefaultSecret), when); err != nil {
		t.Fatal(err)
	}
	want := `Signature keyId="` + jmssim.DefaultKeyID + `",algorithm="hmac-sha256",headers="(request-target) date",` +
		`signature="p/2pATcG/ASNPhh11OOMyMYkSqL1CK6UXQgJSBd6UH8="`
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization\n got %s\nwant %s", got, want)
	}
	if got := req.Header.Get("Date"); got != "Mon, 02 Jun 2025 08:00:00 GMT" {
		t.Fatalf("Date %q", got)
	}
}

// Escaped query values (non-ASCII names) are signed exactly as sent.
func TestSignedEscapedQueryAccepted(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	if err := s.Seed(jmssim.Seed{Nodes: []jmssim.SeedNode{{Path: "/DEFAULT/阿里云/生产 a&b"}}}); err != nil {
		t.Fatal(err)
	}
	c, info := startedClient(t, s, nil)
	before := s.Counters().NodesCreated
	n, err := c.EnsureNodePath(t.Context(), "/"+info.RootNode.Value+"/阿里云/生产 a&b")
	if err != nil {
		t.Fatal(err)
	}
	if n.FullValue != "/DEFAULT/阿里云/生产 a&b" || s.Counters().NodesCreated != before || s.Counters().Unauthorized != 0 {
		t.Fatalf("node %+v, created %d", n, s.Counters().NodesCreated-before)
	}
}

func TestStartDetectsVersion(t *testing.T) {
	for _, tc := range []struct {
		version  string
		root     string
		want     Version
		pageSize int
	}{
		{jmssim.V410, "DEFAULT", V410, 1000},
		{jmssim.V47, "Default", V47, 10000},
	} {
		t.Run(tc.version, func(t *testing.T) {
			s := startSim(t, jmssim.Options{Version: tc.version, RootNodeName: tc.root})
			_, info := startedClient(t, s, nil)
			if info.Version != tc.want || info.PageSize != tc.pageSize {
				t.Fatalf("info %+v", info)
			}
			if info.RootNode.Value != tc.root || info.RootNode.ID != s.RootNodeID("") || info.RootNode.Key != "1" {
				t.Fatalf("root node %+v, want %s %s", info.RootNode, tc.root, s.RootNodeID(""))
			}
			if info.Org.ID != DefaultOrgID || info.Platforms < 30 {
				t.Fatalf("info %+v", info)
			}
		})
	}
}

func TestWrongSecretIsAuthAndNeverPrinted(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	const secret = "wrong-secret-value-0123456789abcdefgh"
	c := newTestClient(t, s, func(c *Config) { c.Secret = config.Secret(secret) })
	_, err := c.Start(t.Context())
	if KindOf(err) != KindAuth || !errors.Is(err, ErrAuth) || !IsGlobal(err) {
		t.Fatalf("err %v (kind %q)", err, KindOf(err))
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
		t.Fatalf("err %#v", err)
	}
	cfg := testConfig(s)
	cfg.Secret = config.Secret(secret)
	for _, text := range []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, e),
		fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), fmt.Sprintf("%v %+v %s", c, c, c)} {
		if strings.Contains(text, secret) || strings.Contains(text, jmssim.DefaultSecret) {
			t.Fatalf("secret printed: %s", text)
		}
	}
	if s.Counters().Unauthorized == 0 {
		t.Fatal("no 401 counted")
	}
	if c.BreakerState() != BreakerClosed {
		t.Fatalf("a 401 moved the breaker to %s", c.BreakerState())
	}
}

func TestUnknownOrgRefused(t *testing.T) {
	const extra = "6a1c7b52-0d5e-4e43-8a55-6f0a9d2e1b01"
	s := startSim(t, jmssim.Options{Orgs: []jmssim.Org{{ID: extra, Name: "Cloud"}}})

	c := newTestClient(t, s, func(c *Config) { c.OrgID = "0b0b0b0b-1111-4222-8333-444455556666" })
	_, err := c.Start(t.Context())
	if !errors.Is(err, ErrUnknownOrg) || KindOf(err) != KindConfig || !IsGlobal(err) {
		t.Fatalf("unknown org: %v", err)
	}
	if !strings.Contains(err.Error(), DefaultOrgID) {
		t.Fatalf("error does not say where the server answered: %v", err)
	}

	_, info := startedClient(t, s, func(c *Config) { c.OrgID = strings.ToUpper(extra) })
	if info.Org.ID != extra || info.Org.Name != "Cloud" || info.RootNode.Value != "Cloud" || info.RootNode.Key == "1" {
		t.Fatalf("extra org: %+v", info)
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(Config{URL: "ftp://x", KeyID: "my-key", OrgID: RootOrgID, BatchSize: 5000, Concurrency: -1})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"url:", "key_id:", "secret: required", "org_id:", "batch_size:", "concurrency:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if _, err := New(Config{URL: "https://jms", KeyID: jmssim.DefaultKeyID, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
}

func TestPlatformByName(t *testing.T) {
	s := startSim(t, jmssim.Options{PlatformIDs: map[string]int{"Linux": 32}})
	c, _ := startedClient(t, s, nil)
	p, err := c.Platform(t.Context(), "Linux")
	if err != nil || p.ID != 32 || p.Category != "host" || p.Type != "linux" || !p.GatewayEnabled || len(p.Protocols) == 0 {
		t.Fatalf("Linux: %+v %v", p, err)
	}
	w, err := c.Platform(t.Context(), "Windows")
	if err != nil || w.Name != "Windows" || w.ID == 32 {
		t.Fatalf("Windows: %+v %v", w, err)
	}
	_, err = c.Platform(t.Context(), "NoSuchOS")
	if !errors.Is(err, ErrPlatformNotFound) || !IsNotFound(err) || !strings.Contains(err.Error(), "NoSuchOS") {
		t.Fatalf("missing platform: %v", err)
	}
	if _, err := newTestClient(t, s, nil).Platform(t.Context(), "Linux"); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("before Start: %v", err)
	}
}

func TestAccountTemplateByName(t *testing.T) {
	s := startSim(t, jmssim.Options{})
	if err := s.Seed(jmssim.Seed{Templates: []jmssim.SeedTemplate{{Name: "linux-root", Username: "root", Secret: "pw"}}}); err != nil {
		t.Fatal(err)
	}
	c, _ := startedClient(t, s, nil)
	tm, err := c.AccountTemplate(t.Context(), "linux-root")
	if err != nil || tm.Username != "root" || tm.SecretType != "password" || tm.ID == "" {
		t.Fatalf("template %+v %v", tm, err)
	}
	_, err = c.AccountTemplate(t.Context(), "nope")
	if !errors.Is(err, ErrTemplateNotFound) || !IsGlobal(err) {
		t.Fatalf("missing template: %v", err)
	}
}

func TestTLSVerificationOnByDefault(t *testing.T) {
	sim := jmssim.New(jmssim.Options{})
	noPut(t, sim)
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	cfg := testConfig(sim)
	cfg.URL = srv.URL
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Start(t.Context())
	if KindOf(err) != KindConfig || !IsGlobal(err) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("self-signed certificate accepted or misreported: %v", err)
	}
	if c.BreakerState() != BreakerClosed {
		t.Fatal("a certificate problem counted as an outage")
	}
	cfg.InsecureSkipVerify = true
	c, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(t.Context()); err != nil {
		t.Fatalf("verify_ssl off: %v", err)
	}
}
