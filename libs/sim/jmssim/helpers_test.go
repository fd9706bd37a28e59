package jmssim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testSign is the test side's own signer (independent of the verifier):
// hmac-sha256 over "(request-target) date", the request target taken from
// URL.RequestURI() as a Go client sends it.
func testSign(req *http.Request, keyID, secret string) {
	if req.Header.Get("Date") == "" {
		req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	s := "(request-target): " + strings.ToLower(req.Method) + " " + req.URL.RequestURI() + "\n" +
		"date: " + req.Header.Get("Date")
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
	req.Header.Set("Authorization", fmt.Sprintf(
		`Signature keyId="%s",algorithm="hmac-sha256",headers="(request-target) date",signature="%s"`, keyID, sig))
}

type client struct {
	t      testing.TB
	base   string
	keyID  string
	secret string
	org    string
	hc     *http.Client
}

func newClient(t testing.TB, s *Server) *client {
	return &client{t: t, base: s.URL, keyID: DefaultKeyID, secret: DefaultSecret,
		hc: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}}
}

func (c *client) withOrg(org string) *client {
	cp := *c
	cp.org = org
	return &cp
}

type resp struct {
	status int
	body   []byte
	header http.Header
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r resp) str() string { return strings.TrimSpace(string(r.body)) }

func (c *client) do(method, path string, body any) resp {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.org != "" {
		req.Header.Set("X-JMS-ORG", c.org)
	}
	if c.keyID != "" {
		testSign(req, c.keyID, c.secret)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, b, res.Header}
}

// must does a request and fails unless the status is want.
func (c *client) must(want int, method, path string, body any) resp {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

func host(name, addr string) map[string]any {
	return map[string]any{"name": name, "address": addr, "platform": 1,
		"protocols": []any{map[string]any{"name": "ssh", "port": 22}}}
}

func jsonEq(t testing.TB, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("body\n got %s\nwant %s", gb, wb)
	}
}

type hostOut struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Address  string `json:"address"`
	IsActive bool   `json:"is_active"`
	Comment  string `json:"comment"`
	Platform struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"platform"`
	Nodes []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"nodes"`
	NodesDisplay []string `json:"nodes_display"`
	Labels       []struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"labels"`
	Protocols []Protocol      `json:"protocols"`
	Zone      json.RawMessage `json:"zone"`
	Domain    json.RawMessage `json:"domain"`
	OrgID     string          `json:"org_id"`
	OrgName   string          `json:"org_name"`
	Category  labeled         `json:"category"`
	Conn      labeled         `json:"connectivity"`
	Created   string          `json:"date_created"`
}

type pageOut struct {
	Count    int             `json:"count"`
	Next     *string         `json:"next"`
	Previous *string         `json:"previous"`
	Results  json.RawMessage `json:"results"`
}
