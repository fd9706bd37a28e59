package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHelpDocumentsEveryKnob(t *testing.T) {
	var out bytes.Buffer
	_, err := parseFlags([]string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, f := range []string{"jumpserver-addr", "jms-version", "jms-root-node", "jms-licensed", "jms-asset-cap",
		"jms-latency", "jms-per-item", "jms-workers", "jms-error-rate", "jms-throttle-per-minute", "jms-drop-rate",
		"jms-case-insensitive-names", "seed", "per-region", "cloud-latency", "cloud-throttle-every", "cloud-fail-region",
		"cloud-fail-page", "cloud-list-permission", "huawei-iam", "dingtalk-rate", "dingtalk-block"} {
		if !strings.Contains(out.String(), "-"+f) {
			t.Errorf("--help does not document -%s", f)
		}
	}
}

func TestBadFlagsAreAllReported(t *testing.T) {
	_, err := parseFlags([]string{"-jms-version", "3.0", "-cloud-list-permission", "maybe", "-jms-error-rate", "2"}, io.Discard)
	if err == nil {
		t.Fatal("bad flags accepted")
	}
	for _, want := range []string{"-jms-version", "-cloud-list-permission", "-jms-error-rate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestServesAllFourWithSeededInventory(t *testing.T) {
	cfg, err := parseFlags([]string{"-jumpserver-addr", "127.0.0.1:0", "-aliyun-addr", "127.0.0.1:0",
		"-huawei-addr", "127.0.0.1:0", "-dingtalk-addr", "127.0.0.1:0", "-per-region", "30", "-jms-handmade-hosts", "3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.close() })

	var out bytes.Buffer
	s.describe(&out, cfg)
	for _, u := range []string{s.jms.URL, s.aliyun.URL, s.huawei.URL, s.dingtalk.URL} {
		if !strings.Contains(out.String(), u) {
			t.Errorf("the banner does not say where %s is:\n%s", u, out.String())
		}
	}
	if strings.Contains(out.String(), cfg.JMSSecret) || strings.Contains(out.String(), cfg.AliyunSecret) {
		t.Error("the banner prints a secret")
	}

	for _, c := range []struct{ base, region string }{{s.aliyun.URL, "cn-beijing"}, {s.huawei.URL, "cn-east-3"}} {
		var list []json.RawMessage
		getJSON(t, c.base+"/_sim/instances?region="+c.region, &list)
		if len(list) != 30 {
			t.Errorf("%s %s: %d instances, want 30", c.base, c.region, len(list))
		}
	}
	if n := s.jms.AssetCount("root"); n != 3 {
		t.Errorf("JumpServer holds %d assets, want the 3 hand-made ones", n)
	}

	// A signed DingTalk message is accepted by the configured robot.
	url := s.dingtalk.SignedWebhookURL(cfg.DingTalkToken, cfg.DingTalkSecret, time.Now())
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"msgtype":"markdown","markdown":{"title":"t","text":"hello"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Errcode int }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if body.Errcode != 0 || len(s.dingtalk.Accepted(cfg.DingTalkToken)) != 1 {
		t.Fatalf("signed message: errcode %d, accepted %d", body.Errcode, len(s.dingtalk.Accepted(cfg.DingTalkToken)))
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
