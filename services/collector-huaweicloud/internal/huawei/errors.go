package huawei

import (
	"context"
	"errors"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"

	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/config"
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
// and publish: the action ("ListServersDetails", "KeystoneListProjects"),
// Huawei's code ("APIGW.0301", "Ecs.0319") or "" (transport, decoding), the
// HTTP status and the request id (the X-Request-Id response header), plus a
// short message. It never carries the SDK's own error: a 401 from the real
// gateway echoes its canonical request (signed headers, dates, path) and a
// transport error names the URL.
type APIError = collector.APIError

// signedMaterial starts the part of a gateway message that quotes the
// request as signed (canonical request, string to sign, signature).
var signedMaterial = regexp.MustCompile(`(?i)(canonical ?request|string ?to ?sign|signature ?[:=]|authorization ?[:=])`)

// sanitize shortens msg, cuts anything from the quoted signed material on,
// drops query strings of URLs and masks the secret.
func sanitize(msg, secret string) string {
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, config.Redacted)
	}
	if loc := signedMaterial.FindStringIndex(msg); loc != nil {
		msg = strings.TrimRight(msg[:loc[0]], " ,;:|")
	}
	return collector.CleanMessage(msg, secret)
}

// toAPIError classifies an error returned by an SDK call. callCtx is the
// context the call ran under: when it has ended, that is the cause, whatever
// error the aborted request produced.
func toAPIError(callCtx context.Context, action string, err error, secret string) *APIError {
	ae := &APIError{Action: action}
	if errors.As(err, &ae) {
		return ae
	}
	if cerr := callCtx.Err(); cerr != nil {
		return collector.ContextAPIError(action, cerr)
	}
	var sep *sdkerr.ServiceResponseError
	var sev sdkerr.ServiceResponseError
	var rte *sdkerr.RequestTimeoutError
	var cne *sdkerr.ConnectionError
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.As(err, &sep):
		fromService(ae, sep, secret)
	case errors.As(err, &sev):
		fromService(ae, &sev, secret)
	case errors.As(err, &rte):
		ae.Timeout, ae.Message = true, sanitize(rte.ErrorMessage, secret)
	case errors.As(err, &cne):
		ae.Message = sanitize(cne.ErrorMessage, secret)
	case errors.As(err, &ue):
		ae.Timeout, ae.Message = ue.Timeout(), sanitize(collector.URLErrorText(ue), secret)
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

func fromService(ae *APIError, se *sdkerr.ServiceResponseError, secret string) {
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

// codes: Huawei's auth codes (and any 401) and its flow control (429
// APIGW.0308), besides the rules every cloud shares.
var codes = collector.ErrorCodes{
	Auth:     func(e *APIError) bool { return isAuthCode(e.Code) || e.HTTPStatus == 401 },
	Throttle: func(e *APIError) bool { return e.Code == codeThrottle },
}
