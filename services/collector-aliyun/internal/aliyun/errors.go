package aliyun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
)

// APIError is one failed Aliyun call, reduced to what is safe to log and
// publish: the action, Aliyun's error code, the HTTP status and the request
// id, plus a short message. It never carries the SDK's own error, whose text
// holds the request URL (AccessKeyId, Signature) or the server's
// string-to-sign.
type APIError struct {
	Action     string // "DescribeInstances", "GetCallerIdentity"
	Code       string // Aliyun's code ("Forbidden.RAM"), an SDK client code ("SDK.JsonUnmarshalError"), or "" (transport)
	HTTPStatus int    // 0 when no answer was read
	RequestID  string
	Message    string // short and sanitised; "" when the code says it all
	Timeout    bool   // the request ran out of time
	cause      error  // context.Canceled / DeadlineExceeded, for errors.Is
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
func (e *APIError) Unwrap() error { return e.cause }

const maxMessage = 160

var urlQueryRE = regexp.MustCompile(`(https?://[^\s?"']+)\?[^\s"']*`)

// sanitize shortens msg, drops query strings of URLs (AccessKeyId,
// Signature) and the server's string-to-sign, and masks the secret.
func sanitize(msg, secret string) string {
	if i := strings.Index(msg, sdkerrors.MessageContain); i >= 0 {
		msg = msg[:i]
	}
	msg = urlQueryRE.ReplaceAllString(msg, "$1")
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, config.Redacted)
	}
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

// toAPIError classifies an error returned by an SDK call or by run (a bare
// context error when the caller's context ended).
func toAPIError(action string, err error, secret string) *APIError {
	ae := &APIError{Action: action}
	var se *sdkerrors.ServerError
	var ce *sdkerrors.ClientError
	var ue *url.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &se):
		ae.Code, ae.HTTPStatus, ae.RequestID = se.ErrorCode(), se.HttpStatus(), se.RequestId()
		if ae.Code == "" || !knownCode(ae.Code) {
			ae.Message = sanitize(se.Message(), secret)
		}
	case errors.As(err, &ce):
		ae.Code = ce.ErrorCode()
		ae.Timeout = ae.Code == sdkerrors.TimeoutErrorCode
		ae.Message = sanitize(ce.Message(), secret)
	case errors.As(err, &ue):
		ae.Timeout = ue.Timeout()
		where := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			where = u.Scheme + "://" + u.Host
		}
		ae.Message = sanitize(ue.Op+" "+where+": "+ue.Err.Error(), secret)
	// Only now bare context errors (run's, when ctx ended): an http.Client
	// timeout inside a url.Error also matches context.DeadlineExceeded, but
	// it is the request timeout, not the caller's context.
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		ae.cause = err
		ae.Timeout = errors.Is(err, context.DeadlineExceeded)
		ae.Message = err.Error()
	default:
		var ne net.Error
		ae.Timeout = errors.As(err, &ne) && ne.Timeout()
		ae.Message = sanitize(err.Error(), secret)
	}
	return ae
}

// knownCode: codes whose meaning is clear without the server's message.
func knownCode(code string) bool {
	return isThrottleCode(code) || isAuthCode(code) || strings.HasPrefix(code, "Forbidden") ||
		code == "ServiceUnavailable" || code == "InternalError" || code == codeDryRun
}

const codeDryRun = "DryRunOperation"

func isThrottleCode(code string) bool {
	return code == "Throttling" || strings.HasPrefix(code, "Throttling.")
}

func isAuthCode(code string) bool {
	return strings.HasPrefix(code, "InvalidAccessKeyId") || // .NotFound, .Inactive
		code == "InvalidAccessKeySecret" || code == "SignatureDoesNotMatch" ||
		code == "IncompleteSignature" || code == "Forbidden.AccessKeyDisabled" ||
		strings.HasPrefix(code, "InvalidSecurityToken")
}

// throttled: Aliyun's flow control (400 Throttling*, or any 429).
func (e *APIError) throttled() bool {
	return e.cause == nil && (isThrottleCode(e.Code) || e.HTTPStatus == 429)
}

// transient: a 5xx answer, retried once after a short delay (see doc.go).
func (e *APIError) transient() bool {
	return e.cause == nil && !e.Timeout && (e.HTTPStatus >= 500 || e.Code == "ServiceUnavailable" || e.Code == "InternalError")
}

// reason maps e to a pass failure reason (events.Reason*).
func (e *APIError) reason() string {
	switch {
	case errors.Is(e.cause, context.Canceled):
		return events.ReasonCanceled
	case e.Timeout:
		return events.ReasonTimeout
	case isAuthCode(e.Code):
		return events.ReasonAuth
	case strings.HasPrefix(e.Code, "Forbidden") || e.Code == "NoPermission" || e.HTTPStatus == 403:
		return events.ReasonPermission
	case e.throttled():
		return events.ReasonThrottled
	}
	return events.ReasonAPIError
}
