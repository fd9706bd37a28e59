package notify

import "errors"

var (
	// ErrThrottled: the channel refused the message for rate; wait and retry.
	ErrThrottled = errors.New("notify: throttled by the channel")
	// ErrConfig: the channel is misconfigured (bad token, signature, keyword,
	// allow-list…). Nothing can be delivered until an operator fixes it;
	// messages stay queued.
	ErrConfig = errors.New("notify: channel misconfigured")
	// ErrTooLarge: the message is above the channel's size limit.
	ErrTooLarge = errors.New("notify: message too large")
	// ErrRejected: the channel will never accept this message (content
	// rejected); other messages may still go through.
	ErrRejected = errors.New("notify: message rejected")
)
