package dingtalk

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/notify"
	"github.com/jmssync/jmssync/libs/sim/dingtalksim"
)

const (
	token  = "tok0123456789abcdef0123456789"
	secret = "SECa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
)

func TestSignKnownAnswer(t *testing.T) {
	got := Sign("SEC0123456789abcdef", 1700000000000)
	if got != "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk=" {
		t.Fatalf("sign = %s", got)
	}
	if e := url.QueryEscape(got); e != "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D" {
		t.Fatalf("escaped = %s", e)
	}
}

func newClient(t *testing.T, sim *dingtalksim.Server, sec string) *Client {
	t.Helper()
	c, err := New(Options{Webhook: sim.WebhookURL(token), Secret: sec, Now: sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignedMessageAccepted(t *testing.T) {
	sim := dingtalksim.Start(t, dingtalksim.Options{Robots: []dingtalksim.Robot{{Token: token, Secret: secret}}})
	c := newClient(t, sim, secret)
	if err := c.Send(t.Context(), NewActionCard("JMS资产同步通知", "# hi", "查看资产详情", "https://jms.example/ui/")); err != nil {
		t.Fatal(err)
	}
	got := sim.Accepted(token)
	if len(got) != 1 || !got[0].Signed || got[0].MsgType != TypeActionCard || got[0].Buttons[0].URL != "https://jms.example/ui/" {
		t.Fatalf("accepted = %+v", got)
	}
}

func TestErrorsAreClassifiedAndSecretFree(t *testing.T) {
	sim := dingtalksim.Start(t, dingtalksim.Options{Robots: []dingtalksim.Robot{{Token: token, Secret: secret}}})
	tests := []struct {
		name  string
		setup func() *Client
		want  error
		says  string
	}{
		{"wrong secret", func() *Client { return newClient(t, sim, "SECwrongwrongwrongwrong0000") }, ErrConfig, "signing secret"},
		{"no secret", func() *Client { return newClient(t, sim, "") }, ErrConfig, "signing secret"},
		{"unknown token", func() *Client {
			c, err := New(Options{Webhook: sim.WebhookURL("unknown-token-0123456789"), Secret: secret})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, ErrConfig, "access_token"},
		{"transport", func() *Client {
			c, err := New(Options{Webhook: "http://127.0.0.1:1/robot/send?access_token=" + token, Secret: secret, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, ErrTransport, "post"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.setup().Send(t.Context(), NewMarkdown("t", "text"))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == ErrConfig && !errors.Is(err, notify.ErrConfig) {
				t.Fatalf("%v does not wrap notify.ErrConfig", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.says) {
				t.Errorf("error %q does not say %q", msg, tt.says)
			}
			for _, s := range []string{token, secret, "SECwrongwrong", "unknown-token-0123456789", "sign="} {
				if strings.Contains(msg, s) {
					t.Errorf("error leaks %q: %s", s, msg)
				}
			}
		})
	}
}

func TestThrottleAndForcedCodes(t *testing.T) {
	sim := dingtalksim.Start(t, dingtalksim.Options{Robots: []dingtalksim.Robot{{Token: token}}, RateLimit: 1})
	c := newClient(t, sim, "")
	if err := c.Send(t.Context(), NewText("one")); err != nil {
		t.Fatal(err)
	}
	err := c.Send(t.Context(), NewText("two"))
	if !errors.Is(err, ErrThrottled) || !errors.Is(err, notify.ErrThrottled) {
		t.Fatalf("err = %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != CodeSendTooFast {
		t.Fatalf("err = %#v", err)
	}
	sim.Reset()
	sim.SetFault(token, 410100)
	if err := c.Send(t.Context(), NewText("x")); !errors.Is(err, ErrThrottled) {
		t.Fatalf("410100: %v", err)
	}
	sim.SetFault(token, 430102)
	if err := c.Send(t.Context(), NewText("x")); !errors.Is(err, ErrRejected) {
		t.Fatalf("430102: %v", err)
	}
	sim.SetFault(token, 400102)
	if err := c.Send(t.Context(), NewText("x")); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("400102: %v", err)
	}
}

func TestTooLargeIsNotSent(t *testing.T) {
	sim := dingtalksim.Start(t, dingtalksim.Options{Robots: []dingtalksim.Robot{{Token: token}}})
	c := newClient(t, sim, "")
	err := c.Send(t.Context(), NewMarkdown("t", strings.Repeat("资", 7000)))
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, notify.ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if n := len(sim.Rejected("")) + len(sim.Accepted("")); n != 0 {
		t.Fatalf("%d requests reached the robot", n)
	}
}

func TestInvalidWebhook(t *testing.T) {
	for _, w := range []string{"", "ftp://x/robot/send?access_token=a", "https://oapi.dingtalk.com/robot/send", "::"} {
		if _, err := New(Options{Webhook: w}); !errors.Is(err, ErrInvalidWebhook) {
			t.Errorf("%q: err = %v", w, err)
		}
	}
	if got := RedactWebhook("https://oapi.dingtalk.com/robot/send?access_token=" + token); strings.Contains(got, token) {
		t.Errorf("RedactWebhook = %s", got)
	}
}

func TestChannelMentions(t *testing.T) {
	sim := dingtalksim.Start(t, dingtalksim.Options{Robots: []dingtalksim.Robot{{Token: token, Secret: secret}}})
	c := newClient(t, sim, secret)
	card := notify.Message{ID: "a", Class: notify.ClassRun, Title: "JMS资产同步通知", Markdown: "# JMS资产同步通知",
		Button: &notify.Button{Title: "查看资产详情", URL: "https://jms.example/ui/#/console/assets/assets"}}

	plain := NewChannel(c, ChannelOptions{Name: "ops"})
	withAt := NewChannel(c, ChannelOptions{Name: "oncall", AtMobiles: []string{"13800000000", " 13900000000 "}})
	all := NewChannel(c, ChannelOptions{AtAll: true})
	for _, ch := range []*Channel{plain, withAt, all} {
		if err := ch.Send(t.Context(), card); err != nil {
			t.Fatal(err)
		}
	}
	got := sim.Accepted(token)
	if len(got) != 3 {
		t.Fatalf("accepted %d", len(got))
	}
	if got[0].MsgType != TypeActionCard || got[0].AtSent {
		t.Errorf("plain: %+v", got[0])
	}
	m := got[1]
	if m.MsgType != TypeMarkdown || len(m.At.Mobiles) != 2 || len(m.MissingMentions) != 0 || m.AtIgnored ||
		!strings.Contains(m.Text, "(https://jms.example/ui/#/console/assets/assets)") {
		t.Errorf("mentions: %+v", m)
	}
	if !got[2].At.IsAtAll || got[2].MsgType != TypeMarkdown {
		t.Errorf("at all: %+v", got[2])
	}
	if plain.Name() != "ops" || all.Name() == "" || strings.Contains(all.Name(), token) {
		t.Errorf("names %q %q", plain.Name(), all.Name())
	}
}
