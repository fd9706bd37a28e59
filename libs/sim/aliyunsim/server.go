package aliyunsim

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/simnet"
)

// API versions the simulator serves.
const (
	ECSVersion = "2014-05-26"
	STSVersion = "2015-04-01"
)

// The key a zero Options gets.
const (
	DefaultAccessKeyID     = "LTAI5tSimDefaultKey0001"
	DefaultAccessKeySecret = "sim-default-secret-0001"
	DefaultAccount         = "1234567890123456"
)

// DefaultKey is the key a zero Options accepts.
func DefaultKey() cloudinv.Key {
	return cloudinv.Key{ID: DefaultAccessKeyID, Secret: DefaultAccessKeySecret, Account: DefaultAccount, Permission: cloudinv.CanList}
}

// DefaultInventory is the inventory a zero Options serves: seed 1,
// cn-hangzhou and cn-beijing with 250 instances each.
func DefaultInventory() *cloudinv.Inventory {
	return cloudinv.New(cloudinv.Spec{Provider: cloudinv.Aliyun, Seed: 1, Regions: []string{"cn-hangzhou", "cn-beijing"}, PerRegion: 250})
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// Inventory is what DescribeInstances lists (default DefaultInventory()).
	Inventory *cloudinv.Inventory
	// Keys are the accepted access keys (default: DefaultKey()).
	Keys []cloudinv.Key
	// Now is the server clock for Timestamp checks, nonce expiry and the
	// per-minute limiter (default time.Now).
	Now func() time.Time
	// ThrottleRPM limits calls per access key and Action to this many per
	// clock minute (0 = no limit). Once over, the API answers 400
	// Throttling.User until the next minute boundary, as ECS does.
	ThrottleRPM int
	// ThrottleCode is the error code of both throttles (the limiter and
	// cloudinv's ThrottleEvery): "Throttling.User" (default) or
	// "Throttling"; the status is 400 either way.
	ThrottleCode string
	// MaxSkew is the allowed |Timestamp - Now| (default 15 min).
	MaxSkew time.Duration
	// LogSize is how many requests the log keeps (default 10000).
	LogSize int
}

// LogEntry is one API request as the simulator saw it.
type LogEntry struct {
	Time        time.Time         `json:"time"`
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Action      string            `json:"action"`
	AccessKeyID string            `json:"access_key_id,omitempty"`
	RegionID    string            `json:"region_id,omitempty"`
	Params      map[string]string `json:"params"`   // every parameter except Signature
	Verified    bool              `json:"verified"` // the signature matched
	Status      int               `json:"status"`
	Code        string            `json:"code,omitempty"` // error code, "" on success
	RequestID   string            `json:"request_id"`
	Returned    int               `json:"returned"` // instances in a DescribeInstances answer
	Duration    time.Duration     `json:"duration_ns"`
}

// Server is the Aliyun ECS + STS simulator. It is an http.Handler; Start
// or Listen also serve it on a loopback port.
type Server struct {
	// Endpoint gives URL ("http://127.0.0.1:PORT") and Addr, set by Start and Listen, and Close.
	simnet.Endpoint
	// Inventory is the live inventory; tests may mutate it directly.
	Inventory *cloudinv.Inventory
	// Recorder counts every request by "METHOD route": the Action for API
	// calls, the path for control calls.
	Recorder *simnet.Recorder

	opts Options
	now  func() time.Time

	mu       sync.Mutex
	keys     map[string]cloudinv.Key
	nonces   map[string]time.Time
	pruneAt  time.Time
	limiter  map[string]*window
	log      []LogEntry
	logNext  int
	logFull  bool
	counters map[string]int64
}

type window struct {
	minute int64
	n      int
}

// New builds a Server; it does not listen.
func New(opts Options) *Server {
	if opts.Inventory == nil {
		opts.Inventory = DefaultInventory()
	}
	if len(opts.Keys) == 0 {
		opts.Keys = []cloudinv.Key{DefaultKey()}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = 15 * time.Minute
	}
	if opts.ThrottleCode == "" {
		opts.ThrottleCode = "Throttling.User"
	}
	if opts.LogSize <= 0 {
		opts.LogSize = 10000
	}
	s := &Server{
		Inventory: opts.Inventory,
		Recorder:  simnet.NewRecorder(opts.LogSize),
		opts:      opts,
		now:       opts.Now,
		keys:      map[string]cloudinv.Key{},
		nonces:    map[string]time.Time{},
		limiter:   map[string]*window{},
		log:       make([]LogEntry, opts.LogSize),
		counters:  map[string]int64{},
	}
	for _, k := range opts.Keys {
		s.keys[k.ID] = k
	}
	return s
}

// Start serves a new Server on a random loopback port until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(opts)
	if err := s.Listen(""); err != nil {
		t.Fatalf("aliyunsim: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Listen serves s on addr (a loopback host:port; "" = random port on
// 127.0.0.1) and sets URL and Addr.
func (s *Server) Listen(addr string) error {
	return s.Serve(addr, s)
}

// AddKey accepts another access key (or replaces one with the same ID).
func (s *Server) AddKey(k cloudinv.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[k.ID] = k
}

// Keys returns the accepted keys.
func (s *Server) Keys() []cloudinv.Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]cloudinv.Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k)
	}
	return out
}

// Log returns the logged API requests, oldest first.
func (s *Server) Log() []LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LogEntry
	if s.logFull {
		out = append(out, s.log[s.logNext:]...)
	}
	return append(out, s.log[:s.logNext]...)
}

// Counters returns API call counts keyed by Action ("DescribeInstances"),
// plus "Action:Code" for calls answered with an error
// ("DescribeInstances:Throttling.User").
func (s *Server) Counters() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.counters))
	for k, v := range s.counters {
		out[k] = v
	}
	return out
}

// Reset clears the log, counters, recorder, seen nonces, the limiter and
// the inventory's faults. The inventory's instances stay as they are.
func (s *Server) Reset() {
	s.mu.Lock()
	s.nonces = map[string]time.Time{}
	s.limiter = map[string]*window{}
	for i := range s.log {
		s.log[i] = LogEntry{}
	}
	s.logNext, s.logFull = 0, false
	s.counters = map[string]int64{}
	s.mu.Unlock()
	s.Recorder.Reset()
	s.Inventory.SetFaults(cloudinv.Faults{})
}

func (s *Server) record(e LogEntry) {
	s.mu.Lock()
	s.log[s.logNext] = e
	s.logNext++
	if s.logNext == len(s.log) {
		s.logNext, s.logFull = 0, true
	}
	if e.Action != "" {
		s.counters[e.Action]++
		if e.Code != "" {
			s.counters[e.Action+":"+e.Code]++
		}
	}
	s.mu.Unlock()
	route := e.Action
	if route == "" {
		route = e.Path
	}
	s.Recorder.Record(route, simnet.Entry{Time: e.Time, Method: e.Method, Path: e.Path, Query: encodeWithout(e.Params), Status: e.Status, Duration: e.Duration})
}

func encodeWithout(p map[string]string) string {
	v := url.Values{}
	for k, x := range p {
		v.Set(k, x)
	}
	return v.Encode()
}

// ServeHTTP serves the RPC API at "/" and the control API under "/_sim/".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sim" || strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.control(w, r)
		return
	}
	s.api(w, r)
}

// apiError is an error answer in Aliyun's shape.
type apiError struct {
	Status  int
	Code    string
	Message string
	Detail  map[string]any // AccessDeniedDetail
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errMissing(name string) *apiError {
	return &apiError{400, "MissingParameter", fmt.Sprintf("The input parameter %q that is mandatory for processing this request is not supplied.", name), nil}
}

func errInvalid(name string) *apiError {
	return &apiError{400, "InvalidParameter", fmt.Sprintf("The specified parameter %q is not valid.", name), nil}
}

var (
	errClientGone  = &apiError{499, "Sim.ClientClosedRequest", "The client went away before the simulator answered.", nil}
	errUnavailable = &apiError{503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.", nil}
	errInternal    = &apiError{500, "InternalError", "The request processing has failed due to some unknown error, exception or failure.", nil}
	errDryRun      = &apiError{400, "DryRunOperation", "Request validation has been passed with DryRun flag set.", nil}
	errBadRegion   = &apiError{404, "InvalidRegionId.NotFound", "The specified RegionId does not exist.", nil}
)

// call is one API request being served.
type call struct {
	r         *http.Request
	params    url.Values
	action    string
	region    string
	key       cloudinv.Key
	requestID string
	returned  int
}

func (c *call) get(name string) string { return c.params.Get(name) }

// hostID is what real answers carry in HostId.
func (c *call) hostID() string {
	if c.action == "GetCallerIdentity" {
		return "sts.aliyuncs.com"
	}
	if c.region == "" {
		return "ecs.aliyuncs.com"
	}
	return "ecs." + c.region + ".aliyuncs.com"
}

var actionVersions = map[string]string{
	"DescribeInstances": ECSVersion,
	"DescribeRegions":   ECSVersion,
	"GetCallerIdentity": STSVersion,
}

var requiredParams = []string{"AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp", "Version", "Format"}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{r: r, requestID: newRequestID()}
	entry := LogEntry{Time: start, Method: r.Method, Path: r.URL.Path}
	body, apiErr := s.serve(c, &entry)
	entry.Action, entry.RegionID, entry.AccessKeyID, entry.RequestID, entry.Returned = c.action, c.region, c.params.Get("AccessKeyId"), c.requestID, c.returned
	entry.Params = map[string]string{}
	for k, vs := range c.params {
		if k != "Signature" && len(vs) > 0 {
			entry.Params[k] = vs[0]
		}
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("X-Acs-Request-Id", c.requestID)
	status := http.StatusOK
	if apiErr != nil {
		status = apiErr.Status
		entry.Code = apiErr.Code
		eb := map[string]any{
			"RequestId": c.requestID,
			"HostId":    c.hostID(),
			"Code":      apiErr.Code,
			"Message":   apiErr.Message,
			"Recommend": "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(apiErr.Code) + "&product=" + productOf(c.action) + "&requestId=" + c.requestID,
		}
		if apiErr.Detail != nil {
			eb["AccessDeniedDetail"] = apiErr.Detail
		}
		body = eb
	}
	buf, err := marshal(body)
	if err != nil {
		status, buf = 500, []byte(`{"Code":"InternalError","Message":"simulator could not encode its answer"}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf)
	entry.Status = status
	entry.Duration = time.Since(start)
	s.record(entry)
}

func productOf(action string) string {
	if action == "GetCallerIdentity" {
		return "Sts"
	}
	return "Ecs"
}

func marshal(v any) ([]byte, error) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(sb.String(), "\n")), nil
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// readParams merges the query with a form body (query wins).
func readParams(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return url.Values{}, err
	}
	if r.Body != nil && r.Method == http.MethodPost {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "application/x-www-form-urlencoded" {
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				return q, err
			}
			if len(b) > 0 {
				f, err := url.ParseQuery(string(b))
				if err != nil {
					return q, err
				}
				for k, vs := range f {
					if _, ok := q[k]; !ok {
						q[k] = vs
					}
				}
			}
		}
	}
	return q, nil
}

// serve runs the gateway checks, then the action. It returns the success
// body or an error.
func (s *Server) serve(c *call, entry *LogEntry) (any, *apiError) {
	r := c.r
	params, err := readParams(r)
	c.params = params
	if r.URL.Path != "/" {
		return nil, &apiError{404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.", nil}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return nil, &apiError{405, "UnsupportedHTTPMethod", "This http method is not supported.", nil}
	}
	if err != nil {
		return nil, &apiError{400, "InvalidParameter", "The request parameters could not be parsed: " + err.Error(), nil}
	}
	c.action = c.get("Action")
	if c.action == "" {
		return nil, errMissing("Action")
	}
	if v, ok := params["RegionId"]; ok && len(v) > 0 {
		c.region = v[0]
	}
	for _, p := range requiredParams {
		if c.get(p) == "" {
			return nil, errMissing(p)
		}
	}
	if c.get("SignatureMethod") != "HMAC-SHA1" {
		return nil, errInvalid("SignatureMethod")
	}
	if c.get("SignatureVersion") != "1.0" {
		return nil, errInvalid("SignatureVersion")
	}
	if !strings.EqualFold(c.get("Format"), "JSON") {
		return nil, &apiError{400, "InvalidParameter", `The specified parameter "Format" is not valid: the simulator answers JSON only.`, nil}
	}
	want, known := actionVersions[c.action]
	if !known {
		return nil, &apiError{404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.", nil}
	}
	if c.get("Version") != want {
		return nil, &apiError{400, "InvalidVersion", "Specified parameter Version is not valid.", nil}
	}

	s.mu.Lock()
	key, ok := s.keys[c.get("AccessKeyId")]
	s.mu.Unlock()
	if !ok {
		return nil, &apiError{404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.", nil}
	}
	c.key = key
	sts := StringToSign(r.Method, params)
	if !hmac.Equal([]byte(SignString(sts, key.Secret)), []byte(c.get("Signature"))) {
		return nil, &apiError{400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:" + sts, nil}
	}
	entry.Verified = true

	now := s.now()
	ts, err := time.Parse("2006-01-02T15:04:05Z", c.get("Timestamp"))
	if err != nil {
		return nil, &apiError{400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.", nil}
	}
	if d := now.Sub(ts); d > s.opts.MaxSkew || d < -s.opts.MaxSkew {
		return nil, &apiError{400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", nil}
	}
	if !s.useNonce(key.ID, c.get("SignatureNonce"), now) {
		return nil, &apiError{400, "SignatureNonceUsed", "Specified signature nonce was used already.", nil}
	}
	if !s.allow(key.ID, c.action, now) {
		return nil, s.throttled()
	}

	switch c.action {
	case "DescribeInstances":
		return s.describeInstances(c)
	case "DescribeRegions":
		return s.describeRegions(c)
	default:
		return s.getCallerIdentity(c)
	}
}

func (s *Server) throttled() *apiError {
	if s.opts.ThrottleCode == "Throttling" {
		return &apiError{400, "Throttling", "Request was denied due to request throttling.", nil}
	}
	return &apiError{400, s.opts.ThrottleCode, "Request was denied due to user flow control.", nil}
}

// useNonce records a nonce and reports whether it was fresh.
func (s *Server) useNonce(ak, nonce string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	window := 2 * s.opts.MaxSkew
	if now.After(s.pruneAt) {
		for k, t := range s.nonces {
			if now.Sub(t) > window {
				delete(s.nonces, k)
			}
		}
		s.pruneAt = now.Add(time.Minute)
	}
	k := ak + "\x00" + nonce
	if t, seen := s.nonces[k]; seen && now.Sub(t) <= window {
		return false
	}
	s.nonces[k] = now
	return true
}

// allow is the per-key, per-API, per-clock-minute limiter.
func (s *Server) allow(ak, action string, now time.Time) bool {
	if s.opts.ThrottleRPM <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := now.Unix() / 60
	k := ak + "\x00" + action
	w := s.limiter[k]
	if w == nil || w.minute != m {
		w = &window{minute: m}
		s.limiter[k] = w
	}
	w.n++
	return w.n <= s.opts.ThrottleRPM
}

// sleep waits d or until the client goes away; it reports whether the
// full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
