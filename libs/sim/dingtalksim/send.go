package dingtalksim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/sim/simnet"
)

// Sign is DingTalk's 加签 value before URL-encoding:
// base64(HMAC-SHA256(key=secret, timestampMs+"\n"+secret)).
func Sign(secret string, timestampMs int64) string {
	return signString(secret, strconv.FormatInt(timestampMs, 10))
}

func signString(secret, ts string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignedWebhookURL is the webhook URL of token signed with secret at time
// at (epoch milliseconds), as a correct sender builds it.
func (s *Server) SignedWebhookURL(token, secret string, at time.Time) string {
	ts := at.UnixMilli()
	return s.WebhookURL(token) + "&timestamp=" + strconv.FormatInt(ts, 10) +
		"&sign=" + url.QueryEscape(Sign(secret, ts))
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// apiError is one answer other than success.
type apiError struct {
	code   int
	msg    string
	reason string
}

func errCode(code int, reason string) *apiError {
	return &apiError{code: code, msg: Errmsg(code), reason: reason}
}

func (s *Server) serveSend(w *simnet.StatusWriter, raw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONStatus(w, http.StatusMethodNotAllowed, map[string]any{"errcode": 405, "errmsg": "method " + r.Method + " not allowed, use POST"})
		return
	}
	q := r.URL.Query()
	token := q.Get("access_token")
	ip := remoteIP(r)

	hardCap := int64(s.opts.MaxBytes)*4 + 1<<20
	body, readErr := io.ReadAll(io.LimitReader(r.Body, hardCap+1))
	rej := Rejection{Token: token, Size: len(body), RemoteIP: ip}

	// 1. Latency and transport faults.
	sleep(r.Context(), s.opts.Latency)
	tf, lat := s.takeTransportFault(token)
	sleep(r.Context(), lat)
	if tf != nil {
		s.transportFault(w, raw, rej, *tf)
		return
	}
	if readErr != nil {
		s.answer(w, rej, errCode(ErrMissingJSON, "reading body: "+readErr.Error()))
		return
	}

	// 2. Token.
	s.mu.Lock()
	rs, ok := s.robots[token]
	var robot Robot
	var allow []netip.Prefix
	if ok {
		robot, allow = rs.Robot, rs.allow
	}
	s.mu.Unlock()
	if token == "" {
		s.answer(w, rej, errCode(ErrTokenNotExist, "access_token missing"))
		return
	}
	if !ok {
		s.answer(w, rej, errCode(ErrTokenNotExist, "unknown access_token"))
		return
	}

	// 3. IP allow-list.
	if len(allow) > 0 && !allowed(allow, ip) {
		s.answer(w, rej, &apiError{ErrSecurity, "ip " + ip + " not in whitelist", "remote IP not in allow-list"})
		return
	}

	// 4. Signing.
	signed := false
	if robot.Secret != "" {
		if e := s.checkSign(q, robot.Secret); e != nil {
			s.answer(w, rej, e)
			return
		}
		signed = true
	}

	// 5. Forced errcode.
	if f := s.takeErrcodeFault(token); f != nil {
		msg := f.Errmsg
		if msg == "" {
			msg = Errmsg(f.Errcode)
		}
		s.answer(w, rej, &apiError{f.Errcode, msg, "fault injected with SetFault"})
		return
	}
	if robot.ForceErrcode != 0 {
		s.answer(w, rej, errCode(robot.ForceErrcode, "Robot.ForceErrcode"))
		return
	}

	// 6. Size.
	if len(body) > s.opts.MaxBytes {
		reason := fmt.Sprintf("body is %d bytes, limit %d", len(body), s.opts.MaxBytes)
		if int64(len(body)) > hardCap {
			reason = fmt.Sprintf("body is more than %d bytes, limit %d", hardCap, s.opts.MaxBytes)
		}
		s.answer(w, rej, errCode(ErrTooLong, reason))
		return
	}

	// 7. Content-Type.
	if e := checkContentType(r.Header.Get("Content-Type")); e != nil {
		s.answer(w, rej, e)
		return
	}

	// 8–10. Body.
	m, e := parseMessage(body)
	rej.MsgType = m.MsgType
	if e != nil {
		s.answer(w, rej, e)
		return
	}

	// 11. Keywords.
	if len(robot.Keywords) > 0 && !hasKeyword(m, robot.Keywords) {
		s.answer(w, rej, &apiError{ErrSecurity, "keywords not in content", "none of the keywords occurs in the message"})
		return
	}

	// 12. Rate limit, then accept.
	m.Token, m.Robot, m.Signed, m.RemoteIP, m.Size, m.Body = token, robot.Name, signed, ip, len(body), string(body)
	s.mu.Lock()
	rs, ok = s.robots[token]
	if !ok { // removed meanwhile
		s.mu.Unlock()
		s.answer(w, rej, errCode(ErrTokenNotExist, "robot removed"))
		return
	}
	now := s.nowLocked()
	if e := s.admitLocked(rs, now); e != nil {
		s.rejectLocked(rej, e, now)
		s.mu.Unlock()
		writeAPI(w, e.code, e.msg)
		return
	}
	s.seq++
	m.Seq, m.Time = s.seq, now
	s.accepted = appendCapped(s.accepted, m, s.opts.MaxRecords)
	s.mu.Unlock()
	writeAPI(w, ErrOK, "ok")
}

// admitLocked applies the rate limit; nil means the message may be accepted
// and has been counted.
func (s *Server) admitLocked(rs *robotState, now time.Time) *apiError {
	if s.opts.RateLimit < 0 {
		return nil
	}
	msg := Errmsg(s.opts.ThrottleErrcode)
	if now.Before(rs.blockedUntil) {
		return &apiError{s.opts.ThrottleErrcode, msg, "robot blocked until " + rs.blockedUntil.Format(time.RFC3339Nano)}
	}
	cutoff := now.Add(-s.opts.RateWindow)
	i := 0
	for i < len(rs.sent) && !rs.sent[i].After(cutoff) {
		i++
	}
	rs.sent = rs.sent[i:]
	if len(rs.sent) >= s.opts.RateLimit {
		rs.blockedUntil = now.Add(s.opts.BlockFor)
		return &apiError{s.opts.ThrottleErrcode, msg, fmt.Sprintf("%d messages in %s; blocked until %s",
			len(rs.sent), s.opts.RateWindow, rs.blockedUntil.Format(time.RFC3339Nano))}
	}
	rs.sent = append(rs.sent, now)
	return nil
}

func (s *Server) checkSign(q url.Values, secret string) *apiError {
	ts, sign := q.Get("timestamp"), q.Get("sign")
	if ts == "" || sign == "" {
		return &apiError{ErrSecurity, "sign not match", "timestamp or sign missing"}
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return &apiError{ErrSecurity, "invalid timestamp", "timestamp is not an integer"}
	}
	now := s.Now()
	diff := now.Sub(time.UnixMilli(ms))
	if diff < 0 {
		diff = -diff
	}
	if diff > s.opts.SignWindow || ms < 0 {
		return &apiError{ErrSecurity, "invalid timestamp", fmt.Sprintf("timestamp %s is %s away from server time %d, limit %s",
			ts, diff, now.UnixMilli(), s.opts.SignWindow)}
	}
	want := signString(secret, ts)
	if !hmac.Equal([]byte(sign), []byte(want)) {
		return &apiError{ErrSecurity, "sign not match", "sign " + strconv.Quote(sign) + " differs from the expected value"}
	}
	return nil
}

func allowed(allow []netip.Prefix, ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func checkContentType(ct string) *apiError {
	if ct == "" {
		return errCode(ErrContentType, "Content-Type missing")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errCode(ErrContentType, "Content-Type "+strconv.Quote(ct)+" is not application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return errCode(ErrContentType, "charset "+strconv.Quote(cs)+" is not UTF-8")
	}
	return nil
}

func hasKeyword(m Message, keywords []string) bool {
	parts := []string{m.Title, m.Text}
	for _, l := range m.Links {
		parts = append(parts, l.Title)
	}
	content := strings.Join(parts, "\n")
	for _, k := range keywords {
		if strings.Contains(content, k) {
			return true
		}
	}
	return false
}

// takeTransportFault returns the fault that ends this request at transport
// level, if any, and the fault latency to apply.
func (s *Server) takeTransportFault(token string) (*Fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, f := s.faultLocked(token)
	if f == nil {
		return nil, 0
	}
	lat := f.Latency
	switch {
	case f.Reset || f.HTTPStatus != 0:
		c := *f
		s.consumeLocked(key, f)
		return &c, lat
	case f.Errcode == 0: // latency only
		s.consumeLocked(key, f)
	}
	return nil, lat
}

func (s *Server) takeErrcodeFault(token string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, f := s.faultLocked(token)
	if f == nil || f.Errcode == 0 {
		return nil
	}
	c := *f
	s.consumeLocked(key, f)
	return &c
}

func (s *Server) faultLocked(token string) (string, *Fault) {
	if f, ok := s.faults[token]; ok {
		return token, f
	}
	if f, ok := s.faults["*"]; ok {
		return "*", f
	}
	return "", nil
}

func (s *Server) consumeLocked(key string, f *Fault) {
	if f.Times == 0 {
		return
	}
	f.Times--
	if f.Times == 0 && s.faults[key] == f {
		delete(s.faults, key)
	}
}

func (s *Server) transportFault(w *simnet.StatusWriter, raw http.ResponseWriter, rej Rejection, f Fault) {
	if f.Reset {
		rej.Reason = "fault: connection reset"
		s.record(rej)
		conn, _, err := http.NewResponseController(raw).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
		// Not hijackable (e.g. HTTP/2 or a recorder): fall back to a 502.
		f.HTTPStatus = http.StatusBadGateway
	}
	rej.HTTPStatus = f.HTTPStatus
	rej.Reason = fmt.Sprintf("fault: HTTP %d", f.HTTPStatus)
	if !f.Reset {
		s.record(rej)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(f.HTTPStatus)
	_, _ = fmt.Fprintf(w, "%d %s\n", f.HTTPStatus, http.StatusText(f.HTTPStatus))
}

func (s *Server) record(rej Rejection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectLocked(rej, nil, s.nowLocked())
}

func (s *Server) rejectLocked(rej Rejection, e *apiError, now time.Time) {
	if e != nil {
		rej.Errcode, rej.Errmsg, rej.Reason = e.code, e.msg, e.reason
	}
	s.seq++
	rej.Seq, rej.Time = s.seq, now
	s.rejected = appendCapped(s.rejected, rej, s.opts.MaxRecords)
}

// answer records a rejection and writes the API error.
func (s *Server) answer(w http.ResponseWriter, rej Rejection, e *apiError) {
	s.mu.Lock()
	s.rejectLocked(rej, e, s.nowLocked())
	s.mu.Unlock()
	writeAPI(w, e.code, e.msg)
}

func appendCapped[T any](list []T, v T, max int) []T {
	list = append(list, v)
	if len(list) > max {
		list = append(list[:0:0], list[len(list)-max:]...)
	}
	return list
}

func writeAPI(w http.ResponseWriter, code int, msg string) {
	writeJSONStatus(w, http.StatusOK, struct {
		Errcode int    `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}{code, msg})
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errcode":-1,"errmsg":"encoding response"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
