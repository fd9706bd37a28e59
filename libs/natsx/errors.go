package natsx

import "errors"

var (
	// ErrInvalidToken is returned by DecodeToken for text EncodeToken cannot produce.
	ErrInvalidToken = errors.New("natsx: invalid subject token")
	// ErrInvalidSubject is returned by the Parse*Subject functions.
	ErrInvalidSubject = errors.New("natsx: invalid subject")
	// ErrInvalidScope is returned for a scope with an empty part.
	ErrInvalidScope = errors.New("natsx: invalid scope")
	// ErrNoMsgID is returned by Publish without a message id: every publish
	// carries a deterministic Nats-Msg-Id.
	ErrNoMsgID = errors.New("natsx: publish without a message id")
	// ErrPayloadTooLarge is returned by Publish for a message above the server's max payload.
	ErrPayloadTooLarge = errors.New("natsx: payload too large")
)
