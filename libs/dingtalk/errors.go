package dingtalk

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/jmssync/jmssync/libs/notify"
)

var (
	// ErrThrottled: 130101 / 410100, more than 20 messages a minute.
	ErrThrottled = errors.New("dingtalk: rate limited")
	// ErrConfig: the robot cannot deliver until its configuration is fixed.
	ErrConfig = errors.New("dingtalk: robot misconfigured")
	// ErrTooLarge: the body is above MaxBodyBytes.
	ErrTooLarge = errors.New("dingtalk: message too large")
	// ErrRejected: DingTalk refused this message (type, fields, content).
	ErrRejected = errors.New("dingtalk: message rejected")
	// ErrTransport: no answer, or not HTTP 200 (transient).
	ErrTransport = errors.New("dingtalk: transport error")
	// ErrInvalidWebhook: the webhook URL is not http(s) with an access_token.
	ErrInvalidWebhook = errors.New("dingtalk: invalid webhook URL")
)

// Errcodes this package classifies.
const (
	CodeOK             = 0
	CodeSecurity       = 310000 // sign, timestamp, keywords, IP allow-list
	CodeTokenNotExist  = 300001
	CodeSendTooFast    = 130101
	CodeThrottled      = 410100
	CodeTooLong        = 460101
	CodeGroupDissolved = 400013
	CodeTokenMissing   = 400101
	CodeRobotDisabled  = 400102
	CodeRobotNotInChat = 400106
)

// APIError is a non-zero errcode. Its text carries DingTalk's errmsg with
// the robot's token and secret masked, and what to check.
type APIError struct {
	Code int
	Msg  string
	kind error
}

func (e *APIError) Error() string {
	s := "dingtalk: errcode " + strconv.Itoa(e.Code) + ": " + e.Msg
	if h := hint(e.Code); h != "" {
		s += " (" + h + ")"
	}
	return s
}

// Unwrap gives the class (ErrThrottled, ErrConfig…) and its notify
// counterpart, so both errors.Is(err, dingtalk.ErrConfig) and
// errors.Is(err, notify.ErrConfig) hold.
func (e *APIError) Unwrap() []error { return []error{e.kind, notifyKind(e.kind)} }

func classify(code int) error {
	switch code {
	case CodeSendTooFast, CodeThrottled:
		return ErrThrottled
	case CodeSecurity, CodeTokenNotExist, CodeTokenMissing, CodeRobotDisabled, CodeGroupDissolved, CodeRobotNotInChat:
		return ErrConfig
	case CodeTooLong:
		return ErrTooLarge
	}
	return ErrRejected
}

func notifyKind(kind error) error {
	switch kind {
	case ErrThrottled:
		return notify.ErrThrottled
	case ErrConfig:
		return notify.ErrConfig
	case ErrTooLarge:
		return notify.ErrTooLarge
	case ErrRejected:
		return notify.ErrRejected
	}
	return kind
}

func hint(code int) string {
	switch code {
	case CodeSecurity:
		return "robot misconfigured: check the signing secret (加签), the robot's custom keywords and its IP allow-list"
	case CodeTokenNotExist, CodeTokenMissing:
		return "robot misconfigured: the access_token of the webhook URL is unknown to DingTalk"
	case CodeRobotDisabled:
		return "robot misconfigured: the robot is disabled"
	case CodeGroupDissolved:
		return "robot misconfigured: the group was dissolved"
	case CodeRobotNotInChat:
		return "robot misconfigured: the robot is no longer in the group"
	case CodeSendTooFast, CodeThrottled:
		return "more than 20 messages a minute; DingTalk blocks the robot for 10 minutes"
	case CodeTooLong:
		return "the body is above 20000 bytes"
	}
	return ""
}

func tooLarge(size int) error {
	return &APIError{Code: CodeTooLong, Msg: fmt.Sprintf("body of %d bytes not sent", size), kind: ErrTooLarge}
}
