package collector

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
)

// This file is what every cloud Source does with a failed API call: reduce
// it to an APIError, classify it (ErrorCodes), retry it (ErrorCodes.Retry)
// and report it as a *ListError (Failures). What a cloud's codes mean and
// how its SDK's errors read stay in the cloud's package.

// APIError is one failed cloud API call, reduced to what is safe to log and
// publish: the action, the cloud's error code, the HTTP status and the
// request id, plus a short message. It never carries the SDK's own error,
// whose text may hold the request URL (access key id, signature) or the
// signed request.
type APIError struct {
	Action     string // the API called ("DescribeInstances", "ListServersDetails")
	Code       string // the cloud's (or its SDK's) error code, "" for transport errors
	HTTPStatus int    // 0 when no answer was read
	RequestID  string
	Message    string // short and sanitised (CleanMessage); "" when the code says it all
	Timeout    bool   // the request ran out of time
	// Cause is the caller's context error (context.Canceled or
	// DeadlineExceeded) when the call ended because the context did; nil
	// otherwise. Unwrap exposes it, for errors.Is.
	Cause error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Action)
	b.WriteString(": ")
	switch {
	case e.Code != "":
		b.WriteString(e.Code)
	case e.Timeout:
		b.WriteString("timeout")
	default:
		b.WriteString("request failed")
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.RequestID != "" {
		b.WriteString(", request id ")
		b.WriteString(e.RequestID)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap exposes a context error (never the SDK error).
func (e *APIError) Unwrap() error { return e.Cause }

// ContextAPIError is the APIError of a call to action that ended because
// the caller's context did with err (context.Canceled or DeadlineExceeded).
func ContextAPIError(action string, err error) *APIError {
	return &APIError{Action: action, Cause: err, Timeout: errors.Is(err, context.DeadlineExceeded), Message: err.Error()}
}

// maxMessage is the longest APIError.Message, in bytes.
const maxMessage = 160

var urlQueryRE = regexp.MustCompile(`(https?://[^\s?"']+)\?[^\s"']*`)

// CleanMessage makes an error message of a cloud or its SDK fit for an
// APIError: it masks secret, drops the query strings of URLs (access key
// ids, signatures), folds white space and shortens it to 160 bytes. What a
// cloud quotes of the signed request must be cut off before.
func CleanMessage(msg, secret string) string {
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, config.Redacted)
	}
	msg = urlQueryRE.ReplaceAllString(msg, "$1")
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !isRuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// URLErrorText is the text of a transport error with its URL reduced to
// scheme://host: the path and query may carry an access key id or a
// signature.
func URLErrorText(ue *url.Error) string {
	where := ue.URL
	if u, err := url.Parse(ue.URL); err == nil {
		where = u.Scheme + "://" + u.Host
	}
	return ue.Op + " " + where + ": " + ue.Err.Error()
}

// ErrorCodes says what a cloud's errors mean. The rules every cloud shares
// are built in: a context error is canceled or timeout, any HTTP 403 is a
// permission failure, any HTTP 429 throttling and any HTTP 5xx transient.
// A nil hook matches nothing.
type ErrorCodes struct {
	// Auth: the credentials were refused.
	Auth func(*APIError) bool
	// Permission: the key may not make the call (besides any HTTP 403).
	Permission func(*APIError) bool
	// Throttle: the cloud's flow control (besides any HTTP 429).
	Throttle func(*APIError) bool
	// Unavailable: a server-side failure (besides any HTTP 5xx).
	Unavailable func(*APIError) bool
}

func match(hook func(*APIError) bool, e *APIError) bool { return hook != nil && hook(e) }

// Throttled reports whether e is the cloud's flow control, to be retried
// with backoff.
func (c ErrorCodes) Throttled(e *APIError) bool {
	return e.Cause == nil && (e.HTTPStatus == 429 || match(c.Throttle, e))
}

// Transient reports whether e is a server-side failure (a 5xx answer),
// worth one retry.
func (c ErrorCodes) Transient(e *APIError) bool {
	return e.Cause == nil && !e.Timeout && (e.HTTPStatus >= 500 || match(c.Unavailable, e))
}

// Reason maps e to a pass failure reason (events.Reason*).
func (c ErrorCodes) Reason(e *APIError) string {
	switch {
	case errors.Is(e.Cause, context.Canceled):
		return events.ReasonCanceled
	case e.Timeout:
		return events.ReasonTimeout
	case match(c.Auth, e):
		return events.ReasonAuth
	case e.HTTPStatus == 403 || match(c.Permission, e):
		return events.ReasonPermission
	case c.Throttled(e):
		return events.ReasonThrottled
	}
	return events.ReasonAPIError
}

// Retry calls fn through b. Throttling is retried within b's budget; a
// transient answer gets one retry (a blip, not an outage); nothing else is
// retried. classify turns an error of fn into an *APIError. Retry returns
// the calls made and the last error as an *APIError, the context's error
// when ctx has ended.
func (c ErrorCodes) Retry(ctx context.Context, b Backoff, classify func(error) *APIError, fn func() error) (int, *APIError) {
	retriedTransient := false
	calls, err := b.Do(ctx, func(err error) bool {
		ae := classify(err)
		switch {
		case c.Throttled(ae):
			return true
		case c.Transient(ae) && !retriedTransient:
			retriedTransient = true
			return true
		}
		return false
	}, fn)
	if err == nil {
		return calls, nil
	}
	if cerr := ctx.Err(); cerr != nil { // Backoff.Do gives back the last API error when its sleep is cut short
		err = cerr
	}
	return calls, classify(err)
}

// Failed returns no listing and le, which gets the probes and calls of l
// so far: a Source never returns a partial listing.
func (l *Listing) Failed(le *ListError) (*Listing, error) {
	le.Probes = slices.Clone(l.Probes)
	le.Calls = l.Calls
	return nil, le
}

// Failures builds the *ListErrors of one cloud account's Source. Every
// Detail starts with "account <AccountID>: region <region>: " and has
// Secret masked (defence in depth: nothing puts it there).
type Failures struct {
	AccountID string
	Secret    string
	Codes     ErrorCodes
	// RequestTimeout says, in a timeout's Detail, what bounded the request:
	// "Timeout 10s".
	RequestTimeout string
}

// Failf builds a *ListError whose Detail is the formatted text after the
// account and region ("" leaves the region out).
func (f Failures) Failf(reason string, err error, region, format string, args ...any) *ListError {
	detail := fmt.Sprintf(format, args...)
	if region != "" {
		detail = "region " + region + ": " + detail
	}
	detail = "account " + f.AccountID + ": " + detail
	if f.Secret != "" {
		detail = strings.ReplaceAll(detail, f.Secret, config.Redacted)
	}
	return &ListError{Reason: reason, Detail: detail, Err: err}
}

// Fail turns a failed call into a *ListError with the reason of ae, whose
// Detail names the account, the region, where it happened (a page, a
// probe; "" for none), the code and the request id. calls is how many calls
// were made, retries included.
func (f Failures) Fail(ae *APIError, region, where string, calls int) *ListError {
	reason := f.Codes.Reason(ae)
	var detail string
	switch reason {
	case events.ReasonThrottled:
		detail = fmt.Sprintf("%s, still throttled after %d calls", ae.Error(), calls)
	case events.ReasonCanceled:
		detail = fmt.Sprintf("%s canceled", ae.Action)
	case events.ReasonTimeout:
		detail = fmt.Sprintf("%s got no answer within the request timeout (%s)", ae.Action, f.RequestTimeout)
		if ae.Cause != nil {
			detail = fmt.Sprintf("%s: the pass deadline passed", ae.Action)
		}
	default:
		detail = ae.Error()
	}
	if where != "" {
		detail = where + ": " + detail
	}
	return f.Failf(reason, ae, region, "%s", detail)
}

// FailIdentity is Fail for an Identity call: auth, throttled, timeout and
// canceled as for List, anything else identity_unknown; Calls is set.
func (f Failures) FailIdentity(ae *APIError, region, where string, calls int) *ListError {
	le := f.Fail(ae, region, where, calls)
	switch le.Reason {
	case events.ReasonAuth, events.ReasonThrottled, events.ReasonTimeout, events.ReasonCanceled:
	default:
		le.Reason = events.ReasonIdentityUnknown
	}
	le.Calls = calls
	return le
}
