package main

import "testing"

// What the results record of jms-sync's environment: JMSSYNC_* and the
// Go memory knobs, every secret-looking value hidden.
func TestRedactEnv(t *testing.T) {
	got := redactEnv([]string{"PATH=/bin", "GOGC=50", "GOMEMLIMIT=1GiB", "JMSSYNC_INTERVAL=1h",
		"JMSSYNC_NATS_PASSWORD=pw", "JMSSYNC_NATS_TOKEN=tk", "JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET=s",
		"JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK=https://oapi.dingtalk.com/robot/send?access_token=t"})
	want := map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB", "JMSSYNC_INTERVAL": "1h",
		"JMSSYNC_NATS_PASSWORD": "(redacted)", "JMSSYNC_NATS_TOKEN": "(redacted)",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET": "(redacted)", "JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK": "(redacted)"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}
