package dingtalk

import (
	"context"
	"strings"

	"github.com/jmssync/jmssync/libs/notify"
)

// ChannelOptions configures a Channel.
type ChannelOptions struct {
	// Name identifies the robot in logs, metrics and queue keys (never the
	// token); the redacted webhook when empty.
	Name string
	// AtMobiles are @-mentioned in every message; AtAll mentions everyone.
	AtMobiles []string
	AtAll     bool
}

// Channel is one robot as a notify.Channel.
//
// Without mentions a message with a button becomes an actionCard and one
// without a button a markdown message. An actionCard cannot @ anyone, so
// when the robot has AtMobiles or AtAll every message is sent as markdown
// instead: the button becomes a link at the end of the text, followed by an
// "@<mobile>" token per mobile (DingTalk notifies a mobile only when its
// token is in the text) and the "at" block. One message, one count against
// the rate limit, and the people are actually notified.
type Channel struct {
	c    *Client
	name string
	at   *At
	tail string // the @ tokens appended to the text
}

// NewChannel wraps c.
func NewChannel(c *Client, o ChannelOptions) *Channel {
	ch := &Channel{c: c, name: o.Name}
	if ch.name == "" {
		ch.name = c.Name()
	}
	var mobiles []string
	for _, m := range o.AtMobiles {
		if m = strings.TrimSpace(m); m != "" {
			mobiles = append(mobiles, m)
		}
	}
	if len(mobiles) > 0 || o.AtAll {
		ch.at = &At{AtMobiles: mobiles, IsAtAll: o.AtAll}
		toks := make([]string, 0, len(mobiles))
		for _, m := range mobiles {
			toks = append(toks, "@"+m)
		}
		ch.tail = strings.Join(toks, " ")
	}
	return ch
}

// Name implements notify.Channel.
func (ch *Channel) Name() string { return ch.name }

// Mentions reports whether the robot @-mentions people.
func (ch *Channel) Mentions() bool { return ch.at != nil }

// Encode is the DingTalk message for m.
func (ch *Channel) Encode(m notify.Message) Message {
	title := m.Title
	if ch.at != nil {
		text := m.Markdown
		if m.Button != nil && m.Button.URL != "" {
			text += "\n\n[" + m.Button.Title + "](" + m.Button.URL + ")"
		}
		if ch.tail != "" {
			text += "\n\n" + ch.tail
		}
		msg := NewMarkdown(title, text)
		at := *ch.at
		msg.At = &at
		return msg
	}
	if m.Button != nil && m.Button.URL != "" {
		return NewActionCard(title, m.Markdown, m.Button.Title, m.Button.URL)
	}
	return NewMarkdown(title, m.Markdown)
}

// Fits implements notify.Channel: the encoded body is within MaxBodyBytes.
func (ch *Channel) Fits(m notify.Message) bool { return ch.Encode(m).Size() <= MaxBodyBytes }

// Send implements notify.Channel.
func (ch *Channel) Send(ctx context.Context, m notify.Message) error {
	return ch.c.Send(ctx, ch.Encode(m))
}
