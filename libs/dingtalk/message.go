package dingtalk

import (
	"bytes"
	"encoding/json"
)

// MaxBodyBytes is DingTalk's limit on the JSON body (460101 above it).
const MaxBodyBytes = 20000

// Message types.
const (
	TypeText       = "text"
	TypeMarkdown   = "markdown"
	TypeActionCard = "actionCard"
)

// Message is the JSON body of one webhook call.
type Message struct {
	MsgType    string      `json:"msgtype"`
	Text       *Text       `json:"text,omitempty"`
	Markdown   *Markdown   `json:"markdown,omitempty"`
	ActionCard *ActionCard `json:"actionCard,omitempty"`
	// At is honoured for text and markdown only; for markdown the text must
	// also contain "@<mobile>" for each mobile.
	At *At `json:"at,omitempty"`
}

// Text is a plain-text message.
type Text struct {
	Content string `json:"content"`
}

// Markdown is a markdown message; Title shows in the conversation list.
type Markdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// ActionCard is a card with a single button or several.
type ActionCard struct {
	Title          string   `json:"title"`
	Text           string   `json:"text"`
	SingleTitle    string   `json:"singleTitle,omitempty"`
	SingleURL      string   `json:"singleURL,omitempty"`
	BtnOrientation string   `json:"btnOrientation,omitempty"` // "0" vertical, "1" side by side
	Btns           []Button `json:"btns,omitempty"`
}

// Button is one actionCard button.
type Button struct {
	Title     string `json:"title"`
	ActionURL string `json:"actionURL"`
}

// At names who is notified.
type At struct {
	AtMobiles []string `json:"atMobiles,omitempty"`
	AtUserIDs []string `json:"atUserIds,omitempty"`
	IsAtAll   bool     `json:"isAtAll,omitempty"`
}

// NewText returns a text message.
func NewText(content string) Message {
	return Message{MsgType: TypeText, Text: &Text{Content: content}}
}

// NewMarkdown returns a markdown message.
func NewMarkdown(title, text string) Message {
	return Message{MsgType: TypeMarkdown, Markdown: &Markdown{Title: title, Text: text}}
}

// NewActionCard returns an actionCard with one button.
func NewActionCard(title, text, buttonTitle, buttonURL string) Message {
	return Message{MsgType: TypeActionCard, ActionCard: &ActionCard{
		Title: title, Text: text, BtnOrientation: "0",
		Btns: []Button{{Title: buttonTitle, ActionURL: buttonURL}},
	}}
}

// Encode returns the JSON body as sent (HTML characters are not escaped,
// so the size is the size DingTalk measures).
func (m Message) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Size is the length of the encoded body in bytes.
func (m Message) Size() int {
	b, err := m.Encode()
	if err != nil {
		return 0
	}
	return len(b)
}
