package collector

import (
	"strings"
	"testing"

	"github.com/jmssync/jmssync/libs/asset"
)

func TestAccountChecks(t *testing.T) {
	errs := AccountFields{SecretVar: "SECRET_ACCESS_KEY"}.Problems()
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{"ID", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY_FILE", "REGIONS"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems %q do not name %s", text, want)
		}
	}
	ok := AccountFields{Name: "n", AccessKeyID: "k", SecretVar: "S", SecretSet: true, Regions: []string{"r"}}
	if p := ok.Problems(); len(p) != 0 {
		t.Fatalf("complete account: %v", p)
	}
	if asset.StableAccountID("", "name") != "name" || asset.StableAccountID("id", "name") != "id" || asset.StableAccountID(" id ", "name") != "id" || asset.StableAccountID("  ", " name") != "name" {
		t.Fatal("stable id")
	}
	if err := CheckAccounts("HUAWEI_ACCOUNTS", nil); err == nil || !strings.Contains(err.Error(), "HUAWEI_ACCOUNTS_0_ID") {
		t.Fatalf("no account: %v", err)
	}
	if err := CheckAccounts("ALIYUN_ACCOUNTS", []string{"a", "b", "a"}); err == nil || !strings.Contains(err.Error(), `"a" is used twice`) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := CheckAccounts("ALIYUN_ACCOUNTS", []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
}
