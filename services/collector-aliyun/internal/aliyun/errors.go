package aliyun

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"

	"github.com/jmssync/jmssync/libs/collector"
)

// APIError is one failed Aliyun call, reduced to what is safe to log and
// publish: the action ("DescribeInstances", "GetCallerIdentity"), Aliyun's
// code ("Forbidden.RAM"), an SDK client code ("SDK.JsonUnmarshalError") or
// "" (transport), the HTTP status and the request id, plus a short message.
// It never carries the SDK's own error, whose text holds the request URL
// (AccessKeyId, Signature) or the server's string-to-sign.
type APIError = collector.APIError

// sanitize shortens msg, drops the server's string-to-sign and query
// strings of URLs (AccessKeyId, Signature), and masks the secret.
func sanitize(msg, secret string) string {
	if i := strings.Index(msg, sdkerrors.MessageContain); i >= 0 {
		msg = msg[:i]
	}
	return collector.CleanMessage(msg, secret)
}

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
		ae.Timeout, ae.Message = ue.Timeout(), sanitize(collector.URLErrorText(ue), secret)
	// Only now bare context errors (run's, when ctx ended): an http.Client
	// timeout inside a url.Error also matches context.DeadlineExceeded, but
	// it is the request timeout, not the caller's context.
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return collector.ContextAPIError(action, err)
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

// codes: Aliyun's auth codes, Forbidden* and NoPermission, flow control
// (400 Throttling*) and the 5xx codes, besides the rules every cloud shares.
var codes = collector.ErrorCodes{
	Auth: func(e *APIError) bool { return isAuthCode(e.Code) },
	Permission: func(e *APIError) bool {
		return strings.HasPrefix(e.Code, "Forbidden") || e.Code == "NoPermission"
	},
	Throttle:    func(e *APIError) bool { return isThrottleCode(e.Code) },
	Unavailable: func(e *APIError) bool { return e.Code == "ServiceUnavailable" || e.Code == "InternalError" },
}
