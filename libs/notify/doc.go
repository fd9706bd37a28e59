// Package notify is the channel-neutral side of jms-sync's notifications: a
// [Message] (title, markdown body, optional button, class), the [Channel]
// interface a chat tool implements (DingTalk today: libs/dingtalk), and the
// [Outbox] that delivers a channel's messages within its rate limit —
// alerts ahead of run cards, bursts merged, nothing dropped for rate, kept
// in a [Store] so a restart does not lose what was queued.
//
// Channels classify their failures by wrapping the sentinel errors of this
// package (ErrThrottled, ErrConfig, ErrTooLarge, ErrRejected); anything else
// is treated as transient.
package notify
