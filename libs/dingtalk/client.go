package dingtalk

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds one webhook call when Options.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Options configures a Client.
type Options struct {
	// Webhook is the robot's URL with its access_token, e.g.
	// https://oapi.dingtalk.com/robot/send?access_token=…
	Webhook string
	// Secret ("SEC…") signs every request when set.
	Secret string
	// HTTPClient defaults to a client with Timeout.
	HTTPClient *http.Client
	Timeout    time.Duration
	// Now is the signing clock (time.Now when nil).
	Now func() time.Time
}

// Client sends messages to one robot. Safe for concurrent use.
type Client struct {
	base   *url.URL
	token  string
	secret string
	name   string
	http   *http.Client
	now    func() time.Time
}

// New checks the webhook and returns a client. The error never contains the
// token.
func New(o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(o.Webhook))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: want http(s)://host/robot/send?access_token=…", ErrInvalidWebhook)
	}
	token := u.Query().Get("access_token")
	if token == "" {
		return nil, fmt.Errorf("%w: %s has no access_token", ErrInvalidWebhook, u.Scheme+"://"+u.Host+u.Path)
	}
	hc := o.HTTPClient
	if hc == nil {
		t := o.Timeout
		if t <= 0 {
			t = DefaultTimeout
		}
		hc = &http.Client{Timeout: t}
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Client{base: u, token: token, secret: o.Secret, http: hc, now: now, name: RedactWebhook(o.Webhook)}, nil
}

// Name is the webhook URL with its token redacted, e.g.
// "https://oapi.dingtalk.com/robot/send?access_token=abcd…[REDACTED]".
func (c *Client) Name() string { return c.name }

// Signed reports whether requests are signed.
func (c *Client) Signed() bool { return c.secret != "" }

// RedactWebhook returns the webhook with the access token reduced to its
// first four characters, and sign/timestamp dropped.
func RedactWebhook(webhook string) string {
	u, err := url.Parse(strings.TrimSpace(webhook))
	if err != nil {
		return "[unparsable webhook]"
	}
	out := u.Scheme + "://" + u.Host + u.Path
	tok := u.Query().Get("access_token")
	if tok == "" {
		return out
	}
	prefix := ""
	if len(tok) > 12 {
		prefix = tok[:4] + "…"
	}
	return out + "?access_token=" + prefix + "[REDACTED]"
}

// Sign is DingTalk's 加签 value before URL-encoding:
// base64(HMAC-SHA256(key = secret, message = timestampMs + "\n" + secret)).
func Sign(secret string, timestampMs int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampMs, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// url returns the URL to post to, signed at now when a secret is set.
func (c *Client) url(now time.Time) string {
	u := *c.base
	q := u.Query()
	if c.secret != "" {
		ts := now.UnixMilli()
		q.Set("timestamp", strconv.FormatInt(ts, 10))
		q.Set("sign", Sign(c.secret, ts))
	}
	u.RawQuery = q.Encode() // url.QueryEscape: "+"→%2B, "/"→%2F, "="→%3D
	return u.String()
}

// Send posts m. A body above MaxBodyBytes is not sent (ErrTooLarge).
// Errors wrap ErrThrottled, ErrConfig, ErrTooLarge, ErrRejected or
// ErrTransport (and the matching notify sentinel).
func (c *Client) Send(ctx context.Context, m Message) error {
	body, err := m.Encode()
	if err != nil {
		return fmt.Errorf("%w: encode: %v", ErrRejected, err)
	}
	if len(body) > MaxBodyBytes {
		return tooLarge(len(body))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(c.now()), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %s", ErrTransport, c.redact(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error text would carry the token
		}
		return fmt.Errorf("%w: post %s: %s", ErrTransport, c.name, c.redact(err.Error()))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("%w: read answer of %s: %s", ErrTransport, c.name, c.redact(err.Error()))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered HTTP %d", ErrTransport, c.name, resp.StatusCode)
	}
	var ans struct {
		Errcode *int   `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.Errcode == nil {
		return fmt.Errorf("%w: %s answered something other than {errcode, errmsg}", ErrTransport, c.name)
	}
	if *ans.Errcode == CodeOK {
		return nil
	}
	msg := c.redact(ans.Errmsg)
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return &APIError{Code: *ans.Errcode, Msg: msg, kind: classify(*ans.Errcode)}
}

// redact masks the token and the secret (and the sign, which is derived
// from the secret) in s.
func (c *Client) redact(s string) string {
	for _, v := range []string{c.secret, url.QueryEscape(c.secret), c.token, url.QueryEscape(c.token)} {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}
