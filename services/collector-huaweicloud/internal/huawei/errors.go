package huawei

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
)

// ReasonProjectUnresolved fails a pass whose region has no configured
// project id and whose IAM lookup (GET /v3/projects?name=<region>) answered
// no project or several: the listing cannot start. The detail says which
// and how to fix it (set Config.ProjectIDs[region]).
const ReasonProjectUnresolved = "project_unresolved"

// Actions named in errors.
const (
	actionList     = "ListServersDetails"
	actionProjects = "KeystoneListProjects"
)

// APIError is one failed Huawei Cloud call, reduced to what is safe to log
// and publish: the action, Huawei's error code, the HTTP status and the
// request id, plus a short message. It never carries the SDK's own error:
// a 401 from the real gateway echoes its canonical request (signed
// headers, dates, path) and a transport error names the URL.
type APIError struct {
	Action     string // "ListServersDetails", "KeystoneListProjects"
	Code       string // Huawei's code ("APIGW.0301", "Ecs.0319"), or "" (transport, decoding)
	HTTPStatus int    // 0 when no answer was read
	RequestID  string // the X-Request-Id response header
	Message    string // short and sanitised
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

var (
	urlQueryRE = regexp.MustCompile(`(https?://[^\s?"']+)\?[^\s"']*`)
	// signedMaterial starts the part of a gateway message that quotes the
	// request as signed (canonical request, string to sign, signature).
	signedMaterial = regexp.MustCompile(`(?i)(canonical ?request|string ?to ?sign|signature ?[:=]|authorization ?[:=])`)
)

// sanitize shortens msg, cuts anything from the quoted signed material on,
// drops query strings of URLs and masks the secret.
func sanitize(msg, secret string) string {
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, config.Redacted)
	}
	if loc := signedMaterial.FindStringIndex(msg); loc != nil {
		msg = strings.TrimRight(msg[:loc[0]], " ,;:|")
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

// toAPIError classifies an error returned by an SDK call. callCtx is the
// context the call ran under: when it has ended, that is the cause, whatever
// error the aborted request produced.
func toAPIError(callCtx context.Context, action string, err error, secret string) *APIError {
	ae := &APIError{Action: action}
	if errors.As(err, &ae) {
		return ae
	}
	if cerr := callCtx.Err(); cerr != nil {
		ae.cause = cerr
		ae.Timeout = errors.Is(cerr, context.DeadlineExceeded)
		ae.Message = cerr.Error()
		return ae
	}
	var sep *sdkerr.ServiceResponseError
	var sev sdkerr.ServiceResponseError
	var rte *sdkerr.RequestTimeoutError
	var cne *sdkerr.ConnectionError
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.As(err, &sep):
		ae.fromService(sep, secret)
	case errors.As(err, &sev):
		ae.fromService(&sev, secret)
	case errors.As(err, &rte):
		ae.Timeout, ae.Message = true, sanitize(rte.ErrorMessage, secret)
	case errors.As(err, &cne):
		ae.Message = sanitize(cne.ErrorMessage, secret)
	case errors.As(err, &ue):
		ae.Timeout = ue.Timeout()
		where := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			where = u.Scheme + "://" + u.Host
		}
		ae.Message = sanitize(ue.Op+" "+where+": "+ue.Err.Error(), secret)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// An aborted request whose context is not callCtx: the http.Client
		// timeout while reading the body.
		ae.Timeout = errors.Is(err, context.DeadlineExceeded)
		ae.Message = sanitize(err.Error(), secret)
	default:
		ae.Timeout = errors.As(err, &ne) && ne.Timeout()
		ae.Message = sanitize(err.Error(), secret)
	}
	return ae
}

func (ae *APIError) fromService(se *sdkerr.ServiceResponseError, secret string) {
	ae.Code, ae.HTTPStatus, ae.RequestID = se.ErrorCode, se.StatusCode, se.RequestId
	ae.Message = sanitize(se.ErrorMessage, secret)
	if ae.HTTPStatus == 200 && ae.Code == "" {
		// The SDK's strict decoder refused the body (a field of the wrong
		// JSON type); its message quotes a piece of the body.
		ae.Message = "the answer does not decode: " + ae.Message
		ae.Message = sanitize(ae.Message, secret)
	}
}

const (
	codeAuth     = "APIGW.0301" // Incorrect IAM authentication information (bad signature, unknown AK, skew)
	codeThrottle = "APIGW.0308" // The throttling threshold has been reached
)

func isAuthCode(code string) bool {
	return code == codeAuth || code == "APIGW.0303" || code == "APIGW.0305"
}

// throttled: Huawei's flow control (429 APIGW.0308, or any 429).
func (e *APIError) throttled() bool {
	return e.cause == nil && (e.Code == codeThrottle || e.HTTPStatus == 429)
}

// transient: a 5xx answer, retried once after a short delay (see doc.go).
func (e *APIError) transient() bool {
	return e.cause == nil && !e.Timeout && e.HTTPStatus >= 500
}

// reason maps e to a pass failure reason (events.Reason*).
func (e *APIError) reason() string {
	switch {
	case errors.Is(e.cause, context.Canceled):
		return events.ReasonCanceled
	case e.Timeout:
		return events.ReasonTimeout
	case isAuthCode(e.Code) || e.HTTPStatus == 401:
		return events.ReasonAuth
	case e.HTTPStatus == 403:
		return events.ReasonPermission
	case e.throttled():
		return events.ReasonThrottled
	}
	return events.ReasonAPIError
}
