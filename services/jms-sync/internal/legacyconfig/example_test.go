package legacyconfig

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/services/collector-aliyun/aliyuncollector"
	"github.com/jmssync/jmssync/services/collector-huaweicloud/huaweicollector"
	"github.com/jmssync/jmssync/services/notifier/notifier"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// exampleEnv is what the README tells the operator to export.
var exampleEnv = map[string]string{
	"JMS_ACCESS_KEY_ID":        "jms-ak-0001",
	"JMS_ACCESS_KEY_SECRET":    "jms-sk-TOPSECRET-0001",
	"ALIYUN_ACCESS_KEY_ID":     "LTAI-ali-0001",
	"ALIYUN_ACCESS_KEY_SECRET": "ali-sk-TOPSECRET-0002",
	"HUAWEI_ACCESS_KEY_ID":     "HWAK0001",
	"HUAWEI_ACCESS_KEY_SECRET": "hw-sk-TOPSECRET-0003",
	"HUAWEI_PROJECT_ID":        "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
	"DINGTALK_TOKEN":           "dt-token-TOPSECRET-0004",
	"DINGTALK_SECRET":          "SECdt-sign-TOPSECRET-0005",
}

func readExample(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "old-readme-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parseExample(t *testing.T) (*File, []Warning) {
	t.Helper()
	f, warnings, err := Parse(readExample(t), lookup(exampleEnv))
	if err != nil {
		t.Fatalf("the old README example must load as is: %v", err)
	}
	return f, warnings
}

// assertNoSecrets fails if any secret value of exampleEnv (or extra) is in s.
func assertNoSecrets(t *testing.T, s string, extra ...string) {
	t.Helper()
	for _, v := range append(slices.Collect(maps.Values(exampleEnv)), extra...) {
		if strings.Contains(v, "TOPSECRET") && strings.Contains(s, v) {
			t.Errorf("secret %q leaked into: %s", v, s)
		}
	}
	if strings.Contains(s, "TOPSECRET") {
		t.Errorf("part of a secret leaked into: %s", s)
	}
}

func TestOldReadmeExampleLoadsWithOnlyIgnoredKeyWarnings(t *testing.T) {
	f, warnings := parseExample(t)

	got := map[string]WarningKind{}
	for _, w := range warnings {
		got[w.Path] = w.Kind
		assertNoSecrets(t, w.String())
		if w.Line == 0 {
			t.Errorf("warning without a line: %s", w)
		}
	}
	want := map[string]WarningKind{
		"jumpserver.protocols.ssh_port": WarnIgnoredKey,
		"jumpserver.protocols.rdp_port": WarnIgnoredKey,
		"clouds[1].domain_id":           WarnIgnoredKey,
		"sync.cache_ttl":                WarnIgnoredKey,
		"log.json_format":               WarnIgnoredKey,
		"log.separate_error_log":        WarnIgnoredKey,
		// at_mobiles had no effect in the old tool; now it @-mentions.
		"notification.dingtalk": WarnChanged,
	}
	if !maps.Equal(got, want) {
		for _, w := range warnings {
			t.Logf("warning: %s [%s]", w, w.Kind)
		}
		t.Fatalf("warnings = %v\nwant       %v", got, want)
	}

	if f.JumpServer.URL != "https://jumpserver.example.com" {
		t.Errorf("url = %q, want the trailing / removed", f.JumpServer.URL)
	}
	if f.JumpServer.AccessKeySecret.Reveal() != exampleEnv["JMS_ACCESS_KEY_SECRET"] {
		t.Errorf("access_key_secret not substituted")
	}
	if len(f.Clouds) != 3 {
		t.Fatalf("clouds = %d", len(f.Clouds))
	}
	hw := f.Clouds[1]
	if hw.Provider != ProviderHuawei || hw.ID != "华为云生产环境" || hw.ProjectIDs["cn-north-4"] != exampleEnv["HUAWEI_PROJECT_ID"] {
		t.Errorf("huawei cloud = %+v", hw)
	}
	if f.Clouds[2].Enabled {
		t.Errorf("clouds[2] should be disabled")
	}
}

func TestOldReadmeExampleEnv(t *testing.T) {
	f, _ := parseExample(t)
	env := f.Env()
	want := map[string]string{
		"JMSSYNC_JUMPSERVER_URL":                      "https://jumpserver.example.com",
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_ID":            "jms-ak-0001",
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_SECRET":        exampleEnv["JMS_ACCESS_KEY_SECRET"],
		"JMSSYNC_JUMPSERVER_ORG_ID":                   "00000000-0000-0000-0000-000000000002",
		"JMSSYNC_JUMPSERVER_VERIFY_SSL":               "true",
		"JMSSYNC_JUMPSERVER_BATCH_SIZE":               "50",
		"JMSSYNC_JUMPSERVER_CONCURRENCY":              "5",
		"JMSSYNC_SYNC_PROTECTED_IPS":                  "10.0.0.1,192.168.1.0/24",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ID":                "阿里云生产环境",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_NAME":              "阿里云生产环境",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID":     "LTAI-ali-0001",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET": exampleEnv["ALIYUN_ACCESS_KEY_SECRET"],
		"JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS":           "cn-hangzhou,cn-shanghai",
		"JMSSYNC_ALIYUN_ACCOUNTS_1_ID":                "阿里云测试环境",
		"JMSSYNC_ALIYUN_ACCOUNTS_1_NAME":              "阿里云测试环境",
		"JMSSYNC_ALIYUN_ACCOUNTS_1_ACCESS_KEY_ID":     "your_access_key_id",
		"JMSSYNC_ALIYUN_ACCOUNTS_1_ACCESS_KEY_SECRET": "your_access_key_secret",
		"JMSSYNC_ALIYUN_ACCOUNTS_1_REGIONS":           "cn-beijing",
		"JMSSYNC_ALIYUN_ACCOUNTS_1_DISABLED":          "true",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ID":                "华为云生产环境",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_NAME":              "华为云生产环境",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ACCESS_KEY_ID":     "HWAK0001",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_SECRET_ACCESS_KEY": exampleEnv["HUAWEI_ACCESS_KEY_SECRET"],
		"JMSSYNC_HUAWEI_ACCOUNTS_0_REGIONS":           "cn-north-4",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_PROJECT_IDS":       "cn-north-4:" + exampleEnv["HUAWEI_PROJECT_ID"],
		"JMSSYNC_DINGTALK_ROBOTS_0_ENABLED":           "true",
		"JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK":           "https://oapi.dingtalk.com/robot/send?access_token=" + exampleEnv["DINGTALK_TOKEN"],
		"JMSSYNC_DINGTALK_ROBOTS_0_SECRET":            exampleEnv["DINGTALK_SECRET"],
		"JMSSYNC_DINGTALK_ROBOTS_0_AT_MOBILES":        "13800138000",
		"JMSSYNC_LOG_LEVEL":                           "info",
		"JMSSYNC_LOG_FILE":                            "logs/jms-sync.log",
		"JMSSYNC_LOG_MAX_SIZE_MB":                     "10",
		"JMSSYNC_LOG_BACKUPS":                         "5",
	}
	if !maps.Equal(env, want) {
		for _, k := range SortedKeys(env) {
			if env[k] != want[k] {
				t.Errorf("%s = %q, want %q", k, env[k], want[k])
			}
		}
		for _, k := range SortedKeys(want) {
			if _, ok := env[k]; !ok {
				t.Errorf("%s missing", k)
			}
		}
	}

	shown := Redacted(env)
	for k, v := range shown {
		assertNoSecrets(t, k+"="+v)
	}
	if shown["JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK"] != config.Redacted || shown["JMSSYNC_JUMPSERVER_URL"] != env["JMSSYNC_JUMPSERVER_URL"] {
		t.Errorf("Redacted: %v", shown)
	}
}

func loadAll(t *testing.T, env map[string]string) (aliyuncollector.Config, huaweicollector.Config, notifier.Config) {
	t.Helper()
	opts := []config.Option{config.WithPrefix(Prefix), config.WithEnvironment(env)}
	ali, err := config.Load[aliyuncollector.Config](opts...)
	if err != nil {
		t.Fatalf("aliyuncollector.Config: %v", err)
	}
	hw, err := config.Load[huaweicollector.Config](opts...)
	if err != nil {
		t.Fatalf("huaweicollector.Config: %v", err)
	}
	nt, err := config.Load[notifier.Config](opts...)
	if err != nil {
		t.Fatalf("notifier.Config: %v", err)
	}
	return ali, hw, nt
}

// TestEnvLoadsTheServiceConfigs proves the variable names match the
// services' declarations.
func TestEnvLoadsTheServiceConfigs(t *testing.T) {
	f, _ := parseExample(t)
	ali, hw, nt := loadAll(t, f.Env())

	if len(ali.Accounts) != 2 {
		t.Fatalf("aliyun accounts = %d", len(ali.Accounts))
	}
	a0, a1 := ali.Accounts[0], ali.Accounts[1]
	if a0.StableID() != "阿里云生产环境" || a0.AccessKeyID != "LTAI-ali-0001" || a0.AccessKeySecret.Reveal() != exampleEnv["ALIYUN_ACCESS_KEY_SECRET"] ||
		!slices.Equal(a0.Regions, []string{"cn-hangzhou", "cn-shanghai"}) || a0.Disabled {
		t.Errorf("aliyun account 0 = %+v", a0)
	}
	if !a1.Disabled || a1.Name != "阿里云测试环境" {
		t.Errorf("aliyun account 1 = %+v", a1)
	}

	if len(hw.Accounts) != 1 {
		t.Fatalf("huawei accounts = %d", len(hw.Accounts))
	}
	h := hw.Accounts[0]
	if h.StableID() != "华为云生产环境" || h.SecretAccessKey.Reveal() != exampleEnv["HUAWEI_ACCESS_KEY_SECRET"] ||
		!maps.Equal(h.ProjectIDs, map[string]string{"cn-north-4": exampleEnv["HUAWEI_PROJECT_ID"]}) {
		t.Errorf("huawei account = %+v", h)
	}

	if len(nt.Robots) != 1 {
		t.Fatalf("robots = %d", len(nt.Robots))
	}
	r := nt.Robots[0]
	if !r.Enabled || r.Secret.Reveal() != exampleEnv["DINGTALK_SECRET"] || !slices.Equal(r.AtMobiles, []string{"13800138000"}) || r.AtAll {
		t.Errorf("robot = %+v", r)
	}
	if nt.JumpServerURL != "https://jumpserver.example.com" || nt.LogLevel != "info" {
		t.Errorf("notifier = url %q level %q", nt.JumpServerURL, nt.LogLevel)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	f, _ := parseExample(t)
	secretFile := filepath.Join(t.TempDir(), "sk")
	if err := os.WriteFile(secretFile, []byte("ali-sk-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := map[string]string{
		"JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS":                "cn-shenzhen",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET_FILE": secretFile,
		"JMSSYNC_DINGTALK_ROBOTS_0_ENABLED":                "false",
		"JMSSYNC_LOG_LEVEL":                                "debug",
		"JMSSYNC_JUMPSERVER_URL":                           "", // empty: does not clear the file's value
		"JMSSYNC_INTERVAL":                                 "5m",
	}
	fileEnv := f.Env()
	merged := Merge(fileEnv, environ)
	if fileEnv["JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS"] != "cn-hangzhou,cn-shanghai" {
		t.Errorf("Merge changed its argument")
	}
	ali, _, nt := loadAll(t, merged)
	a := ali.Accounts[0]
	if !slices.Equal(a.Regions, []string{"cn-shenzhen"}) || a.AccessKeySecret.Reveal() != "ali-sk-from-file" || a.AccessKeyID != "LTAI-ali-0001" {
		t.Errorf("account 0 = regions %v id %q (secret from file: %v)", a.Regions, a.AccessKeyID, a.AccessKeySecret.Reveal() == "ali-sk-from-file")
	}
	if ali.Interval.String() != "5m0s" || ali.LogLevel != "debug" {
		t.Errorf("interval %s level %s", ali.Interval, ali.LogLevel)
	}
	if nt.Robots[0].Enabled || nt.JumpServerURL != "https://jumpserver.example.com" {
		t.Errorf("notifier: enabled %v url %q", nt.Robots[0].Enabled, nt.JumpServerURL)
	}
}
