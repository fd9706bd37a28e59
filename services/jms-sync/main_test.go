package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		args []string
	}{
		{"frobnicate", nil},
		{"confirm", nil},
		{"confirm", []string{"plan-a", "plan-b"}},
		{"prune", nil},
		{"prune", []string{"-scope", "aliyun/only-two"}},
		{"prune", []string{"-scope", "gcp/acct/region"}},
		{"once", []string{"-no-such-flag"}},
	} {
		var out, errOut bytes.Buffer
		code, err := run(t.Context(), tc.cmd, tc.args, &out, &errOut)
		if code != 2 || err == nil && !strings.Contains(errOut.String(), "flag") {
			t.Errorf("%s %v: exit %d (%v), want 2", tc.cmd, tc.args, code, err)
		}
	}
}

// TestValidateCommand: `validate` prints every problem of a broken
// configuration and exits 2, without touching the network (-offline).
func TestValidateCommand(t *testing.T) {
	t.Setenv("JMSSYNC_JUMPSERVER_URL", "ftp://jump.example")
	t.Setenv("JMSSYNC_ALIYUN_ACCOUNTS_0_NAME", "prod")
	var out, errOut bytes.Buffer
	code, err := run(t.Context(), "validate", []string{"-offline"}, &out, &errOut)
	if code != 2 || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out.String())
	}
	for _, want := range []string{"JMSSYNC_INSTALL_ID", "JMSSYNC_JUMPSERVER_URL", "JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID", "problems"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("validate does not report %s:\n%s", want, out.String())
		}
	}
}
