package huaweisim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/simnet"
)

// Defaults used when Options leave them empty.
const (
	DefaultAK      = "HWSIMAKEXAMPLE000001"
	DefaultSK      = "HWSIMSKEXAMPLE0000000000000000000000001"
	DefaultAccount = "0a1b2c3d4e5f60718293a4b5c6d7e8f9" // domain id
	// DefaultMaxSkew is how far X-Sdk-Date may be from the server clock.
	DefaultMaxSkew = 15 * time.Minute
	defaultLogSize = 10000
)

// IAMMode selects how many projects GET /v3/projects?name=<region> returns.
type IAMMode string

const (
	// IAMOne returns the one project of (account, region): the normal case.
	IAMOne IAMMode = "one"
	// IAMNone returns no project (the SDK fails: "failed to get project id").
	IAMNone IAMMode = "none"
	// IAMTwo returns two projects with the region's name (the SDK fails:
	// "multiple project ids found").
	IAMTwo IAMMode = "two"
)

// Options configure a Server. The zero value works: a small generated
// Huawei inventory and one key (DefaultAK/DefaultSK in DefaultAccount).
type Options struct {
	// Inventory is rendered by the server. Default: cloudinv.New with
	// Provider Huawei, seed 1, regions cn-north-4 and cn-east-3, 100 each.
	Inventory *cloudinv.Inventory
	// Keys are the accepted access keys. Default: DefaultAK/DefaultSK.
	// A key with an empty Account belongs to DefaultAccount.
	Keys []cloudinv.Key
	// Now is the server clock used for the X-Sdk-Date freshness check and
	// the rate limiter. Default time.Now.
	Now func() time.Time
	// MaxSkew is the accepted |X-Sdk-Date - Now|. Default 15 min.
	MaxSkew time.Duration
	// RateLimit is a per-AK token bucket (requests per second over ECS and
	// IAM calls); 0 disables it. RateBurst is the bucket size (default
	// max(1, RateLimit)).
	RateLimit float64
	RateBurst int
	// IAM selects how many projects the IAM lookup returns. Default IAMOne.
	IAM IAMMode
	// EnterpriseProjects restricts an AK to the enterprise projects listed
	// (an IAM user authorised per enterprise project). AKs not in the map
	// see every enterprise project. See the package doc for the semantics.
	EnterpriseProjects map[string][]string
	// LogSize is the number of requests kept in the log. Default 10000.
	LogSize int
}

// LogEntry is one served request (control requests under /_sim/ are not logged).
type LogEntry struct {
	simnet.Entry
	Route         string   `json:"route"`
	AK            string   `json:"ak,omitempty"`
	SignedHeaders []string `json:"signed_headers,omitempty"`
	Verified      bool     `json:"verified"`
	ErrorCode     string   `json:"error_code,omitempty"`
	RequestID     string   `json:"request_id"`
}

// Project is one IAM project: one per (account, region).
type Project struct {
	ID      string `json:"id"`
	Name    string `json:"name"` // the region id
	Account string `json:"domain_id"`
}

// Server simulates Huawei Cloud ECS ListServersDetails and the IAM project
// lookup. It is an http.Handler; Start and Listen serve it on loopback.
type Server struct {
	// URL ("http://127.0.0.1:PORT") and Addr are set by Start and Listen.
	simnet.Endpoint
	// Recorder counts served requests by route (control requests excluded).
	Recorder *simnet.Recorder

	inv     *cloudinv.Inventory
	now     func() time.Time
	maxSkew time.Duration
	keys    map[string]cloudinv.Key
	eps     map[string][]string

	mu      sync.Mutex
	iamMode IAMMode
	log     []LogEntry
	logNext int
	logFull bool
	seen    map[string]int64 // instance id -> Seq, for markers of released servers
	limiter *limiter
}

// New builds a Server from o.
func New(o Options) *Server {
	if o.Inventory == nil {
		o.Inventory = cloudinv.New(cloudinv.Spec{Provider: cloudinv.Huawei, Seed: 1,
			Regions: []string{"cn-north-4", "cn-east-3"}, PerRegion: 100})
	}
	if len(o.Keys) == 0 {
		o.Keys = []cloudinv.Key{{ID: DefaultAK, Secret: DefaultSK, Account: DefaultAccount}}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = DefaultMaxSkew
	}
	if o.IAM == "" {
		o.IAM = IAMOne
	}
	if o.LogSize <= 0 {
		o.LogSize = defaultLogSize
	}
	s := &Server{
		Recorder: simnet.NewRecorder(o.LogSize),
		inv:      o.Inventory,
		now:      o.Now,
		maxSkew:  o.MaxSkew,
		keys:     map[string]cloudinv.Key{},
		eps:      map[string][]string{},
		iamMode:  o.IAM,
		log:      make([]LogEntry, o.LogSize),
		seen:     map[string]int64{},
		limiter:  newLimiter(o.RateLimit, o.RateBurst),
	}
	for _, k := range o.Keys {
		if k.Account == "" {
			k.Account = DefaultAccount
		}
		s.keys[k.ID] = k
	}
	for ak, list := range o.EnterpriseProjects {
		s.eps[ak] = slices.Clone(list)
	}
	return s
}

// Start serves a new Server on a random loopback port until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := New(o)
	s.ServeTest(t, s)
	return s
}

// Listen serves s on addr ("" = random port on 127.0.0.1; loopback only)
// and sets URL and Addr. Stop it with Close.
func (s *Server) Listen(addr string) error {
	return s.Serve(addr, s)
}

// Inventory returns the inventory the server renders.
func (s *Server) Inventory() *cloudinv.Inventory { return s.inv }

// ProjectID returns the deterministic project id of (account, region):
// 32 lower-case hex characters, like a real Huawei project id.
func ProjectID(account, region string) string {
	sum := sha256.Sum256([]byte("huaweisim/project\x00" + account + "\x00" + region))
	return hex.EncodeToString(sum[:16])
}

// ProjectID is the package function ProjectID, for convenience.
func (s *Server) ProjectID(account, region string) string { return ProjectID(account, region) }

// Projects returns every (account, region) project the server knows, for
// the configured keys' accounts and the inventory's regions.
func (s *Server) Projects() []Project {
	var accounts []string
	for _, k := range s.keys {
		if !slices.Contains(accounts, k.Account) {
			accounts = append(accounts, k.Account)
		}
	}
	slices.Sort(accounts)
	var out []Project
	for _, a := range accounts {
		for _, r := range s.inv.Regions() {
			out = append(out, Project{ID: ProjectID(a, r), Name: r, Account: a})
		}
	}
	return out
}

// lookupProject maps a project id back to its account and region.
func (s *Server) lookupProject(id string) (Project, bool) {
	for _, p := range s.Projects() {
		if p.ID == id {
			return p, true
		}
	}
	return Project{}, false
}

// SetIAMMode changes how many projects the IAM lookup returns.
func (s *Server) SetIAMMode(m IAMMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iamMode = m
}

func (s *Server) getIAMMode() IAMMode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.iamMode
}

// Log returns the logged requests, oldest first.
func (s *Server) Log() []LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LogEntry
	if s.logFull {
		out = append(out, s.log[s.logNext:]...)
	}
	out = append(out, s.log[:s.logNext]...)
	return out
}

// Counts returns the request counters, keyed "METHOD route".
func (s *Server) Counts() map[string]int64 { return s.Recorder.Counts() }

// Reset clears the log, counters and rate-limiter state, removes all
// faults and sets the IAM mode back to IAMOne. The inventory is untouched.
func (s *Server) Reset() {
	s.mu.Lock()
	for i := range s.log {
		s.log[i] = LogEntry{}
	}
	s.logNext, s.logFull = 0, false
	s.iamMode = IAMOne
	s.mu.Unlock()
	s.Recorder.Reset()
	s.limiter.reset()
	s.inv.SetFaults(cloudinv.Faults{})
}

func (s *Server) record(e LogEntry) {
	s.Recorder.Record(e.Route, e.Entry)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log[s.logNext] = e
	s.logNext++
	if s.logNext == len(s.log) {
		s.logNext, s.logFull = 0, true
	}
}

func (s *Server) rememberSeq(list []*cloudinv.Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range list {
		s.seen[in.ID] = in.Seq()
	}
}

func (s *Server) seqOf(id string) (int64, bool) {
	if in, ok := s.inv.Get(id); ok {
		return in.Seq(), true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seq, ok := s.seen[id]
	return seq, ok
}

// call is the state of one API request being served.
type call struct {
	w         http.ResponseWriter
	r         *http.Request
	entry     LogEntry
	requestID string
	key       cloudinv.Key
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ServeHTTP routes control requests, the IAM lookup and ECS listings.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveControl(w, r)
		return
	}
	start := time.Now()
	c := &call{w: w, r: r, requestID: newRequestID()}
	c.entry = LogEntry{
		Entry:     simnet.Entry{Time: start, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery},
		RequestID: c.requestID,
	}
	h := w.Header()
	h.Set("X-Request-Id", c.requestID)
	h.Set("Server", "api-gateway")
	h.Set("Content-Type", "application/json")

	route, handler := s.route(r)
	c.entry.Route = route
	if handler == nil {
		s.gatewayError(c, http.StatusNotFound, "APIGW.0101",
			"The API does not exist or has not been published in the environment")
	} else if s.authenticate(c) && s.rateLimit(c) {
		handler(c)
	}
	c.entry.Duration = time.Since(start)
	s.record(c.entry)
}

// route picks the handler; the route string is the counter key.
func (s *Server) route(r *http.Request) (string, func(*call)) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	if r.Method == http.MethodGet && p == "/v3/projects" {
		return "/v3/projects", s.serveProjects
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "v1" && parts[2] == "cloudservers" && parts[3] == "detail" {
		return "/v1/{project_id}/cloudservers/detail", s.serveListServers
	}
	return "unknown", nil
}

// writeJSON writes v with status; Content-Type and X-Request-Id are already set.
func (s *Server) writeJSON(c *call, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error_code":"APIGW.0203","error_msg":"simulator failed to encode the response"}`)
	}
	c.entry.Status = status
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}

// gatewayError answers in the API gateway's shape: top-level error_code/error_msg.
func (s *Server) gatewayError(c *call, status int, code, msg string) {
	c.entry.ErrorCode = code
	s.writeJSON(c, status, map[string]string{"error_code": code, "error_msg": msg, "request_id": c.requestID})
}

// serviceError answers in the ECS service's nested shape.
func (s *Server) serviceError(c *call, status int, code, msg string) {
	c.entry.ErrorCode = code
	s.writeJSON(c, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (s *Server) authFail(c *call, msg string) bool {
	s.gatewayError(c, http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: "+msg)
	return false
}

// authenticate verifies the SDK-HMAC-SHA256 signature (cloud-apis.md §2.2).
func (s *Server) authenticate(c *call) bool {
	r := c.r
	body, err := io.ReadAll(io.LimitReader(r.Body, 12<<20))
	if err != nil {
		return s.authFail(c, "cannot read request body")
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return s.authFail(c, "Authorization not found in request")
	}
	a, err := parseAuthorization(authz)
	if err != nil {
		return s.authFail(c, err.Error())
	}
	c.entry.AK, c.entry.SignedHeaders = a.AK, a.SignedHeaders
	key, ok := s.keys[a.AK]
	if !ok {
		return s.authFail(c, fmt.Sprintf("ak %s not exist", a.AK))
	}
	if !slices.Contains(a.SignedHeaders, "x-sdk-date") {
		return s.authFail(c, "x-sdk-date is not signed")
	}
	date := r.Header.Get(headerSdkDate)
	t, err := time.Parse(sdkDateFormat, date)
	if err != nil {
		return s.authFail(c, fmt.Sprintf("calc aksk signature fail:invalid X-Sdk-Date %q", date))
	}
	now := s.now().UTC()
	if d := now.Sub(t); d > s.maxSkew || d < -s.maxSkew {
		return s.authFail(c, fmt.Sprintf("calc aksk signature fail:signature expired, signature time:%s,server time:%s",
			date, now.Format(sdkDateFormat)))
	}
	cr, err := canonicalRequest(r, a.SignedHeaders, payloadHash(r, body))
	if err != nil {
		return s.authFail(c, err.Error())
	}
	want := signature(key.Secret, stringToSign(date, cr))
	if !hmacEqual(want, a.Signature) {
		return s.authFail(c, "verify aksk signature fail, canonicalRequest:"+strings.ReplaceAll(cr, "\n", "|"))
	}
	c.entry.Verified = true
	c.key = key
	return true
}

func hmacEqual(want, got string) bool {
	return hmac.Equal([]byte(want), []byte(strings.ToLower(got)))
}

func (s *Server) rateLimit(c *call) bool {
	if s.limiter.allow(c.key.ID, s.now()) {
		return true
	}
	s.throttled(c, fmt.Sprintf("The throttling threshold has been reached: policy user over ratelimit,limit:%d,time:1 second",
		s.limiter.limitInt()))
	return false
}

func (s *Server) throttled(c *call, msg string) {
	s.gatewayError(c, http.StatusTooManyRequests, "APIGW.0308", msg)
}

// sleep waits d or until the client goes away.
func sleep(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}
