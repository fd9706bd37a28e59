package app

import (
	"bytes"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/jmssync/jmssync/libs/logging"
)

func validate(t *testing.T, vars map[string]string, offline bool) (*ValidateResult, string) {
	t.Helper()
	r := Validate(t.Context(), &Environment{Vars: vars}, ValidateOptions{Offline: offline, Log: logging.New(io.Discard, "error", "test")})
	var b bytes.Buffer
	r.Print(&b)
	return r, b.String()
}

// TestValidateListsEveryProblem: a broken configuration gets one line per
// problem, each naming its variable, with no secret and no network call.
func TestValidateListsEveryProblem(t *testing.T) {
	r, out := validate(t, map[string]string{
		"JMSSYNC_JUMPSERVER_URL":                      "ftp://jump.example",
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_SECRET":        "top-secret-value",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_NAME":              "prod",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET": "aliyun-secret-value",
		"JMSSYNC_SYNC_ABSENT_PASSES":                  "0",
	}, false)
	if r.ExitCode() != ExitUsage {
		t.Fatalf("exit %d, want %d\n%s", r.ExitCode(), ExitUsage, out)
	}
	for _, want := range []string{"JMSSYNC_INSTALL_ID", "JMSSYNC_JUMPSERVER_URL", "JMSSYNC_JUMPSERVER_ACCESS_KEY_ID",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID", "JMSSYNC_SYNC_ABSENT_PASSES"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report does not name %s:\n%s", want, out)
		}
	}
	if strings.Count(out, "JMSSYNC_INSTALL_ID") != 1 {
		t.Errorf("a problem reported twice:\n%s", out)
	}
	if strings.Contains(out, "secret-value") {
		t.Fatalf("the report shows a secret:\n%s", out)
	}
	if len(r.Network) != 0 {
		t.Errorf("network problems for a configuration that does not load: %v", r.Network)
	}
}

// TestValidateChecksCredentials: against the simulators, a good
// configuration passes; wrong JumpServer and Aliyun keys are both
// reported (exit 1) while Huawei still checks out; -offline skips them.
func TestValidateChecksCredentials(t *testing.T) {
	st := startSimStack(t, 1)
	r, out := validate(t, st.vars, false)
	if r.ExitCode() != ExitOK || len(r.OK) != 4 {
		t.Fatalf("good configuration: exit %d\n%s", r.ExitCode(), out)
	}
	if !strings.Contains(out, demoAliyunAccount) || !strings.Contains(out, demoHuaweiDomain) || !strings.Contains(out, "DingTalk") {
		t.Errorf("the report misses a check:\n%s", out)
	}

	bad := maps.Clone(st.vars)
	bad["JMSSYNC_JUMPSERVER_ACCESS_KEY_SECRET"] = "wrong-jumpserver-secret"
	bad["JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET"] = "wrong-aliyun-secret"
	r, out = validate(t, bad, false)
	if r.ExitCode() != ExitFailed || len(r.Network) != 2 {
		t.Fatalf("wrong keys: exit %d, %d network problems\n%s", r.ExitCode(), len(r.Network), out)
	}
	if !strings.Contains(out, "problem: JumpServer") || !strings.Contains(out, "problem: aliyun account demo-aliyun") ||
		!strings.Contains(out, "ok: huaweicloud account demo-huawei") {
		t.Errorf("unexpected report:\n%s", out)
	}
	if strings.Contains(out, "wrong-jumpserver-secret") || strings.Contains(out, "wrong-aliyun-secret") {
		t.Fatalf("the report shows a secret:\n%s", out)
	}

	before := st.sims.jms.Counters().Reads
	r, out = validate(t, bad, true)
	if r.ExitCode() != ExitOK || st.sims.jms.Counters().Reads != before {
		t.Fatalf("-offline: exit %d, JumpServer contacted\n%s", r.ExitCode(), out)
	}
}
