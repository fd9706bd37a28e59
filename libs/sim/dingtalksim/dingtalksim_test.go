package dingtalksim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is the injectable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.UnixMilli(1700000000000)

const (
	secret = "SEC0123456789abcdef"
	jsonCT = "application/json;charset=utf-8"
)

type reply struct {
	Status  int
	Errcode int
	Errmsg  string
}

// send posts body to u and decodes the DingTalk answer strictly: exactly
// the two keys errcode and errmsg.
func send(t *testing.T, u, contentType, body string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{Status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		return r
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil || len(keys) != 2 || keys["errcode"] == nil || keys["errmsg"] == nil {
		t.Fatalf("body %q is not {errcode, errmsg}", raw)
	}
	if err := json.Unmarshal(keys["errcode"], &r.Errcode); err != nil {
		t.Fatalf("errcode in %q: %v", raw, err)
	}
	if err := json.Unmarshal(keys["errmsg"], &r.Errmsg); err != nil {
		t.Fatalf("errmsg in %q: %v", raw, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	return r
}

func mustCode(t *testing.T, r reply, code int, msg string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("HTTP %d, want 200 (DingTalk answers errors with 200)", r.Status)
	}
	if r.Errcode != code {
		t.Fatalf("errcode %d (%q), want %d", r.Errcode, r.Errmsg, code)
	}
	if msg != "" && r.Errmsg != msg {
		t.Fatalf("errmsg %q, want %q", r.Errmsg, msg)
	}
}

func markdown(title, text string) string {
	b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title, "text": text}})
	return string(b)
}

// oldToolCard is what jms-sync's notifier sends (seed spec, Appendix A).
const oldToolCard = `{"msgtype":"actionCard","actionCard":{"title":"JMS资产同步通知",` +
	`"text":"# JMS资产同步通知\n### **云资产** aliyun - prod\n| 指标 | 数值 |\n|---|---|\n| 总计资产 | 3 个 |",` +
	`"hideAvatar":"0","btnOrientation":"0",` +
	`"btns":[{"title":"查看资产详情","actionURL":"http://192.168.51.45/ui/#/console/assets/assets"}]}}`

func newSim(t *testing.T, opts Options) (*Server, *testClock) {
	t.Helper()
	c := &testClock{t: t0}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	return Start(t, opts), c
}

func TestSignKnownAnswer(t *testing.T) {
	got := Sign("SEC0123456789abcdef", 1700000000000)
	if got != "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk=" {
		t.Fatalf("Sign = %q", got)
	}
	if enc := url.QueryEscape(got); enc != "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D" {
		t.Fatalf("encoded = %q", enc)
	}
}

func TestSignedMessageAccepted(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok", Name: "ops", Secret: secret}}})
	// The spec's vector, sent as a URL built by hand, at exactly that clock time.
	u := s.WebhookURL("tok") + "&timestamp=1700000000000&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
	mustCode(t, send(t, u, "application/json; charset=utf-8", oldToolCard), 0, "ok")

	msgs := s.Accepted("tok")
	if len(msgs) != 1 {
		t.Fatalf("%d accepted, want 1", len(msgs))
	}
	m := msgs[0]
	if m.MsgType != "actionCard" || m.Title != "JMS资产同步通知" || !strings.HasPrefix(m.Text, "# JMS资产同步通知\n") ||
		m.ButtonMode != "btns" || m.BtnOrientation != "0" || m.HideAvatar != "0" || !m.Signed ||
		m.Robot != "ops" || m.Size != len(oldToolCard) || !m.Time.Equal(t0) || m.Body != oldToolCard || m.Seq != 1 {
		t.Fatalf("recorded %+v", m)
	}
	want := []Button{{Title: "查看资产详情", URL: "http://192.168.51.45/ui/#/console/assets/assets"}}
	if !reflect.DeepEqual(m.Buttons, want) {
		t.Fatalf("buttons %+v", m.Buttons)
	}
	if len(s.Rejected("")) != 0 {
		t.Fatalf("rejections %+v", s.Rejected(""))
	}
}

func TestSignRejected(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok", Secret: secret}}})
	base := s.WebhookURL("tok")
	ts := t0.UnixMilli()
	good := url.QueryEscape(Sign(secret, ts))

	// A timestamp near t0 whose sign contains '+', to send it unencoded.
	plusTS := ts
	for !strings.Contains(Sign(secret, plusTS), "+") {
		plusTS++
	}
	cases := map[string]string{
		"no sign, no timestamp": base,
		"no sign":               base + "&timestamp=" + strconv.FormatInt(ts, 10),
		"no timestamp":          base + "&sign=" + good,
		"wrong secret":          base + fmt.Sprintf("&timestamp=%d&sign=%s", ts, url.QueryEscape(Sign("SECother", ts))),
		"sign of another ts":    base + fmt.Sprintf("&timestamp=%d&sign=%s", ts+1, good),
		"unencoded plus":        base + fmt.Sprintf("&timestamp=%d&sign=%s", plusTS, Sign(secret, plusTS)),
		"not URL-decoded twice": base + fmt.Sprintf("&timestamp=%d&sign=%s", ts, url.QueryEscape(good)),
	}
	for name, u := range cases {
		t.Run(name, func(t *testing.T) {
			mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 310000, "sign not match")
		})
	}
	if n := len(s.Accepted("")); n != 0 {
		t.Fatalf("%d accepted", n)
	}
	rej := s.Rejected("tok")
	if len(rej) != len(cases) || rej[0].Errcode != 310000 || rej[0].Reason == "" {
		t.Fatalf("rejections %+v", rej)
	}
	// The same plus-sign case, encoded properly, passes.
	mustCode(t, send(t, base+fmt.Sprintf("&timestamp=%d&sign=%s", plusTS, url.QueryEscape(Sign(secret, plusTS))), jsonCT, markdown("t", "x")), 0, "ok")
	// Unsigned robots ignore sign parameters.
	s.AddRobot(Robot{Token: "plain"})
	mustCode(t, send(t, s.WebhookURL("plain")+"&timestamp=1&sign=bogus", jsonCT, markdown("t", "x")), 0, "ok")
}

func TestTimestampWindow(t *testing.T) {
	s, c := newSim(t, Options{Robots: []Robot{{Token: "tok", Secret: secret}}})
	at := func(ts time.Time) string { return s.SignedWebhookURL("tok", secret, ts) }
	c.Add(5 * time.Hour) // the clock is not at t0: the server must use its own clock
	now := c.Now()
	ok := []time.Time{now, now.Add(-time.Hour), now.Add(time.Hour)}
	for _, ts := range ok {
		mustCode(t, send(t, at(ts), jsonCT, markdown("t", "x")), 0, "ok")
	}
	bad := []time.Time{now.Add(-time.Hour - time.Millisecond), now.Add(time.Hour + time.Millisecond), t0}
	for _, ts := range bad {
		mustCode(t, send(t, at(ts), jsonCT, markdown("t", "x")), 310000, "invalid timestamp")
	}
	// Seconds instead of milliseconds, correctly signed, is still expired.
	sec := now.Unix()
	u := s.WebhookURL("tok") + fmt.Sprintf("&timestamp=%d&sign=%s", sec, url.QueryEscape(Sign(secret, sec)))
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 310000, "invalid timestamp")
	mustCode(t, send(t, s.WebhookURL("tok")+"&timestamp=abc&sign=x", jsonCT, markdown("t", "x")), 310000, "invalid timestamp")

	// Advance on the server moves its clock too.
	s.Advance(2 * time.Hour)
	mustCode(t, send(t, at(now), jsonCT, markdown("t", "x")), 310000, "invalid timestamp")
	mustCode(t, send(t, at(now.Add(2*time.Hour)), jsonCT, markdown("t", "x")), 0, "ok")
}

func TestUnknownToken(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}})
	mustCode(t, send(t, s.URL+"/robot/send", jsonCT, markdown("t", "x")), 300001, "token is not exist")
	mustCode(t, send(t, s.WebhookURL("nope"), jsonCT, markdown("t", "x")), 300001, "token is not exist")
	mustCode(t, send(t, s.URL+"/robot/send?access_token=", jsonCT, markdown("t", "x")), 300001, "token is not exist")
	if r := s.Rejected("nope"); len(r) != 1 || r[0].Errcode != 300001 {
		t.Fatalf("rejections %+v", r)
	}
	s.RemoveRobot("tok")
	mustCode(t, send(t, s.WebhookURL("tok"), jsonCT, markdown("t", "x")), 300001, "")
}

func TestKeywords(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok", Keywords: []string{"JMS", "告警"}}}})
	u := s.WebhookURL("tok")
	mustCode(t, send(t, u, jsonCT, markdown("JMS sync", "body")), 0, "ok")                  // in title
	mustCode(t, send(t, u, jsonCT, markdown("sync", "磁盘告警")), 0, "ok")                      // in text
	mustCode(t, send(t, u, jsonCT, oldToolCard), 0, "ok")                                   // actionCard
	mustCode(t, send(t, u, jsonCT, `{"msgtype":"text","text":{"content":"JMS"}}`), 0, "ok") // text
	mustCode(t, send(t, u, jsonCT, markdown("sync", "no keyword")), 310000, "keywords not in content")
	mustCode(t, send(t, u, jsonCT, markdown("jms", "lower case")), 310000, "keywords not in content")
	mustCode(t, send(t, u, jsonCT, `{"msgtype":"text","text":{"content":"plain"}}`), 310000, "keywords not in content")
	if n := len(s.Accepted("tok")); n != 4 {
		t.Fatalf("%d accepted, want 4", n)
	}
	if err := (Options{Robots: []Robot{{Token: "x", Keywords: strings.Split("a,b,c,d,e,f,g,h,i,j,k", ",")}}}).Validate(); err == nil {
		t.Fatal("11 keywords accepted")
	}
}

func TestIPAllowList(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{
		{Token: "other", AllowIPs: []string{"10.0.0.1", "192.168.0.0/16"}},
		{Token: "loop", AllowIPs: []string{"10.0.0.1", "127.0.0.0/8"}},
		{Token: "exact", AllowIPs: []string{"127.0.0.1"}},
	}})
	mustCode(t, send(t, s.WebhookURL("other"), jsonCT, markdown("t", "x")), 310000, "ip 127.0.0.1 not in whitelist")
	mustCode(t, send(t, s.WebhookURL("loop"), jsonCT, markdown("t", "x")), 0, "ok")
	mustCode(t, send(t, s.WebhookURL("exact"), jsonCT, markdown("t", "x")), 0, "ok")
	if m := s.Accepted("exact"); len(m) != 1 || m[0].RemoteIP != "127.0.0.1" {
		t.Fatalf("accepted %+v", m)
	}
	if err := (Options{Robots: []Robot{{Token: "x", AllowIPs: []string{"not-an-ip"}}}}).Validate(); err == nil {
		t.Fatal("bad allow-list entry accepted")
	}
}

func TestBadJSONAndContentType(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}})
	u := s.WebhookURL("tok")
	for _, body := range []string{`{`, `{"msgtype":"text","text":{"content":"a\nb"}}`[:20], `[]`, `null`, `"x"`, "", "{\"msgtype\":\"text\",\"text\":{\"content\":\"\xff\"}}"} {
		mustCode(t, send(t, u, jsonCT, body), 40035, "缺少参数 json")
	}
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=gbk"} {
		mustCode(t, send(t, u, ct, markdown("t", "x")), 43004, "")
	}
	mustCode(t, send(t, u, "application/json", markdown("t", "x")), 0, "ok")
	mustCode(t, send(t, u, "Application/JSON; charset=UTF-8", markdown("t", "x")), 0, "ok")
}

func TestMsgType(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}})
	u := s.WebhookURL("tok")
	for _, mt := range []string{`"Markdown"`, `"actioncard"`, `"image"`, `""`, `1`} {
		body := `{"msgtype":` + mt + `,"markdown":{"title":"t","text":"x"}}`
		mustCode(t, send(t, u, jsonCT, body), 400105, "不支持的消息类型")
	}
	mustCode(t, send(t, u, jsonCT, `{"markdown":{"title":"t","text":"x"}}`), 400105, "")
	for _, body := range []string{
		`{"msgtype":"text","text":{"content":"hi"}}`,
		`{"msgtype":"link","link":{"title":"t","text":"x","messageUrl":"https://e.example/","picUrl":""}}`,
		`{"msgtype":"feedCard","feedCard":{"links":[{"title":"t","messageURL":"https://e.example/","picURL":"https://e.example/p.png"}]}}`,
	} {
		mustCode(t, send(t, u, jsonCT, body), 0, "ok")
	}
	got := s.Accepted("tok")
	if len(got) != 3 || got[0].Text != "hi" || got[1].MessageURL != "https://e.example/" || got[2].Links[0].PicURL != "https://e.example/p.png" {
		t.Fatalf("accepted %+v", got)
	}
}

func TestMarkdownValidation(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}})
	u := s.WebhookURL("tok")
	cases := []struct {
		body string
		code int
	}{
		{`{"msgtype":"markdown"}`, 400402},
		{`{"msgtype":"markdown","markdown":{"text":"x"}}`, 400402},
		{`{"msgtype":"markdown","markdown":{"title":"","text":"x"}}`, 400402},
		{`{"msgtype":"markdown","markdown":{"title":1,"text":"x"}}`, 400402},
		{`{"msgtype":"markdown","markdown":{"Title":"t","text":"x"}}`, 400402}, // keys are case-sensitive
		{`{"msgtype":"markdown","markdown":{"title":"t"}}`, 400403},
		{`{"msgtype":"markdown","markdown":{"title":"t","text":"  "}}`, 400403},
		{`{"msgtype":"markdown","markdown":"t"}`, 400402},
		{`{"msgtype":"text","text":{}}`, 400403},
		{`{"msgtype":"link","link":{"title":"t","text":"x"}}`, 400402},
		{`{"msgtype":"feedCard","feedCard":{"links":[]}}`, 400402},
		{`{"msgtype":"markdown","markdown":{"title":"t","text":"x"},"at":{"atMobiles":"138"}}`, 400402},
		{`{"msgtype":"markdown","markdown":{"title":"t","text":"x"},"at":{"isAtAll":"true"}}`, 400402},
	}
	for _, c := range cases {
		r := send(t, u, jsonCT, c.body)
		if r.Errcode != c.code || !strings.Contains(r.Errmsg, "缺失，或者参数格式不正确") {
			t.Errorf("%s: got %d %q, want %d", c.body, r.Errcode, r.Errmsg, c.code)
		}
	}
	r := send(t, u, jsonCT, `{"msgtype":"markdown","markdown":{"title":"t"}}`)
	if !strings.Contains(r.Errmsg, "markdown --》 text") {
		t.Errorf("errmsg %q does not name the field", r.Errmsg)
	}
	if n := len(s.Accepted("")); n != 0 {
		t.Fatalf("%d invalid messages accepted", n)
	}
	rej := s.Rejected("tok")
	if len(rej) != len(cases)+1 || rej[0].MsgType != "markdown" || rej[0].Reason == "" {
		t.Fatalf("rejections %+v", rej[0])
	}
}

func TestActionCardValidation(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}})
	u := s.WebhookURL("tok")
	card := func(extra string) string {
		return `{"msgtype":"actionCard","actionCard":{"title":"T","text":"X"` + extra + `}}`
	}
	btns := `,"btns":[{"title":"A","actionURL":"https://e.example/a"},{"title":"B","actionURL":"https://e.example/b"}]`
	good := []string{
		card(`,"singleTitle":"Open","singleURL":"https://e.example/r/1"`),
		card(`,"singleTitle":"Open","singleURL":"https://e.example/r/1","btns":[{"title":""}]`), // btns ignored
		card(btns + `,"btnOrientation":"1"`),
		card(btns + `,"btnOrientation":"0"`),
		card(btns),
	}
	for _, b := range good {
		mustCode(t, send(t, u, jsonCT, b), 0, "ok")
	}
	bad := []struct {
		body string
		code int
	}{
		{card(btns + `,"btnOrientation":"2"`), 400402},
		{card(btns + `,"btnOrientation":0`), 400402},
		{card(btns + `,"btnOrientation":"horizontal"`), 400402},
		{card(``), 400402},
		{card(`,"btns":[]`), 400402},
		{card(`,"singleTitle":"Open"`), 400402},
		{card(`,"singleURL":"https://e.example/"`), 400402},
		{card(`,"btns":[{"title":"A"}]`), 400402},
		{card(`,"btns":[{"title":"A","actionUrl":"https://e.example/a"}]`), 400402},
		{card(`,"btns":[{"actionURL":"https://e.example/a"}]`), 400402},
		{card(`,"btns":{"title":"A","actionURL":"https://e.example/a"}`), 400402},
		{`{"msgtype":"actionCard","actionCard":{"text":"X","singleTitle":"O","singleURL":"u"}}`, 400402},
		{`{"msgtype":"actionCard","actionCard":{"title":"T","singleTitle":"O","singleURL":"u"}}`, 400403},
	}
	for _, c := range bad {
		r := send(t, u, jsonCT, c.body)
		if r.Errcode != c.code {
			t.Errorf("%s: got %d %q, want %d", c.body, r.Errcode, r.Errmsg, c.code)
		}
	}
	got := s.Accepted("tok")
	if len(got) != len(good) {
		t.Fatalf("%d accepted, want %d", len(got), len(good))
	}
	if got[0].ButtonMode != "single" || !reflect.DeepEqual(got[0].Buttons, []Button{{"Open", "https://e.example/r/1"}}) || got[0].BtnsIgnored != 0 {
		t.Errorf("single: %+v", got[0])
	}
	if got[1].ButtonMode != "single" || got[1].BtnsIgnored != 1 || len(got[1].Buttons) != 1 {
		t.Errorf("single with btns: %+v", got[1])
	}
	if got[2].ButtonMode != "btns" || got[2].BtnOrientation != "1" || len(got[2].Buttons) != 2 || got[2].Buttons[1].URL != "https://e.example/b" {
		t.Errorf("btns: %+v", got[2])
	}
	if got[4].BtnOrientation != "" {
		t.Errorf("absent btnOrientation recorded as %q", got[4].BtnOrientation)
	}
}

func TestMentions(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}})
	u := s.WebhookURL("tok")
	md := `{"msgtype":"markdown","markdown":{"title":"[P1]","text":"#### drift @13800000000\n> 3 changes"},` +
		`"at":{"atMobiles":["13800000000","13900000000"],"atUserIds":["user123"],"isAtAll":false}}`
	mustCode(t, send(t, u, jsonCT, md), 0, "ok")
	card := `{"msgtype":"actionCard","actionCard":{"title":"T","text":"@13800000000","singleTitle":"O","singleURL":"https://e.example/"},` +
		`"at":{"atMobiles":["13800000000"],"isAtAll":true}}`
	mustCode(t, send(t, u, jsonCT, card), 0, "ok")
	txt := `{"msgtype":"text","text":{"content":"hello"},"at":{"atUserIds":["u1"]}}`
	mustCode(t, send(t, u, jsonCT, txt), 0, "ok")
	mustCode(t, send(t, u, jsonCT, oldToolCard), 0, "ok")

	got := s.Accepted("tok")
	m := got[0]
	if !reflect.DeepEqual(m.At, At{Mobiles: []string{"13800000000", "13900000000"}, UserIDs: []string{"user123"}}) || !m.AtSent || m.AtIgnored {
		t.Errorf("markdown at: %+v", m)
	}
	if !reflect.DeepEqual(m.MissingMentions, []string{"13900000000", "user123"}) {
		t.Errorf("missing mentions %v", m.MissingMentions)
	}
	if c := got[1]; !c.AtIgnored || !c.At.IsAtAll || len(c.MissingMentions) != 0 {
		t.Errorf("actionCard at: %+v", c)
	}
	if x := got[2]; x.AtIgnored || len(x.MissingMentions) != 0 || x.At.UserIDs[0] != "u1" {
		t.Errorf("text at: %+v", x)
	}
	if o := got[3]; o.AtSent || o.AtIgnored {
		t.Errorf("no at block: %+v", o)
	}
}

func TestSizeLimit(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}})
	u := s.WebhookURL("tok")
	exact := markdown("t", "")
	exact = markdown("t", strings.Repeat("a", 20000-len(exact)))
	if len(exact) != 20000 {
		t.Fatalf("built %d bytes", len(exact))
	}
	mustCode(t, send(t, u, jsonCT, exact), 0, "ok")
	over := markdown("t", strings.Repeat("a", 20001-len(markdown("t", ""))))
	mustCode(t, send(t, u, jsonCT, over), 460101, "message too long, exceed 20000 bytes")
	// Multi-byte text counts in bytes, not characters.
	cn := markdown("t", strings.Repeat("告", 6700)) // 20100 bytes, 6700 characters
	mustCode(t, send(t, u, jsonCT, cn), 460101, "")

	if m := s.Accepted("tok"); len(m) != 1 || m[0].Size != 20000 {
		t.Fatalf("accepted %+v", len(m))
	}
	if r := s.Rejected("tok"); len(r) != 2 || r[0].Size != 20001 || r[0].Errcode != 460101 {
		t.Fatalf("rejected %+v", r)
	}

	small, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}, MaxBytes: 100})
	mustCode(t, send(t, small.WebhookURL("tok"), jsonCT, markdown("t", strings.Repeat("a", 100))), 460101, "")
}

func TestRateLimitAndBlock(t *testing.T) {
	s, c := newSim(t, Options{Robots: []Robot{{Token: "tok"}, {Token: "other"}}})
	u := s.WebhookURL("tok")
	for i := 0; i < 20; i++ {
		mustCode(t, send(t, u, jsonCT, markdown("t", strconv.Itoa(i))), 0, "ok")
		c.Add(time.Second)
	}
	// 21st inside the minute (t0+20s).
	mustCode(t, send(t, u, jsonCT, markdown("t", "21")), 130101, "send too fast, exceed 20 times per minute")
	blockedAt := c.Now()
	// Another robot is not affected.
	mustCode(t, send(t, s.WebhookURL("other"), jsonCT, markdown("t", "x")), 0, "ok")
	// Long after the minute, still blocked.
	c.Add(2 * time.Minute)
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 130101, "")
	c.Add(blockedAt.Add(10*time.Minute - time.Millisecond).Sub(c.Now()))
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 130101, "")
	c.Add(time.Millisecond) // block over
	for i := 0; i < 20; i++ {
		mustCode(t, send(t, u, jsonCT, markdown("t", "again")), 0, "ok")
	}
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 130101, "")

	if n := len(s.Accepted("tok")); n != 40 {
		t.Fatalf("%d accepted, want 40", n)
	}
	rej := s.Rejected("tok")
	if len(rej) != 4 || rej[0].Errcode != 130101 || !strings.Contains(rej[1].Reason, "blocked until") {
		t.Fatalf("rejections %+v", rej)
	}
}

func TestRateLimitRollingWindow(t *testing.T) {
	s, c := newSim(t, Options{Robots: []Robot{{Token: "tok"}}, RateLimit: 3, RateWindow: time.Minute, BlockFor: 5 * time.Minute})
	u := s.WebhookURL("tok")
	mustCode(t, send(t, u, jsonCT, markdown("t", "1")), 0, "ok")
	mustCode(t, send(t, u, jsonCT, markdown("t", "2")), 0, "ok")
	c.Add(30 * time.Second)
	mustCode(t, send(t, u, jsonCT, markdown("t", "3")), 0, "ok")
	// Invalid messages do not count.
	mustCode(t, send(t, u, jsonCT, markdown("", "x")), 400402, "")
	c.Add(30 * time.Second) // the first two leave the window: a rolling, not a calendar, minute
	mustCode(t, send(t, u, jsonCT, markdown("t", "4")), 0, "ok")
	mustCode(t, send(t, u, jsonCT, markdown("t", "5")), 0, "ok")
	mustCode(t, send(t, u, jsonCT, markdown("t", "6")), 130101, "")
	c.Add(5*time.Minute - time.Millisecond)
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 130101, "")
	c.Add(time.Millisecond)
	mustCode(t, send(t, u, jsonCT, markdown("t", "7")), 0, "ok")
}

func TestThrottle410100(t *testing.T) {
	s, c := newSim(t, Options{Robots: []Robot{{Token: "tok"}}, RateLimit: 2, BlockFor: time.Minute, ThrottleErrcode: 410100})
	u := s.WebhookURL("tok")
	mustCode(t, send(t, u, jsonCT, markdown("t", "1")), 0, "ok")
	mustCode(t, send(t, u, jsonCT, markdown("t", "2")), 0, "ok")
	mustCode(t, send(t, u, jsonCT, markdown("t", "3")), 410100, "发送速度太快而限流")
	c.Add(time.Minute)
	mustCode(t, send(t, u, jsonCT, markdown("t", "4")), 0, "ok")
}

func TestRateLimitConcurrent(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}})
	u := s.WebhookURL("tok")
	// Own transport, closed before the server: connections dialled but
	// never used would otherwise hold up the server's graceful shutdown.
	tr := &http.Transport{}
	cl := &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	var wg sync.WaitGroup
	codes := make(chan int, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := cl.Post(u, jsonCT, strings.NewReader(markdown("t", "x")))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var r struct{ Errcode int }
			_ = json.NewDecoder(resp.Body).Decode(&r)
			codes <- r.Errcode
		}()
	}
	wg.Wait()
	close(codes)
	n := map[int]int{}
	for c := range codes {
		n[c]++
	}
	if n[0] != 20 || n[130101] != 20 {
		t.Fatalf("codes %v, want 20 ok and 20 throttled", n)
	}
}

func TestForcedErrcodes(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok", Secret: secret}, {Token: "gone", ForceErrcode: 400013}, {Token: "b"}}})
	u := s.SignedWebhookURL("tok", secret, t0)
	s.SetFault("tok", 400102)
	mustCode(t, send(t, u, jsonCT, oldToolCard), 400102, "机器人已停用")
	// Security checks still come first.
	mustCode(t, send(t, s.WebhookURL("tok"), jsonCT, oldToolCard), 310000, "sign not match")
	s.SetFault("tok", 0)
	mustCode(t, send(t, u, jsonCT, oldToolCard), 0, "ok")
	mustCode(t, send(t, s.WebhookURL("gone"), jsonCT, oldToolCard), 400013, "群已被解散")

	s.SetFaultSpec("b", Fault{Errcode: 430102, Times: 2})
	mustCode(t, send(t, s.WebhookURL("b"), jsonCT, oldToolCard), 430102, "含有不合适的文本")
	mustCode(t, send(t, s.WebhookURL("b"), jsonCT, oldToolCard), 430102, "")
	mustCode(t, send(t, s.WebhookURL("b"), jsonCT, oldToolCard), 0, "ok")
	s.SetFaultSpec("*", Fault{Errcode: 400106, Errmsg: "custom"})
	mustCode(t, send(t, s.WebhookURL("b"), jsonCT, oldToolCard), 400106, "custom")
	s.SetFaultSpec("b", Fault{Errcode: 400102})
	mustCode(t, send(t, s.WebhookURL("b"), jsonCT, oldToolCard), 400102, "") // own fault wins over "*"
	s.ClearFaults()
	mustCode(t, send(t, s.WebhookURL("b"), jsonCT, oldToolCard), 0, "ok")
	if r := s.Rejected("b"); len(r) != 4 || r[0].Reason == "" {
		t.Fatalf("rejections %+v", r)
	}
}

func TestTransportFaults(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}})
	u := s.WebhookURL("tok")
	s.SetFaultSpec("tok", Fault{HTTPStatus: 503, Times: 1})
	if r := send(t, u, jsonCT, markdown("t", "x")); r.Status != 503 {
		t.Fatalf("status %d, want 503", r.Status)
	}
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 0, "ok") // retry succeeds

	s.SetFaultSpec("tok", Fault{Reset: true, Times: 1})
	_, err := http.Post(u, jsonCT, strings.NewReader(markdown("t", "x")))
	if err == nil {
		t.Fatal("connection reset fault: request succeeded")
	}
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 0, "ok")

	s.SetFaultSpec("tok", Fault{Latency: 60 * time.Millisecond, Times: 1})
	start := time.Now()
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 0, "ok")
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("answered after %s, want ≥ 60ms", d)
	}
	if len(s.Faults()) != 0 {
		t.Fatalf("faults left: %+v", s.Faults())
	}
	// A client timeout shorter than the latency fails.
	s.SetFaultSpec("tok", Fault{Latency: 2 * time.Second})
	cl := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := cl.Post(u, jsonCT, strings.NewReader(markdown("t", "x"))); err == nil {
		t.Fatal("latency fault did not trip a short client timeout")
	}
	s.ClearFaults()

	rej := s.Rejected("tok")
	if len(rej) != 2 || rej[0].HTTPStatus != 503 || !strings.Contains(rej[1].Reason, "reset") {
		t.Fatalf("rejections %+v", rej)
	}
}

func TestHTTP200ForAPIErrors(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok", Secret: secret, Keywords: []string{"k"}}}, RateLimit: 1})
	signed := s.SignedWebhookURL("tok", secret, t0)
	cases := []struct {
		u, ct, body string
		code        int
	}{
		{s.WebhookURL("x"), jsonCT, markdown("k", "k"), 300001},
		{s.WebhookURL("tok"), jsonCT, markdown("k", "k"), 310000},
		{signed, jsonCT, markdown("t", "x"), 310000},
		{signed, jsonCT, `{`, 40035},
		{signed, "text/plain", markdown("k", "k"), 43004},
		{signed, jsonCT, `{"msgtype":"image"}`, 400105},
		{signed, jsonCT, `{"msgtype":"markdown","markdown":{"title":"k"}}`, 400403},
		{signed, jsonCT, markdown("k", strings.Repeat("k", 20000)), 460101},
		{signed, jsonCT, markdown("k", "k"), 0},
		{signed, jsonCT, markdown("k", "k"), 130101},
	}
	for _, c := range cases {
		mustCode(t, send(t, c.u, c.ct, c.body), c.code, "") // mustCode checks HTTP 200 and the body shape
	}
	// Non-API mistakes are not 200.
	resp, err := http.Get(s.WebhookURL("tok"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /robot/send: %d", resp.StatusCode)
	}
	resp, err = http.Post(s.URL+"/robot/other", jsonCT, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /robot/other: %d", resp.StatusCode)
	}
}

func TestServeHTTPDirect(t *testing.T) {
	// New works as a plain http.Handler (the lead mounts it in services/sim).
	s := New(Options{Robots: []Robot{{Token: "tok", AllowIPs: []string{"192.0.2.0/24"}}}})
	h := http.Handler(s)
	rec := newRecorder()
	req, _ := http.NewRequest(http.MethodPost, "/robot/send?access_token=tok", strings.NewReader(markdown("t", "x")))
	req.Header.Set("Content-Type", jsonCT)
	req.RemoteAddr = "192.0.2.7:4000"
	h.ServeHTTP(rec, req)
	if rec.code != 200 || !strings.Contains(rec.buf.String(), `"errcode":0`) {
		t.Fatalf("%d %s", rec.code, rec.buf.String())
	}
	if s.Accepted("tok")[0].RemoteIP != "192.0.2.7" {
		t.Fatal("remote IP not recorded")
	}
}

type recorder struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func newRecorder() *recorder            { return &recorder{h: http.Header{}} }
func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(c int)   { r.code = c }
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return r.buf.Write(b)
}

func control(t *testing.T, method, u, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
	}
	return resp.StatusCode
}

func TestControlAPI(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}})
	api := s.URL + "/_sim/"

	// Add a robot over HTTP and send through it.
	if code := control(t, "POST", api+"robots", `{"token":"new","name":"N","keywords":["k"]}`, nil); code != 200 {
		t.Fatalf("POST robots: %d", code)
	}
	if code := control(t, "POST", api+"robots", `{"token":""}`, nil); code != 400 {
		t.Fatalf("POST bad robot: %d", code)
	}
	var robots []Robot
	control(t, "GET", api+"robots", "", &robots)
	if len(robots) != 2 || robots[0].Token != "new" || robots[0].Keywords[0] != "k" {
		t.Fatalf("robots %+v", robots)
	}
	mustCode(t, send(t, s.WebhookURL("new"), jsonCT, markdown("k", "x")), 0, "ok")
	mustCode(t, send(t, s.WebhookURL("tok"), jsonCT, markdown("t", "x")), 0, "ok")

	// Faults over HTTP.
	if code := control(t, "PUT", api+"faults", `{"token":"tok","errcode":400102,"times":1}`, nil); code != 200 {
		t.Fatalf("PUT faults: %d", code)
	}
	if code := control(t, "PUT", api+"faults", `{"errcode":1}`, nil); code != 400 {
		t.Fatalf("PUT fault without token: %d", code)
	}
	var faults []faultJSON
	control(t, "GET", api+"faults", "", &faults)
	if len(faults) != 1 || faults[0].Errcode != 400102 || faults[0].Times != 1 {
		t.Fatalf("faults %+v", faults)
	}
	mustCode(t, send(t, s.WebhookURL("tok"), jsonCT, markdown("t", "x")), 400102, "")

	var msgs []Message
	control(t, "GET", api+"messages?token=new", "", &msgs)
	if len(msgs) != 1 || msgs[0].Token != "new" || msgs[0].Title != "k" || msgs[0].MsgType != "markdown" || msgs[0].Robot != "N" {
		t.Fatalf("messages %+v", msgs)
	}
	control(t, "GET", api+"messages", "", &msgs)
	if len(msgs) != 2 {
		t.Fatalf("all messages: %d", len(msgs))
	}
	var rejs []Rejection
	control(t, "GET", api+"rejections?token=tok", "", &rejs)
	if len(rejs) != 1 || rejs[0].Errcode != 400102 || rejs[0].Errmsg != "机器人已停用" {
		t.Fatalf("rejections %+v", rejs)
	}

	// Clock.
	var clk map[string]string
	control(t, "POST", api+"clock", `{"advance":"10m"}`, &clk)
	if clk["now"] != t0.Add(10*time.Minute).Format(time.RFC3339Nano) || !s.Now().Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("clock %v", clk)
	}

	var counts map[string]int64
	control(t, "GET", api+"requests", "", &counts)
	if counts["POST /robot/send"] != 3 {
		t.Fatalf("request counts %v", counts)
	}

	// Reset.
	control(t, "PUT", api+"faults", `{"token":"*","http_status":503}`, nil)
	if code := control(t, "POST", api+"reset", "", nil); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	control(t, "GET", api+"messages", "", &msgs)
	control(t, "GET", api+"rejections", "", &rejs)
	control(t, "GET", api+"faults", "", &faults)
	if len(msgs) != 0 || len(rejs) != 0 || len(faults) != 0 || !s.Now().Equal(t0) {
		t.Fatalf("after reset: %d messages, %d rejections, %d faults, now %s", len(msgs), len(rejs), len(faults), s.Now())
	}
	mustCode(t, send(t, s.WebhookURL("new"), jsonCT, markdown("k", "x")), 0, "ok") // robots survive reset

	if code := control(t, "GET", api+"reset", "", nil); code != 405 {
		t.Fatalf("GET reset: %d", code)
	}
	if code := control(t, "GET", api+"nope", "", nil); code != 404 {
		t.Fatalf("unknown endpoint: %d", code)
	}
}

func TestResetClearsRateState(t *testing.T) {
	s, _ := newSim(t, Options{Robots: []Robot{{Token: "tok"}}, RateLimit: 1})
	u := s.WebhookURL("tok")
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 0, "ok")
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 130101, "")
	s.Reset()
	mustCode(t, send(t, u, jsonCT, markdown("t", "x")), 0, "ok")
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{Robots: []Robot{{Token: "a"}, {Token: "a"}}}).Validate(); err == nil {
		t.Fatal("duplicate token accepted")
	}
	if err := (Options{Robots: []Robot{{Token: ""}}}).Validate(); err == nil {
		t.Fatal("empty token accepted")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("New did not panic on invalid options")
		}
	}()
	New(Options{Robots: []Robot{{Token: ""}}})
}

func TestListen(t *testing.T) {
	s := New(Options{Robots: []Robot{{Token: "tok"}}})
	if err := s.Listen("0.0.0.0:0"); err == nil {
		t.Fatal("listened on a non-loopback address")
	}
	if err := s.Listen(""); err != nil {
		t.Fatal(err)
	}
	mustCode(t, send(t, s.WebhookURL("tok"), jsonCT, markdown("t", "x")), 0, "ok")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Post(s.WebhookURL("tok"), jsonCT, strings.NewReader("{}")); err == nil {
		t.Fatal("server still serving after Close")
	}
}
