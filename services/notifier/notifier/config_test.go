package notifier

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmssync/jmssync/libs/config"
)

func TestConfigFromEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secretB+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load[Config](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(map[string]string{
		"JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK":     "https://oapi.dingtalk.com/robot/send?access_token=" + tokA,
		"JMSSYNC_DINGTALK_ROBOTS_0_SECRET":      secretA,
		"JMSSYNC_DINGTALK_ROBOTS_0_AT_MOBILES":  "13800000000,13900000000",
		"JMSSYNC_DINGTALK_ROBOTS_1_WEBHOOK":     "https://oapi.dingtalk.com/robot/send?access_token=" + tokB,
		"JMSSYNC_DINGTALK_ROBOTS_1_SECRET_FILE": file,
		"JMSSYNC_DINGTALK_ROBOTS_1_AT_ALL":      "true",
		"JMSSYNC_JUMPSERVER_URL":                "https://jms.example.com/",
		"JMSSYNC_NOTIFY_RUN_TIMEOUT":            "10m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Robots) != 2 || !cfg.Robots[0].Enabled || len(cfg.Robots[0].AtMobiles) != 2 || !cfg.Robots[1].AtAll ||
		cfg.Robots[1].Secret.Reveal() != secretB || cfg.MaxRows != 20 || cfg.RateLimit != 18 {
		t.Fatalf("cfg %+v", cfg)
	}
	if got := cfg.ButtonURL(); got != "https://jms.example.com/ui/#/console/assets/assets" {
		t.Fatalf("button %s", got)
	}

	_, err = config.Load[Config](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(map[string]string{
		"JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK": "https://oapi.dingtalk.com/robot/send?token=" + tokA,
		"JMSSYNC_DINGTALK_ROBOTS_0_SECRET":  "not-a-dingtalk-secret",
		"JMSSYNC_NOTIFY_MAX_ROWS":           "0",
		"JMSSYNC_JUMPSERVER_URL":            "jms.example.com",
	}))
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	msg := err.Error()
	for _, want := range []string{"JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK", "JMSSYNC_DINGTALK_ROBOTS_0_SECRET", "JMSSYNC_NOTIFY_MAX_ROWS", "JMSSYNC_JUMPSERVER_URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %s: %s", want, msg)
		}
	}
	for _, secret := range []string{tokA, "not-a-dingtalk-secret"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error leaks %q: %s", secret, msg)
		}
	}
}
