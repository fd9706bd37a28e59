// Package dingtalksim is a loopback simulator of the DingTalk custom-robot
// webhook ("自定义机器人"), for testing senders such as the jms-sync notifier
// without the network.
//
// # Webhook
//
// A robot is addressed exactly as on oapi.dingtalk.com, only the scheme,
// host and port differ:
//
//	POST {URL}/robot/send?access_token=<token>[&timestamp=<ms>&sign=<urlencoded base64>]
//	Content-Type: application/json;charset=utf-8
//
// Every API outcome is HTTP 200 with {"errcode":N,"errmsg":"…"}; success is
// {"errcode":0,"errmsg":"ok"}. Checks run in this order, the first failure
// answers:
//
//  1. transport faults of the token (or of "*"): latency, connection reset,
//     HTTP 5xx — see [Fault];
//  2. access_token missing or unknown: 300001 "token is not exist";
//  3. IP allow-list (IPs or CIDRs, remote address of the connection):
//     310000 "ip <ip> not in whitelist";
//  4. signing (robot has a Secret): timestamp and sign both required;
//     timestamp must be epoch milliseconds within ±SignWindow (1 h) of the
//     simulator clock, else 310000 "invalid timestamp"; sign, URL-decoded,
//     must equal base64(HMAC-SHA256(secret, timestamp+"\n"+secret)), else
//     310000 "sign not match";
//  5. forced errcode of the robot ([Robot].ForceErrcode, [Server.SetFault]);
//  6. body larger than MaxBytes (20000): 460101;
//  7. Content-Type not application/json: 43004;
//  8. body not UTF-8 JSON object: 40035 "缺少参数 json";
//  9. msgtype not one of text, link, markdown, actionCard, feedCard
//     (case-sensitive): 400105;
//  10. per-type validation: a missing or mistyped text/content field gives
//     400403, any other missing or invalid field 400402 (codes and message
//     shape as observed from the real service; see [ErrParamText]);
//  11. keywords (robot has Keywords): one must occur in the title or text,
//     else 310000 "keywords not in content";
//  12. rate limit: at most RateLimit (20) accepted messages per robot in any
//     rolling RateWindow (1 min). The next one is answered ThrottleErrcode
//     (130101 "send too fast, exceed 20 times per minute", or 410100) and
//     the robot is then blocked for BlockFor (10 min) from that moment:
//     every otherwise valid message is answered the same way until the
//     block ends. Rejected messages do not count and do not extend a block.
//
// Accepted messages are recorded as [Message], rejected requests as
// [Rejection]; link URLs and button URLs are stored, never fetched. The
// simulator makes no outbound calls.
//
// # Control API
//
// On the same port, JSON in and out:
//
//	GET    /_sim/messages[?token=T]    accepted messages, oldest first
//	GET    /_sim/rejections[?token=T]  rejected requests, oldest first
//	POST   /_sim/reset                 forget messages, rejections, rate-limit
//	                                   state, runtime faults and clock offset
//	GET    /_sim/faults                faults set at run time, by token
//	PUT    /_sim/faults                set one fault, body:
//	                                   {"token":"T" (or "*"),"errcode":400102,"errmsg":"",
//	                                    "http_status":503,"reset":false,"latency_ms":0,"times":0}
//	DELETE /_sim/faults[?token=T]      clear one token's fault, or all
//	GET    /_sim/robots                configured robots
//	POST   /_sim/robots                add or replace a robot, body [Robot] as JSON
//	GET    /_sim/clock                 {"now":"RFC3339 time"}
//	POST   /_sim/clock                 {"advance":"10m"} moves the clock forward
//	GET    /_sim/requests              request counts by "METHOD route"
//
// Control errors use ordinary HTTP statuses (400, 404, 405).
package dingtalksim

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/sim/simnet"
)

// Error codes the simulator answers.
const (
	ErrOK             = 0
	ErrSecurity       = 310000 // sign, timestamp, keywords, IP allow-list
	ErrTokenNotExist  = 300001
	ErrSendTooFast    = 130101 // legacy throttle code (default)
	ErrThrottled      = 410100 // current-table throttle code
	ErrTooLong        = 460101
	ErrMissingJSON    = 40035
	ErrContentType    = 43004
	ErrBadMsgType     = 400105
	ErrParamTitle     = 400402 // a field other than the text is missing or invalid
	ErrParamText      = 400403 // the text/content field is missing or invalid
	ErrGroupDissolved = 400013
	ErrTokenMissing   = 400101
	ErrRobotDisabled  = 400102
	ErrRobotNotInChat = 400106
	ErrUnsafeLink     = 430101
	ErrUnsafeText     = 430102
	ErrUnsafeImage    = 430103
	ErrUnsafeContent  = 430104
)

// Errmsg returns the message the simulator sends with code; codes it does
// not know get "error <code>".
func Errmsg(code int) string {
	switch code {
	case ErrOK:
		return "ok"
	case ErrTokenNotExist:
		return "token is not exist"
	case ErrSendTooFast:
		return "send too fast, exceed 20 times per minute"
	case ErrThrottled:
		return "发送速度太快而限流"
	case ErrTooLong:
		return "message too long, exceed 20000 bytes"
	case ErrMissingJSON:
		return "缺少参数 json"
	case ErrContentType:
		return "无效的HTTP HEADER Content-Type"
	case ErrBadMsgType:
		return "不支持的消息类型"
	case ErrGroupDissolved:
		return "群已被解散"
	case ErrTokenMissing:
		return "access_token不存在"
	case ErrRobotDisabled:
		return "机器人已停用"
	case ErrRobotNotInChat:
		return "机器人不存在"
	case ErrUnsafeLink:
		return "含有不安全的外链"
	case ErrUnsafeText:
		return "含有不合适的文本"
	case ErrUnsafeImage:
		return "含有不合适的图片"
	case ErrUnsafeContent:
		return "含有不合适的内容"
	}
	return fmt.Sprintf("error %d", code)
}

// Robot is one custom robot. Any combination of Secret, Keywords and
// AllowIPs may be set, as on DingTalk.
type Robot struct {
	// Token is the access_token. Required and unique.
	Token string `json:"token"`
	// Name is for reports only.
	Name string `json:"name,omitempty"`
	// Secret ("SEC…") turns signing on.
	Secret string `json:"secret,omitempty"`
	// Keywords (at most 10): one must occur in the message.
	Keywords []string `json:"keywords,omitempty"`
	// AllowIPs: addresses ("127.0.0.1") or CIDRs ("127.0.0.0/8") allowed to send.
	AllowIPs []string `json:"allow_ips,omitempty"`
	// ForceErrcode, if non-zero, answers every request that passes the
	// token and security checks with this code (e.g. 400102 disabled).
	// A fault set with SetFault takes precedence.
	ForceErrcode int `json:"force_errcode,omitempty"`
}

func (r Robot) validate() error {
	if r.Token == "" {
		return fmt.Errorf("dingtalksim: robot with empty token")
	}
	if len(r.Keywords) > 10 {
		return fmt.Errorf("dingtalksim: robot %q has %d keywords, at most 10", r.Token, len(r.Keywords))
	}
	for _, k := range r.Keywords {
		if k == "" {
			return fmt.Errorf("dingtalksim: robot %q has an empty keyword", r.Token)
		}
	}
	if _, err := parseAllow(r.AllowIPs); err != nil {
		return fmt.Errorf("dingtalksim: robot %q: %w", r.Token, err)
	}
	return nil
}

func parseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("allow-list entry %q: %w", s, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("allow-list entry %q: %w", s, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Options configure a Server. Zero values take the defaults in brackets.
type Options struct {
	Robots []Robot
	// Now is the simulator clock [time.Now]. Server.Advance adds an offset.
	Now func() time.Time
	// RateLimit is the number of accepted messages per robot per RateWindow
	// [20]; negative disables the limit.
	RateLimit  int
	RateWindow time.Duration // [1 min]
	BlockFor   time.Duration // [10 min]; time the robot stays throttled
	// ThrottleErrcode is 130101 [default] or 410100 (any code is accepted).
	ThrottleErrcode int
	// MaxBytes is the body limit [20000]; larger bodies get 460101.
	MaxBytes int
	// SignWindow is the allowed |now − timestamp| [1 h].
	SignWindow time.Duration
	// Latency is added, in real time, before answering every webhook call.
	Latency time.Duration
	// MaxRecords caps stored messages and rejections, each [10000]; the
	// oldest are dropped.
	MaxRecords int
	// Recorder counts served requests [a new one keeping 256].
	Recorder *simnet.Recorder
}

// Validate reports configuration errors that New would panic on.
func (o Options) Validate() error {
	seen := map[string]bool{}
	for _, r := range o.Robots {
		if err := r.validate(); err != nil {
			return err
		}
		if seen[r.Token] {
			return fmt.Errorf("dingtalksim: duplicate robot token %q", r.Token)
		}
		seen[r.Token] = true
	}
	if o.RateWindow < 0 || o.BlockFor < 0 || o.MaxBytes < 0 || o.SignWindow < 0 || o.Latency < 0 {
		return fmt.Errorf("dingtalksim: negative duration or size in options")
	}
	return nil
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RateLimit == 0 {
		o.RateLimit = 20
	}
	if o.RateWindow == 0 {
		o.RateWindow = time.Minute
	}
	if o.BlockFor == 0 {
		o.BlockFor = 10 * time.Minute
	}
	if o.ThrottleErrcode == 0 {
		o.ThrottleErrcode = ErrSendTooFast
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 20000
	}
	if o.SignWindow == 0 {
		o.SignWindow = time.Hour
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 10000
	}
	if o.Recorder == nil {
		o.Recorder = simnet.NewRecorder(256)
	}
}

// Fault is injected into the requests of one token ("*" = every token; a
// token's own fault wins). Latency is applied first; then Reset or
// HTTPStatus end the request at transport level; otherwise Errcode, if set,
// is answered after the token and security checks.
type Fault struct {
	Errcode    int           // API error to answer (HTTP 200)
	Errmsg     string        // [Errmsg(Errcode)]
	HTTPStatus int           // e.g. 502, 503: answer this status with a plain-text body
	Reset      bool          // close the TCP connection with RST, no response
	Latency    time.Duration // real-time delay before answering
	// Times is how many requests the fault applies to; 0 = until cleared.
	// A request counts when the fault ends it (reset, HTTP status,
	// errcode) or, for a latency-only fault, when it is delayed.
	Times int
}

func (f Fault) zero() bool {
	return f.Errcode == 0 && f.HTTPStatus == 0 && !f.Reset && f.Latency == 0
}

// Button is one actionCard button.
type Button struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// FeedLink is one feedCard entry.
type FeedLink struct {
	Title      string `json:"title"`
	MessageURL string `json:"messageURL"`
	PicURL     string `json:"picURL,omitempty"`
}

// At is the at-list as sent.
type At struct {
	Mobiles []string `json:"atMobiles,omitempty"`
	UserIDs []string `json:"atUserIds,omitempty"`
	IsAtAll bool     `json:"isAtAll,omitempty"`
}

// Message is one accepted message.
type Message struct {
	Seq     int64  `json:"seq"` // order of arrival over all robots, from 1
	Token   string `json:"token"`
	Robot   string `json:"robot,omitempty"` // Robot.Name
	MsgType string `json:"msgtype"`
	// Title: markdown/actionCard/link title ("" for text).
	Title string `json:"title,omitempty"`
	// Text: text.content, or the markdown/actionCard/link text.
	Text string `json:"text,omitempty"`
	// actionCard: ButtonMode is "single" (singleTitle+singleURL, btns
	// ignored) or "btns". Buttons holds the single button or the btns.
	ButtonMode     string   `json:"button_mode,omitempty"`
	Buttons        []Button `json:"buttons,omitempty"`
	BtnsIgnored    int      `json:"btns_ignored,omitempty"`   // btns sent alongside a single button
	BtnOrientation string   `json:"btnOrientation,omitempty"` // "0", "1" or "" when absent
	HideAvatar     string   `json:"hideAvatar,omitempty"`
	// link
	MessageURL string `json:"messageUrl,omitempty"`
	PicURL     string `json:"picUrl,omitempty"`
	// feedCard
	Links []FeedLink `json:"links,omitempty"`
	// At is the at-list as sent. AtIgnored: at was sent with a type that
	// does not support it (actionCard, link, feedCard), so nobody is
	// notified. MissingMentions (markdown): mobiles and user ids of At whose
	// "@<id>" does not occur in the text, so DingTalk would not highlight
	// them.
	At              At        `json:"at"`
	AtSent          bool      `json:"at_sent,omitempty"`
	AtIgnored       bool      `json:"at_ignored,omitempty"`
	MissingMentions []string  `json:"missing_mentions,omitempty"`
	Signed          bool      `json:"signed,omitempty"`
	RemoteIP        string    `json:"remote_ip,omitempty"`
	Size            int       `json:"size"` // body bytes
	Time            time.Time `json:"time"` // simulator clock
	Body            string    `json:"body"`
}

func (m Message) clone() Message {
	m.Buttons = append([]Button(nil), m.Buttons...)
	m.Links = append([]FeedLink(nil), m.Links...)
	m.At.Mobiles = append([]string(nil), m.At.Mobiles...)
	m.At.UserIDs = append([]string(nil), m.At.UserIDs...)
	m.MissingMentions = append([]string(nil), m.MissingMentions...)
	return m
}

// Rejection is one request answered with an error (API or transport).
type Rejection struct {
	Seq        int64     `json:"seq"`
	Token      string    `json:"token"`
	Errcode    int       `json:"errcode"` // 0 for transport faults
	Errmsg     string    `json:"errmsg,omitempty"`
	HTTPStatus int       `json:"http_status,omitempty"` // set for HTTP 5xx faults
	Reason     string    `json:"reason"`                // why, in the simulator's words
	MsgType    string    `json:"msgtype,omitempty"`     // when the body was parsed that far
	Size       int       `json:"size"`
	RemoteIP   string    `json:"remote_ip,omitempty"`
	Time       time.Time `json:"time"`
}

type robotState struct {
	Robot
	allow        []netip.Prefix
	sent         []time.Time // accepted messages inside the window, oldest first
	blockedUntil time.Time
}

// Server is the simulator; it is an http.Handler. Use New and serve it
// yourself, Start in tests, or Listen.
type Server struct {
	// Endpoint gives URL ("http://127.0.0.1:port") and Addr, set by Start and Listen, and Close.
	simnet.Endpoint

	opts Options
	rec  *simnet.Recorder

	mu       sync.Mutex
	robots   map[string]*robotState
	faults   map[string]*Fault
	offset   time.Duration
	seq      int64
	accepted []Message
	rejected []Rejection
}

// New builds a Server. It panics if opts.Validate fails.
func New(opts Options) *Server {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	opts.defaults()
	s := &Server{
		opts:   opts,
		rec:    opts.Recorder,
		robots: map[string]*robotState{},
		faults: map[string]*Fault{},
	}
	for _, r := range opts.Robots {
		_ = s.AddRobot(r)
	}
	return s
}

// Start serves a new simulator on a random loopback port until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(opts)
	s.ServeTest(t, s)
	return s
}

// Listen serves s on addr ("" = random port on 127.0.0.1; loopback only)
// until Close.
func (s *Server) Listen(addr string) error {
	return s.Serve(addr, s)
}

// WebhookURL is the unsigned webhook URL of a robot.
func (s *Server) WebhookURL(token string) string {
	return s.URL + "/robot/send?access_token=" + urlQueryEscape(token)
}

// Recorder returns the request recorder.
func (s *Server) Recorder() *simnet.Recorder { return s.rec }

// Now is the simulator clock: Options.Now plus any Advance.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Server) nowLocked() time.Time { return s.opts.Now().Add(s.offset) }

// Advance moves the simulator clock forward by d (on top of Options.Now).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// AddRobot adds a robot, or replaces the one with the same token (its rate
// limit state starts afresh).
func (s *Server) AddRobot(r Robot) error {
	if err := r.validate(); err != nil {
		return err
	}
	allow, _ := parseAllow(r.AllowIPs)
	r.Keywords = append([]string(nil), r.Keywords...)
	r.AllowIPs = append([]string(nil), r.AllowIPs...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.robots[r.Token] = &robotState{Robot: r, allow: allow}
	return nil
}

// RemoveRobot deletes a robot; its token becomes unknown (300001).
func (s *Server) RemoveRobot(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.robots, token)
}

// Robots returns the configured robots.
func (s *Server) Robots() []Robot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Robot, 0, len(s.robots))
	for _, r := range s.robots {
		out = append(out, r.Robot)
	}
	sortRobots(out)
	return out
}

// SetFault forces errcode on every request of token ("*" = all tokens)
// that passes the token and security checks. errcode 0 clears the fault.
func (s *Server) SetFault(token string, errcode int) {
	s.SetFaultSpec(token, Fault{Errcode: errcode})
}

// SetFaultSpec sets a full fault for token ("*" = all tokens). A zero
// Fault clears it.
func (s *Server) SetFaultSpec(token string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.zero() {
		delete(s.faults, token)
		return
	}
	s.faults[token] = &f
}

// Faults returns the faults set at run time, by token.
func (s *Server) Faults() map[string]Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Fault, len(s.faults))
	for k, f := range s.faults {
		out[k] = *f
	}
	return out
}

// ClearFaults removes every fault set at run time (Robot.ForceErrcode stays).
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]*Fault{}
}

// Accepted returns the accepted messages of token ("" = all), oldest first.
func (s *Server) Accepted(token string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.accepted {
		if token == "" || m.Token == token {
			out = append(out, m.clone())
		}
	}
	return out
}

// Rejected returns the rejected requests of token ("" = all), oldest first.
func (s *Server) Rejected(token string) []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Rejection
	for _, r := range s.rejected {
		if token == "" || r.Token == token {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets accepted and rejected messages, rate-limit state, runtime
// faults, the clock offset and the request counts. Robots stay.
func (s *Server) Reset() {
	s.mu.Lock()
	s.accepted, s.rejected = nil, nil
	s.faults = map[string]*Fault{}
	s.offset = 0
	s.seq = 0
	for _, r := range s.robots {
		r.sent, r.blockedUntil = nil, time.Time{}
	}
	s.mu.Unlock()
	s.rec.Reset()
}

// ServeHTTP serves the webhook and the control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &simnet.StatusWriter{ResponseWriter: w}
	route := r.URL.Path
	switch {
	case r.URL.Path == "/robot/send":
		s.serveSend(sw, w, r)
	case strings.HasPrefix(r.URL.Path, "/_sim/"):
		s.serveControl(sw, r)
	default:
		route = "other"
		writeJSONStatus(sw, http.StatusNotFound, map[string]any{"errcode": 404, "errmsg": "not found: " + r.URL.Path})
	}
	status := sw.Status
	if status == 0 {
		status = -1 // connection reset, nothing written
	}
	s.rec.Record(route, simnet.Entry{
		Time: s.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Status: status, Duration: time.Since(start),
	})
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sleep waits d in real time, or until the request is cancelled.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
