package app

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/logging"
)

func TestMain(m *testing.M) {
	// The Aliyun SDK sends even loopback traffic through a configured proxy.
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

// TestDemoSyncsEverything is the README's first command: simulators, the
// embedded JetStream and every service in one process, ending with the
// hosts in JumpServer and a card on DingTalk.
func TestDemoSyncsEverything(t *testing.T) {
	var out bytes.Buffer
	res, err := Demo(t.Context(), DemoOptions{PerRegion: 40, Timeout: 2 * time.Minute}, &out, logging.New(io.Discard, "error", "demo-test"))
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if res.Instances != 160 {
		t.Fatalf("instances %d, want 160", res.Instances)
	}
	// A few generated instances have no private address or are starting;
	// everything else must be in JumpServer, under the two cloud nodes.
	if res.Hosts < 150 || res.Hosts > 160 {
		t.Fatalf("JumpServer holds %d hosts for 160 instances", res.Hosts)
	}
	sum := 0
	for node, n := range res.ByNode {
		if !strings.HasPrefix(node, "/DEFAULT/阿里云/演示阿里云") && !strings.HasPrefix(node, "/DEFAULT/华为云/演示华为云") {
			t.Errorf("hosts under an unexpected node %q", node)
		}
		sum += n
	}
	if sum != res.Hosts {
		t.Errorf("%d hosts counted under nodes, %d hosts in all", sum, res.Hosts)
	}
	if res.Cards == 0 {
		t.Fatal("DingTalk received no card")
	}
	res.Print(&out)
	if !strings.Contains(out.String(), "JumpServer now holds") {
		t.Fatalf("summary missing:\n%s", out.String())
	}
}

func TestLoadConfigsListsEveryProblem(t *testing.T) {
	_, err := LoadConfigs(map[string]string{
		"JMSSYNC_ALIYUN_ACCOUNTS_0_NAME":       "a",
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_SECRET": "top-secret-value",
	})
	if err == nil {
		t.Fatal("an incomplete configuration was accepted")
	}
	for _, want := range []string{"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID", "JMSSYNC_JUMPSERVER_URL", "JMSSYNC_INSTALL_ID"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "top-secret-value") {
		t.Fatal("the error shows a secret")
	}
}
