package reconciler

import (
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// The collectors' variables configure the scopes; secrets are not read.
func TestConfigFromCollectorVariables(t *testing.T) {
	env := map[string]string{
		"JMSSYNC_INSTALL_ID":                               "site-1",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_NAME":                   "生产",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS":                "cn-hangzhou, cn-shanghai",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET":      "s3cr3t",
		"JMSSYNC_ALIYUN_ACCOUNTS_1_ID":                     "old",
		"JMSSYNC_ALIYUN_ACCOUNTS_1_REGIONS":                "cn-beijing",
		"JMSSYNC_ALIYUN_ACCOUNTS_1_DISABLED":               "true",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ID":                     "hw",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_NAME":                   "华为主账号",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_REGIONS":                "cn-north-4",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_SECRET_ACCESS_KEY_FILE": "/nonexistent",
		"JMSSYNC_SYNC_ZONES":                               "hw:dmz,生产:内网",
		"JMSSYNC_SYNC_ADDRESS":                             "eip,private",
		"JMSSYNC_SYNC_DELETE_BUDGET_PERCENT":               "5%",
		"JMSSYNC_SYNC_SHRINK_THRESHOLD":                    "40%",
		"JMSSYNC_SYNC_STOPPED":                             "deactivate",
		"JMSSYNC_SYNC_PROTECTED_IPS":                       "10.0.0.1,10.9.0.0/16",
		"JMSSYNC_ACCOUNT_TEMPLATE_LINUX":                   "root-key",
	}
	cfg := loadConfig(t, env)
	if cfg.OrgID != DefaultOrgID || cfg.RootNode != "DEFAULT" || cfg.Interval != 10*time.Minute || cfg.Debounce != 5*time.Second {
		t.Fatalf("defaults: %+v", cfg)
	}
	want := []events.Scope{
		{Provider: asset.Aliyun, AccountID: "生产", AccountName: "生产", Region: "cn-hangzhou"},
		{Provider: asset.Aliyun, AccountID: "生产", AccountName: "生产", Region: "cn-shanghai"},
		{Provider: asset.HuaweiCloud, AccountID: "hw", AccountName: "华为主账号", Region: "cn-north-4"},
	}
	got := cfg.Scopes()
	if len(got) != len(want) {
		t.Fatalf("scopes %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("scope %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	p, err := cfg.Policy("Default")
	if err != nil {
		t.Fatal(err)
	}
	if p.Accounts["hw"].Zone != "dmz" || p.Accounts["生产"].Zone != "内网" || p.Accounts["old"].Name != "old" {
		t.Fatalf("accounts %+v", p.Accounts)
	}
	if len(p.AddressOrder) != 2 || p.AddressOrder[0] != plan.AddressEIP || p.Budget.Percent != 0.05 || p.Budget.Count != 20 || p.Budget.Floor != 1 ||
		p.ShrinkThreshold != 0.4 || p.Stopped != plan.StoppedDeactivate || len(p.ProtectedIPs) != 2 || p.AbsentPasses != 2 ||
		p.Grace != 24*time.Hour || p.RootNode != "Default" || p.OS[asset.Linux].AccountTemplate != "root-key" || p.OS[asset.Windows].Platform != "Windows" {
		t.Fatalf("policy %+v", p)
	}

	env["JMSSYNC_SYNC_DELETE_BUDGET"] = "0"
	if p, _ := loadConfig(t, env).Policy("DEFAULT"); p.Budget.Limit(5) != 0 {
		t.Fatal("a budget of 0 must hold every deletion")
	}
}

// Every problem is reported at once, naming its variable.
func TestConfigProblems(t *testing.T) {
	_, err := config.Load[Config](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(map[string]string{
		"JMSSYNC_SYNC_STOPPED":       "release",
		"JMSSYNC_SYNC_ADDRESS":       "private,ipv6",
		"JMSSYNC_SYNC_WHITELIST":     "10.0.0.0/33",
		"JMSSYNC_SYNC_ABSENT_PASSES": "0",
		"JMSSYNC_SYNC_ZONES":         "nobody:dmz",
		"JMSSYNC_RECONCILE_INTERVAL": "0s",
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"JMSSYNC_INSTALL_ID", "JMSSYNC_ALIYUN_ACCOUNTS_0_ID", "JMSSYNC_SYNC_STOPPED", "JMSSYNC_SYNC_ADDRESS",
		"JMSSYNC_SYNC_WHITELIST", "JMSSYNC_SYNC_ABSENT_PASSES", "JMSSYNC_SYNC_ZONES", "JMSSYNC_RECONCILE_INTERVAL"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
	_, err = config.Load[Config](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(map[string]string{
		"JMSSYNC_INSTALL_ID":                "x",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ID":      "hw",
		"JMSSYNC_HUAWEI_ACCOUNTS_1_ID":      "hw",
		"JMSSYNC_HUAWEI_ACCOUNTS_1_REGIONS": "cn-north-4",
	}))
	if err == nil || !strings.Contains(err.Error(), "JMSSYNC_HUAWEI_ACCOUNTS_0_REGIONS") || !strings.Contains(err.Error(), "used twice") {
		t.Fatalf("err %v", err)
	}
}
