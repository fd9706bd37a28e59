package jumpserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
)

// maxBody bounds how much of a response is read (a 10000-row page with
// trimmed fields stays far below).
const maxBody = 256 << 20

// call is one API request.
type call struct {
	method string
	path   string // /api/v1/…/ with the trailing slash
	query  url.Values
	body   any
	org    string // X-JMS-ORG override (the root org for cross-org counts)
	// retry: the request is idempotent; an unavailability is retried
	// (Config.Retries) after a backoff.
	retry bool
}

// response is a 2xx answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do runs a call through the throttle gate, the concurrency limit, the rate
// limiter and the breaker. A 429 is waited out (bounded by MaxRetryAfter)
// and resent; idempotent calls are retried after unavailability. out, when
// non-nil, receives the decoded JSON body.
func (c *Client) do(ctx context.Context, cl call, out any) (*response, error) {
	var payload []byte
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, fmt.Errorf("jumpserver: encode %s %s: %w", cl.method, cl.path, err)
		}
		payload = b
	}
	throttled, retried := 0, 0
	for {
		res, err := c.once(ctx, cl, payload)
		if err == nil {
			if out != nil && len(res.body) > 0 && res.status != http.StatusNoContent {
				if err := json.Unmarshal(res.body, out); err != nil {
					return res, &Error{Kind: KindUnavailable, Status: res.status, Method: cl.method, Path: cl.path,
						Message: "undecodable response: " + err.Error()}
				}
			}
			return res, nil
		}
		var e *Error
		if !errors.As(err, &e) {
			return nil, err // the caller's context ended
		}
		switch {
		case e.Kind == KindThrottled && e.RetryAfter <= c.cfg.MaxRetryAfter && throttled < 3:
			// once set the gate; the next attempt waits for it
			throttled++
			c.log.Info().Str("method", cl.method).Str("path", cl.path).Dur("retry_after", e.RetryAfter).
				Msg("jumpserver throttled; waiting")
			continue
		case cl.retry && retried < c.cfg.Retries && (e.Kind == KindUnavailable || e.Kind == KindInternal) &&
			!errors.Is(e, ErrBreakerOpen):
			retried++
			if err := sleepCtx(ctx, c.cfg.RetryBackoff<<(retried-1)); err != nil {
				return nil, err
			}
			continue
		}
		return nil, e
	}
}

// once sends one request.
func (c *Client) once(ctx context.Context, cl call, payload []byte) (*response, error) {
	if err := c.waitGate(ctx); err != nil {
		return nil, err
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	if err := c.lim.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("jumpserver: rate limiter: %w", err)
	}
	res, err := c.cb.Execute(func() (*response, error) { return c.tracedSend(ctx, cl, payload) })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return nil, &Error{Kind: KindUnavailable, Method: cl.method, Path: cl.path,
			Message: "circuit breaker " + c.cb.State().String() + "; request not sent",
			Err:     fmt.Errorf("%w: %w", ErrBreakerOpen, err), RetryAfter: c.cfg.Breaker.OpenTimeout}
	}
	return res, err
}

// waitGate waits until a 429's Retry-After has passed.
func (c *Client) waitGate(ctx context.Context) error {
	c.thMu.Lock()
	until := c.notBefore
	c.thMu.Unlock()
	if d := until.Sub(c.now()); d > 0 {
		return sleepCtx(ctx, d)
	}
	return nil
}

func (c *Client) holdUntil(t time.Time) {
	c.thMu.Lock()
	if t.After(c.notBefore) {
		c.notBefore = t
	}
	c.thMu.Unlock()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isCallerCancel: the caller's own context ended; the breaker ignores it.
func isCallerCancel(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return false
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// send performs the HTTP exchange and classifies the answer.
func (c *Client) send(ctx context.Context, cl call, payload []byte) (*response, error) {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + cl.path
	u.RawPath = ""
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(rctx, cl.method, u.String(), rd)
	if err != nil {
		return nil, &Error{Kind: KindValidation, Method: cl.method, Path: cl.path, Message: "build request: " + err.Error()}
	}
	req.Header.Set("Accept", "application/json")
	// JSON content type on every request: JumpServer then answers 404 and
	// 500 in JSON rather than HTML. Never signed (spec §1.2).
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	org := cl.org
	if org == "" {
		org = c.cfg.OrgID
	}
	req.Header.Set("X-JMS-ORG", org)
	if err := sign(req, c.cfg.KeyID, c.cfg.Secret, c.now()); err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.transportError(cl, err, rctx)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.transportError(cl, err, rctx)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
	}
	e := classify(cl.method, cl.path, resp.StatusCode, resp.Header, body)
	if e.Kind == KindThrottled && e.RetryAfter <= c.cfg.MaxRetryAfter {
		c.holdUntil(c.now().Add(e.RetryAfter))
	}
	return nil, e
}

func (c *Client) transportError(cl call, err error, rctx context.Context) *Error {
	e := &Error{Kind: KindUnavailable, Method: cl.method, Path: cl.path, Timeout: true}
	if rctx.Err() != nil {
		e.Message = fmt.Sprintf("no response within %s", c.cfg.Timeout)
		return e
	}
	// url.Error carries the URL (no credentials); keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var certErr *tls.CertificateVerificationError
	var authErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &authErr) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) {
		// not an outage: the certificate does not verify (see InsecureSkipVerify)
		return &Error{Kind: KindConfig, Method: cl.method, Path: cl.path, Err: ErrConfig,
			Message: "TLS certificate verification failed: " + err.Error()}
	}
	e.Message = "connection failed: " + err.Error()
	return e
}

// classify turns a non-2xx answer into an *Error, keyed on the status and
// the body's shape, never on message texts (spec §2).
func classify(method, path string, status int, h http.Header, body []byte) *Error {
	e := &Error{Status: status, Method: method, Path: path}
	var parsed any
	isJSON := json.Unmarshal(body, &parsed) == nil
	if isJSON {
		e.raw = parsed
		e.Message = detailOf(parsed)
	} else if len(body) > 0 {
		e.Message = "non-JSON response"
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = KindAuth
	case status == http.StatusNotFound:
		e.Kind = KindNotFound
	case status == http.StatusConflict:
		e.Kind = KindConflict
	case status == http.StatusTooManyRequests:
		e.Kind = KindThrottled
		e.RetryAfter = time.Second
		if s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && s >= 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
	case status == http.StatusInternalServerError && isJSON:
		e.Kind = KindInternal
	case status >= 500:
		e.Kind = KindUnavailable
	case status >= 300 && status < 400:
		e.Kind = KindConfig
		e.Message = "unexpected redirect to " + h.Get("Location")
	default: // 400 and other 4xx
		e.Kind = KindValidation
		switch x := parsed.(type) {
		case map[string]any:
			if !isDetail(x) {
				e.Fields = flattenFields(x)
				e.Message = ""
			}
		case []any:
			if e.Message == "" && len(x) > 0 { // per-item or per-account errors
				e.Fields = flattenFields(x)
			}
		}
	}
	return e
}

// isDetail: {"detail":…,"code":…} or {"error":…} rather than field errors.
func isDetail(m map[string]any) bool {
	if _, ok := m["error"]; ok && len(m) <= 2 {
		return true
	}
	_, d := m["detail"]
	return d && len(m) <= 2
}

func detailOf(v any) string {
	const maxLen = 300
	var s string
	switch x := v.(type) {
	case map[string]any:
		for _, k := range []string{"detail", "error", "msg"} {
			if str, ok := x[k].(string); ok {
				s = str
				break
			}
		}
	case []any:
		var parts []string
		for _, it := range x {
			if str, ok := it.(string); ok {
				parts = append(parts, str)
			}
		}
		s = strings.Join(parts, "; ")
	}
	if len(s) > maxLen {
		s = s[:maxLen] + "…"
	}
	return s
}
