package legacyconfig

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

const minimal = `
jumpserver:
  url: https://jms.example.com
  access_key_id: jms-ak
  access_key_secret: jms-sk-TOPSECRET
clouds:
  - type: 阿里云
    name: 生产
    access_key_id: LTAI-1
    access_key_secret: ali-sk-TOPSECRET
    regions: [cn-hangzhou]
`

func mustParse(t *testing.T, yml string, env map[string]string) (*File, []Warning) {
	t.Helper()
	f, w, err := Parse([]byte(yml), lookup(env))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f, w
}

func problems(t *testing.T, yml string, env map[string]string) (*Error, []Warning) {
	t.Helper()
	f, w, err := Parse([]byte(yml), lookup(env))
	var e *Error
	if !errors.As(err, &e) || f != nil {
		t.Fatalf("want *Error and no file, got %v, %v", f, err)
	}
	return e, w
}

func warningPaths(ws []Warning, kind WarningKind) []string {
	var out []string
	for _, w := range ws {
		if w.Kind == kind {
			out = append(out, w.Path)
		}
	}
	return out
}

const broken = `
jumpserver:
  url: ftp://jms.example.com
  access_key_id: ""
  access_key_secret: ${MISSING_JMS_SK}
  org_id: not-a-uuid
  verify_ssl: ${DT_SIGN}
clouds:
  - type: 腾讯云
    name: 重复
    access_key_id: AK1
    access_key_secret: sk1-TOPSECRET
    regions: [ap-guangzhou]
  - type: 阿里云
    name: 重复
    access_key_id: AK1
    access_key_secret: sk2-TOPSECRET
    regions: []
  - type: 华为云
    name: hw
    regions: [cn-north-4, cn-north-4]
  - type: aliyun
    name: ali-a
    access_key_id: AKX
    access_key_secret: sk3-TOPSECRET
    regions: [cn-shanghai]
  - type: 阿里云
    name: ali-b
    access_key_id: AKX
    access_key_secret: sk4-TOPSECRET
    regions: [cn-beijing, cn-shanghai]
sync:
  whitelist: [10.0.0.300]
  protected_ips: [not-an-ip, 10.1.0.0/16]
  parallel_workers: 0
  batch_size: lots
notification:
  dingtalk:
    enabled: true
    webhook: https://oapi.dingtalk.com/robot/send?token=hook-TOPSECRET
    secret: ${DT_SIGN}
log:
  level: verbose
  max_size: 0
  backup_count: -1
jmssync:
  clouds:
    不存在:
      id: x
  sync:
    stopped: sometimes
    address: [private, intranet]
    delete_budget_percent: 150
`

func TestEveryProblemIsReportedAtOnceWithPaths(t *testing.T) {
	env := map[string]string{"DT_SIGN": "dt-TOPSECRET-sign"}
	e, warnings := problems(t, broken, env)
	got := map[string]string{}
	for _, p := range e.Problems {
		got[p.Path] = p.Msg
	}
	want := []string{
		"jumpserver.url",
		"jumpserver.access_key_id",
		"jumpserver.access_key_secret",
		"jumpserver.org_id",
		"jumpserver.verify_ssl",
		"clouds[0].type",
		"clouds[1].name",
		"clouds[1].regions",
		"clouds[2].access_key_id",
		"clouds[2].access_key_secret",
		"clouds[2].regions[1]",
		"clouds[4].regions[1]",
		"sync.whitelist[0]",
		"sync.protected_ips[0]",
		"sync.parallel_workers",
		"sync.batch_size",
		"notification.dingtalk.webhook",
		"notification.dingtalk.secret",
		"log.level",
		"log.max_size",
		"log.backup_count",
		"jmssync.clouds.不存在",
		"jmssync.sync.stopped",
		"jmssync.sync.address[1]",
		"jmssync.sync.delete_budget_percent",
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(slices.Values(want))) {
		for _, p := range e.Problems {
			t.Logf("problem: %s", p)
		}
		t.Fatalf("problem paths = %v\nwant %v", slices.Sorted(maps.Keys(got)), slices.Sorted(slices.Values(want)))
	}
	if len(e.Problems) != len(want) {
		t.Errorf("%d problems for %d paths", len(e.Problems), len(want))
	}
	for _, p := range e.Problems {
		if p.Line == 0 {
			t.Errorf("no line for %s", p)
		}
	}

	// Messages name what is wrong and why.
	for path, frag := range map[string]string{
		"clouds[1].regions":            "at least one region",
		"jumpserver.access_key_secret": "${MISSING_JMS_SK} not set",
		"clouds[4].regions[1]":         "clouds[3]",
		"clouds[1].name":               "clouds[0]",
		"jumpserver.verify_ssl":        "want true or false",
	} {
		if !strings.Contains(got[path], frag) {
			t.Errorf("%s: %q does not mention %q", path, got[path], frag)
		}
	}
	if !strings.Contains(e.Error(), "25 problems") || !strings.Contains(e.Error(), "clouds[1].regions: at least one region (line 18)") {
		t.Errorf("Error() = %s", e.Error())
	}

	// No secret in any text: the webhook and signing secret are never
	// printed, and a value substituted from the environment (the signing
	// secret's ${DT_SIGN} put in verify_ssl) is named by its variable.
	text := e.Error()
	for _, w := range warnings {
		text += "\n" + w.String()
	}
	assertNoSecrets(t, text, env["DT_SIGN"])
	if got["jumpserver.verify_ssl"] != "want true or false, not the value of ${DT_SIGN}" {
		t.Errorf("verify_ssl message = %q", got["jumpserver.verify_ssl"])
	}

	// A secret written literally into the wrong key is masked.
	e, _ = problems(t, minimal+"log:\n  level: ali-sk-TOPSECRET\n", nil)
	if len(e.Problems) != 1 || !strings.Contains(e.Error(), `not "[REDACTED]"`) {
		t.Errorf("problems = %v", e)
	}
	assertNoSecrets(t, e.Error())
	if slices.Contains(warningPaths(warnings, WarnEnvUnset), "jumpserver.access_key_secret") == false {
		t.Errorf("no warning for the unset variable: %v", warnings)
	}
}

func TestSubstitutionEveryOccurrenceBeforeValidation(t *testing.T) {
	yml := strings.Replace(minimal, "access_key_id: jms-ak", `access_key_id: "${A}${B}"`, 1)
	yml = strings.Replace(yml, "url: https://jms.example.com", `url: "${SCHEME:https}://${HOST}:${PORT:8443}/${EMPTY:x}${NOPE}"`, 1)
	yml = strings.Replace(yml, "regions: [cn-hangzhou]", "regions: ${REGIONS}\n    enabled: ${ON}", 1)
	env := map[string]string{"A": "left", "B": "right", "HOST": "jms.local", "EMPTY": "", "REGIONS": "cn-hangzhou, cn-beijing", "ON": "yes"}
	f, warnings := mustParse(t, yml, env)
	if f.JumpServer.AccessKeyID != "leftright" {
		t.Errorf("${A}${B} = %q", f.JumpServer.AccessKeyID)
	}
	// Default used for an unset variable; a set-but-empty one wins over its
	// default (as os.environ.get did); an unset one without default is "".
	if f.JumpServer.URL != "https://jms.local:8443" {
		t.Errorf("url = %q", f.JumpServer.URL)
	}
	if !slices.Equal(f.Clouds[0].Regions, []string{"cn-hangzhou", "cn-beijing"}) || !f.Clouds[0].Enabled {
		t.Errorf("cloud = %+v", f.Clouds[0])
	}
	if got := warningPaths(warnings, WarnEnvUnset); !slices.Equal(got, []string{"jumpserver.url"}) || !strings.Contains(warnings[0].Msg, "${NOPE}") {
		t.Errorf("unset warnings = %v", warnings)
	}

	// Substitution happens before validation: a variable that makes the URL
	// invalid is caught, and an unset key is named.
	e, _ := problems(t, strings.Replace(minimal, "url: https://jms.example.com", "url: ${JMS_URL}", 1), map[string]string{})
	if len(e.Problems) != 1 || e.Problems[0].Path != "jumpserver.url" || !strings.Contains(e.Problems[0].Msg, "${JMS_URL} not set") {
		t.Errorf("problems = %v", e.Problems)
	}
	e, _ = problems(t, strings.Replace(minimal, "url: https://jms.example.com", "url: ${JMS_URL}", 1), map[string]string{"JMS_URL": "jms.example.com"})
	if len(e.Problems) != 1 || e.Problems[0].Path != "jumpserver.url" {
		t.Errorf("problems = %v", e.Problems)
	}
}

func TestUnknownKeysWarnWithPathAndLine(t *testing.T) {
	yml := minimal + `    id: prod-ali
    zone: dmz
extra_section:
  a: 1
sync:
  whitelists: []
`
	_, warnings := mustParse(t, yml, nil)
	got := map[string]Warning{}
	for _, w := range warnings {
		got[w.Path] = w
	}
	for path, line := range map[string]int{"clouds[0].id": 12, "clouds[0].zone": 13, "extra_section": 14, "sync.whitelists": 17} {
		w, ok := got[path]
		if !ok || w.Kind != WarnUnknownKey || w.Line != line {
			t.Errorf("%s: %+v, want an unknown-key warning on line %d", path, w, line)
		}
	}
	if !strings.Contains(got["clouds[0].id"].Msg, "jmssync.clouds.<name>.id") {
		t.Errorf("no hint: %s", got["clouds[0].id"])
	}
}

func TestYAMLForms(t *testing.T) {
	yml := `
defaults: &ali
  type: 阿里云
  access_key_id: LTAI-1
  access_key_secret: ali-sk-TOPSECRET
jumpserver:
  url: https://jms.example.com
  access_key_id: first
  access_key_id: jms-ak
  access_key_secret: jms-sk-TOPSECRET
  verify_ssl: on
clouds:
  - <<: *ali
    name: a
    regions: cn-hangzhou
  - <<: *ali
    name: b
    access_key_id: LTAI-2
    regions: [cn-hangzhou]
    enabled: no
sync:
  no_delete: Yes
  batch_size: 0x20
`
	f, warnings := mustParse(t, yml, nil)
	if f.JumpServer.AccessKeyID != "jms-ak" || !*f.JumpServer.VerifySSL || !f.Sync.NoDelete || *f.Sync.BatchSize != 32 {
		t.Errorf("file = %+v %+v", f.JumpServer, f.Sync)
	}
	if f.Clouds[0].Provider != ProviderAliyun || f.Clouds[1].AccessKeyID != "LTAI-2" || f.Clouds[1].Enabled {
		t.Errorf("clouds = %+v", f.Clouds)
	}
	if !slices.Equal(warningPaths(warnings, WarnDuplicateKey), []string{"jumpserver.access_key_id"}) {
		t.Errorf("warnings = %v", warnings)
	}
	if !slices.Contains(warningPaths(warnings, WarnUnknownKey), "defaults") {
		t.Errorf("anchor holder not reported: %v", warnings)
	}

	for _, bad := range []string{"", "# only a comment\n", "jumpserver: [\n", "- a\n- b\n"} {
		if _, _, err := Parse([]byte(bad), lookup(nil)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestHuaweiProjectIDs(t *testing.T) {
	base := `
jumpserver: {url: https://jms.example.com, access_key_id: a, access_key_secret: jms-sk-TOPSECRET}
clouds:
  - type: 华为云
    name: hw
    access_key_id: HWAK
    access_key_secret: hw-sk-TOPSECRET
    project_id: p-north
`
	// One region: the old project_id applies to it.
	f, _ := mustParse(t, base+"    regions: [cn-north-4]\n", nil)
	if !maps.Equal(f.Clouds[0].ProjectIDs, map[string]string{"cn-north-4": "p-north"}) {
		t.Errorf("project ids = %v", f.Clouds[0].ProjectIDs)
	}

	// Several regions: not used (IAM looks them up), with a warning.
	f, warnings := mustParse(t, base+"    regions: [cn-north-4, cn-east-3]\n", nil)
	if f.Clouds[0].ProjectIDs != nil || f.Env()["JMSSYNC_HUAWEI_ACCOUNTS_0_PROJECT_IDS"] != "" {
		t.Errorf("project ids = %v", f.Clouds[0].ProjectIDs)
	}
	if !slices.Contains(warningPaths(warnings, WarnSuspicious), "clouds[0].project_id") {
		t.Errorf("warnings = %v", warnings)
	}

	// Explicit per-region ids in the jmssync section; two regions sharing
	// one id is suspicious; a region not listed is a problem.
	ext := base + "    regions: [cn-north-4, cn-east-3, cn-south-1]\njmssync:\n  clouds:\n    hw:\n      id: hw-main\n      project_ids: {cn-north-4: p1, cn-east-3: p1, cn-south-1: p3}\n"
	f, warnings = mustParse(t, ext, nil)
	if got := f.Env()["JMSSYNC_HUAWEI_ACCOUNTS_0_PROJECT_IDS"]; got != "cn-north-4:p1,cn-east-3:p1,cn-south-1:p3" {
		t.Errorf("PROJECT_IDS = %q", got)
	}
	if f.Env()["JMSSYNC_HUAWEI_ACCOUNTS_0_ID"] != "hw-main" {
		t.Errorf("id not applied")
	}
	if !slices.Contains(warningPaths(warnings, WarnSuspicious), "jmssync.clouds.hw.project_ids") {
		t.Errorf("warnings = %v", warnings)
	}
	e, _ := problems(t, strings.Replace(ext, "cn-south-1: p3", "ap-southeast-1: p3", 1), nil)
	if len(e.Problems) != 1 || e.Problems[0].Path != "jmssync.clouds.hw.project_ids.ap-southeast-1" {
		t.Errorf("problems = %v", e.Problems)
	}
}

func TestJMSSyncSectionEnv(t *testing.T) {
	yml := minimal + `  - type: huaweicloud
    name: 华为
    access_key_id: HWAK
    access_key_secret: hw-sk-TOPSECRET
    regions: [cn-north-4]
  - type: huawei
    name: 华为2
    access_key_id: HWAK2
    access_key_secret: hw2-sk-TOPSECRET
    regions: [cn-east-3]
jumpserver:
  url: https://jms.example.com
  access_key_id: jms-ak
  access_key_secret: jms-sk-TOPSECRET
  verify_ssl: false
  account_templates:
    Linux: root-template
    windows: admin-template
sync:
  whitelist: [10.0.0.0/8]
  no_delete: true
log:
  level: critical
jmssync:
  install_id: prod-1
  aliyun_endpoint: http://127.0.0.1:8081
  clouds:
    生产:
      id: ali-prod
      endpoint: http://127.0.0.1:8082
      zone: dmz
    华为:
      endpoint: http://127.0.0.1:8083
      iam_endpoint: http://127.0.0.1:8084
      zone: 华为网域
    华为2:
      endpoint: http://127.0.0.1:8083
  sync:
    stopped: Deactivate
    absent_passes: 3
    delete_grace: 2d
    delete_budget: 5
    delete_budget_percent: 12.5%
    address: [eip, private]
`
	f, warnings := mustParse(t, yml, nil)
	// The second jumpserver section is a duplicate key: the last one wins.
	env := f.Env()
	want := map[string]string{
		"JMSSYNC_INSTALL_ID":                          "prod-1",
		"JMSSYNC_JUMPSERVER_VERIFY_SSL":               "false",
		"JMSSYNC_ACCOUNT_TEMPLATE_LINUX":              "root-template",
		"JMSSYNC_ACCOUNT_TEMPLATE_WINDOWS":            "admin-template",
		"JMSSYNC_SYNC_WHITELIST":                      "10.0.0.0/8",
		"JMSSYNC_SYNC_NO_DELETE":                      "true",
		"JMSSYNC_SYNC_STOPPED":                        "deactivate",
		"JMSSYNC_SYNC_ABSENT_PASSES":                  "3",
		"JMSSYNC_SYNC_DELETE_GRACE":                   (48 * time.Hour).String(),
		"JMSSYNC_SYNC_DELETE_BUDGET":                  "5",
		"JMSSYNC_SYNC_DELETE_BUDGET_PERCENT":          "12.5",
		"JMSSYNC_SYNC_ADDRESS":                        "eip,private",
		"JMSSYNC_SYNC_ZONES":                          "ali-prod:dmz,华为:华为网域",
		"JMSSYNC_ALIYUN_ENDPOINT":                     "http://127.0.0.1:8081",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ID":                "ali-prod",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ENDPOINT":          "http://127.0.0.1:8082",
		"JMSSYNC_HUAWEI_ENDPOINT":                     "http://127.0.0.1:8083",
		"JMSSYNC_HUAWEI_IAM_ENDPOINT":                 "http://127.0.0.1:8084",
		"JMSSYNC_HUAWEI_ACCOUNTS_1_NAME":              "华为2",
		"JMSSYNC_LOG_LEVEL":                           "error",
		"JMSSYNC_HUAWEI_ACCOUNTS_1_SECRET_ACCESS_KEY": "hw2-sk-TOPSECRET",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	changed := warningPaths(warnings, WarnChanged)
	for _, p := range []string{"jumpserver.verify_ssl", "jumpserver.account_templates", "sync.whitelist", "sync.no_delete", "log.level"} {
		if !slices.Contains(changed, p) {
			t.Errorf("no changed-behaviour warning for %s: %v", p, changed)
		}
	}
	_, hw, _ := loadAll(t, Merge(env, map[string]string{"JMSSYNC_DINGTALK_ROBOTS_0_ENABLED": "false"}))
	if len(hw.Accounts) != 2 || hw.IAMEndpoint != "http://127.0.0.1:8084" {
		t.Errorf("huawei config = %+v", hw)
	}

	// Huawei endpoints are collector-wide: two different ones are a problem.
	e, _ := problems(t, strings.Replace(yml, "    华为2:\n      endpoint: http://127.0.0.1:8083", "    华为2:\n      endpoint: http://127.0.0.1:9999", 1), nil)
	if len(e.Problems) != 1 || e.Problems[0].Path != "jmssync.clouds.华为2.endpoint" {
		t.Errorf("problems = %v", e.Problems)
	}
}

func TestCloudTypeAndIdentityRules(t *testing.T) {
	// A disabled entry with an unknown type is left out with a warning, not
	// rejected (the old validator only checked enabled entries).
	yml := minimal + `  - type: 腾讯云
    name: 腾讯
    enabled: false
`
	f, warnings := mustParse(t, yml, nil)
	if !slices.Contains(warningPaths(warnings, WarnSuspicious), "clouds[1]") {
		t.Errorf("warnings = %v", warnings)
	}
	if _, ok := f.Env()["JMSSYNC_ALIYUN_ACCOUNTS_1_ID"]; ok {
		t.Errorf("disabled unknown cloud emitted")
	}

	// Two clouds may not share a stable id.
	yml = minimal + `  - type: 阿里云
    name: 测试
    access_key_id: LTAI-2
    access_key_secret: ali2-sk-TOPSECRET
    regions: [cn-hangzhou]
jmssync:
  clouds:
    测试: {id: 生产}
`
	e, _ := problems(t, yml, nil)
	if len(e.Problems) != 1 || e.Problems[0].Path != "jmssync.clouds.测试.id" {
		t.Errorf("problems = %v", e.Problems)
	}
}

func TestLogLevelMapping(t *testing.T) {
	for _, c := range []struct{ level, env, want string }{
		{"DEBUG", "", "debug"}, {"info", "", "info"}, {"WARNING", "", "warn"}, {"Warn", "", "warn"},
		{"ERROR", "", "error"}, {"CRITICAL", "", "error"},
		{"", "PRODUCTION", "info"}, {"", "DEVELOPMENT", "debug"}, {"", "", ""},
		{"DEBUG", "PRODUCTION", "debug"},
	} {
		yml := minimal
		if c.level != "" {
			yml += "log:\n  level: " + c.level + "\n"
		}
		if c.env != "" {
			yml += "environment:\n  type: " + c.env + "\n"
		}
		f, _ := mustParse(t, yml, nil)
		if got := f.Env()["JMSSYNC_LOG_LEVEL"]; got != c.want {
			t.Errorf("level %q env %q: %q, want %q", c.level, c.env, got, c.want)
		}
	}
}

func TestMerge(t *testing.T) {
	file := map[string]string{"JMSSYNC_A": "file", "JMSSYNC_S": "file-secret", "JMSSYNC_B": "file"}
	environ := map[string]string{"JMSSYNC_A": "env", "JMSSYNC_S_FILE": "/run/secrets/s", "JMSSYNC_B": "", "JMSSYNC_C": ""}
	got := Merge(file, environ)
	want := map[string]string{"JMSSYNC_A": "env", "JMSSYNC_S_FILE": "/run/secrets/s", "JMSSYNC_B": "file", "JMSSYNC_C": ""}
	if !maps.Equal(got, want) {
		t.Errorf("Merge = %v, want %v", got, want)
	}
	if file["JMSSYNC_S"] != "file-secret" {
		t.Errorf("Merge changed file")
	}
	if !IsSecretKey("JMSSYNC_HUAWEI_ACCOUNTS_3_SECRET_ACCESS_KEY") || IsSecretKey("JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID") {
		t.Errorf("IsSecretKey")
	}
}

func TestFileDoesNotPrintSecrets(t *testing.T) {
	f, _ := mustParse(t, minimal, nil)
	assertNoSecrets(t, fmt.Sprintf("%v %+v %#v", f, *f, *f))
	if got := f.SecretValues(); !slices.Contains(got, "ali-sk-TOPSECRET") || !slices.Contains(got, "jms-sk-TOPSECRET") {
		t.Errorf("SecretValues = %d values", len(got))
	}
}
