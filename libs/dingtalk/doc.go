// Package dingtalk is a client of the DingTalk custom-robot webhook
// ("自定义机器人"): signed requests (加签) when a secret is set, the text,
// markdown and actionCard message types, and errcode classification:
//
//	130101, 410100                    rate limited: ErrThrottled (wait and retry)
//	310000, 300001, 400101, 400102,
//	400013, 400106                    configuration: ErrConfig (sign, keyword, IP
//	                                  allow-list, token, robot disabled or gone)
//	460101                            ErrTooLarge (never sent: the body is checked first)
//	other errcodes                    ErrRejected (this message will never go)
//	transport failures, HTTP ≠ 200    ErrTransport (transient)
//
// The webhook URL carries the robot's access token: errors and [Client.Name]
// show it redacted, and neither the token nor the signing secret ever
// appears in an error.
//
// [Channel] adapts a Client to notify.Channel, adding the robot's @mentions
// in the form DingTalk supports (an actionCard cannot @ anyone).
package dingtalk
