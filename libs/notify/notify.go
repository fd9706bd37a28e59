package notify

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Class orders messages: every queued alert goes out before any run card,
// and only messages of one class are merged together.
type Class string

const (
	ClassAlert Class = "alert"
	ClassRun   Class = "run"
)

func (c Class) rank() int {
	if c == ClassAlert {
		return 0
	}
	return 1
}

// Button is a link shown as a button where the channel has buttons.
type Button struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Message is one notification, independent of the chat tool.
type Message struct {
	// ID is stable for the same logical notification (the outbox key; a
	// second Enqueue of a queued ID replaces nothing).
	ID    string `json:"id"`
	Class Class  `json:"class"`
	// Title is the short line shown in the conversation list and pushes.
	Title string `json:"title"`
	// Markdown is the body (headings, bold, lists, quotes, tables, links).
	Markdown string  `json:"markdown"`
	Button   *Button `json:"button,omitempty"`
	// Parts is how many notifications a merged message carries (0 or 1 for
	// one).
	Parts int `json:"parts,omitempty"`
}

// Channel delivers messages to one destination (one robot, one webhook).
// Send must not retry throttling itself: it returns an error wrapping
// ErrThrottled and the Outbox waits. Errors must never contain a secret.
type Channel interface {
	// Name identifies the destination in logs, metrics and keys (no secret).
	Name() string
	Send(ctx context.Context, m Message) error
	// Fits reports whether m, as this channel would send it (mentions
	// included), is within the channel's size limit.
	Fits(m Message) bool
}

// Merge joins messages of one class into one, in order. The body keeps each
// part whole, separated by a rule; the button is kept when every part has
// the same one.
func Merge(ms []Message) Message {
	if len(ms) == 1 {
		return ms[0]
	}
	parts := 0
	var ids []string
	bodies := make([]string, 0, len(ms))
	button := ms[0].Button
	for _, m := range ms {
		parts += max(m.Parts, 1)
		ids = append(ids, m.ID)
		bodies = append(bodies, m.Markdown)
		if button != nil && (m.Button == nil || *m.Button != *button) {
			button = nil
		}
	}
	title := "jms-sync: " + strconv.Itoa(parts) + " 条同步通知"
	if ms[0].Class == ClassAlert {
		title = "jms-sync: " + strconv.Itoa(parts) + " 条告警"
	}
	return Message{
		ID: strings.Join(ids, "+"), Class: ms[0].Class, Title: title,
		Markdown: strings.Join(bodies, "\n\n---\n\n"), Button: button, Parts: parts,
	}
}

// Clock is the time source of the Outbox (injectable in tests).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SystemClock is the real clock.
func SystemClock() Clock { return systemClock{} }
