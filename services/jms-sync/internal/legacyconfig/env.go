package legacyconfig

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jmssync/jmssync/libs/config"
)

// Prefix is the prefix of every variable [File.Env] produces; the services
// load them with config.Load[T](config.WithPrefix(Prefix), config.WithEnvironment(m)).
const Prefix = "JMSSYNC_"

// Env returns the JMSSYNC_* environment equivalent to the file, for the
// services' config.Load. Only keys given in the file produce a variable (the
// services' defaults apply otherwise), except the DingTalk robot's ENABLED,
// which is always set because the old default (false) differs from the
// notifier's (true).
//
// The map holds secrets as plain strings (config.Load wraps them in
// config.Secret): never log or print it — use [Redacted] for display.
//
// Mapping:
//   - jumpserver.url/access_key_id/access_key_secret/org_id/verify_ssl →
//     JMSSYNC_JUMPSERVER_URL/_ACCESS_KEY_ID/_ACCESS_KEY_SECRET/_ORG_ID/_VERIFY_SSL;
//     jumpserver.account_templates.linux/windows → JMSSYNC_ACCOUNT_TEMPLATE_LINUX/_WINDOWS;
//     sync.batch_size → JMSSYNC_JUMPSERVER_BATCH_SIZE; sync.parallel_workers →
//     JMSSYNC_JUMPSERVER_CONCURRENCY; jmssync.install_id → JMSSYNC_INSTALL_ID.
//   - sync.whitelist/protected_ips/no_delete → JMSSYNC_SYNC_WHITELIST/
//     _PROTECTED_IPS (comma-separated)/_NO_DELETE; jmssync.sync.stopped/
//     absent_passes/delete_grace/delete_budget/delete_budget_percent/address →
//     JMSSYNC_SYNC_STOPPED/_ABSENT_PASSES/_DELETE_GRACE (Go duration)/
//     _DELETE_BUDGET/_DELETE_BUDGET_PERCENT (percent, 10 = 10 %)/_ADDRESS
//     (comma-separated preference); jmssync.clouds.<name>.zone →
//     JMSSYNC_SYNC_ZONES (account-id:zone,…).
//   - 阿里云 clouds → JMSSYNC_ALIYUN_ACCOUNTS_<i>_ID/_NAME/_ACCESS_KEY_ID/
//     _ACCESS_KEY_SECRET/_REGIONS/_ENDPOINT/_DISABLED (i counts the Aliyun
//     clouds passed on); 华为云 clouds → JMSSYNC_HUAWEI_ACCOUNTS_<i>_ID/_NAME/
//     _ACCESS_KEY_ID/_SECRET_ACCESS_KEY/_REGIONS/_PROJECT_IDS (region:id,…)/
//     _ENTERPRISE_PROJECT_ID/_DISABLED; jmssync.aliyun_endpoint/
//     huawei_endpoint/huawei_iam_endpoint (or the Huawei clouds' common
//     endpoint/iam_endpoint) → JMSSYNC_ALIYUN_ENDPOINT/JMSSYNC_HUAWEI_ENDPOINT/
//     JMSSYNC_HUAWEI_IAM_ENDPOINT. A disabled cloud is passed on with
//     _DISABLED=true when it is complete, left out otherwise.
//   - notification.dingtalk.* → JMSSYNC_DINGTALK_ROBOTS_0_ENABLED/_WEBHOOK/
//     _SECRET/_AT_MOBILES/_AT_ALL.
//   - log.level → JMSSYNC_LOG_LEVEL (DEBUG→debug, INFO→info, WARNING→warn,
//     ERROR and CRITICAL→error; without log.level, environment.type gives the
//     old default: PRODUCTION→info, anything else→debug); log.file/max_size/
//     backup_count → JMSSYNC_LOG_FILE/_LOG_MAX_SIZE_MB/_LOG_BACKUPS.
func (f *File) Env() map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[Prefix+k] = v
		}
	}
	setInt := func(k string, v *int) {
		if v != nil {
			m[Prefix+k] = strconv.Itoa(*v)
		}
	}

	js := f.JumpServer
	set("JUMPSERVER_URL", js.URL)
	set("JUMPSERVER_ACCESS_KEY_ID", js.AccessKeyID)
	set("JUMPSERVER_ACCESS_KEY_SECRET", js.AccessKeySecret.Reveal())
	set("JUMPSERVER_ORG_ID", js.OrgID)
	if js.VerifySSL != nil {
		set("JUMPSERVER_VERIFY_SSL", strconv.FormatBool(*js.VerifySSL))
	}
	setInt("JUMPSERVER_BATCH_SIZE", f.Sync.BatchSize)
	setInt("JUMPSERVER_CONCURRENCY", f.Sync.ParallelWorkers)
	set("ACCOUNT_TEMPLATE_LINUX", js.AccountTemplates.Linux)
	set("ACCOUNT_TEMPLATE_WINDOWS", js.AccountTemplates.Windows)
	set("INSTALL_ID", f.JMSSync.InstallID)

	set("SYNC_WHITELIST", strings.Join(f.Sync.Whitelist, ","))
	set("SYNC_PROTECTED_IPS", strings.Join(f.Sync.ProtectedIPs, ","))
	if f.Sync.NoDelete {
		set("SYNC_NO_DELETE", "true")
	}
	p := f.JMSSync.Policy
	set("SYNC_STOPPED", p.Stopped)
	setInt("SYNC_ABSENT_PASSES", p.AbsentPasses)
	if p.DeleteGrace != nil {
		set("SYNC_DELETE_GRACE", p.DeleteGrace.String())
	}
	setInt("SYNC_DELETE_BUDGET", p.DeleteBudget)
	if p.DeleteBudgetPercent != nil {
		set("SYNC_DELETE_BUDGET_PERCENT", strconv.FormatFloat(*p.DeleteBudgetPercent, 'f', -1, 64))
	}
	set("SYNC_ADDRESS", strings.Join(p.Address, ","))

	var zones []string
	aliyun, huawei := 0, 0
	for i := range f.Clouds {
		c := &f.Clouds[i]
		if !c.emitted() {
			continue
		}
		if c.Zone != "" {
			zones = append(zones, c.StableID()+":"+c.Zone)
		}
		var acct string
		switch c.Provider {
		case ProviderAliyun:
			acct = "ALIYUN_ACCOUNTS_" + strconv.Itoa(aliyun) + "_"
			aliyun++
			set(acct+"ACCESS_KEY_SECRET", c.AccessKeySecret.Reveal())
			set(acct+"ENDPOINT", c.Endpoint)
		case ProviderHuawei:
			acct = "HUAWEI_ACCOUNTS_" + strconv.Itoa(huawei) + "_"
			huawei++
			set(acct+"SECRET_ACCESS_KEY", c.AccessKeySecret.Reveal())
			set(acct+"PROJECT_IDS", projectIDs(c))
			set(acct+"ENTERPRISE_PROJECT_ID", c.EnterpriseProjectID)
		}
		set(acct+"ID", c.StableID())
		set(acct+"NAME", c.Name)
		set(acct+"ACCESS_KEY_ID", c.AccessKeyID)
		set(acct+"REGIONS", strings.Join(c.Regions, ","))
		if !c.Enabled {
			set(acct+"DISABLED", "true")
		}
	}
	set("SYNC_ZONES", strings.Join(zones, ","))
	set("ALIYUN_ENDPOINT", f.JMSSync.AliyunEndpoint)
	set("HUAWEI_ENDPOINT", f.JMSSync.HuaweiEndpoint)
	set("HUAWEI_IAM_ENDPOINT", f.JMSSync.HuaweiIAMEndpoint)

	if dt := f.Notification.DingTalk; dt.Present {
		const r = "DINGTALK_ROBOTS_0_"
		set(r+"ENABLED", strconv.FormatBool(dt.Enabled))
		set(r+"WEBHOOK", dt.Webhook.Reveal())
		set(r+"SECRET", dt.Secret.Reveal())
		set(r+"AT_MOBILES", strings.Join(dt.AtMobiles, ","))
		if dt.AtAll {
			set(r+"AT_ALL", "true")
		}
	}

	set("LOG_LEVEL", f.logLevel())
	set("LOG_FILE", f.Log.File)
	setInt("LOG_MAX_SIZE_MB", f.Log.MaxSize)
	setInt("LOG_BACKUPS", f.Log.BackupCount)
	return m
}

// projectIDs encodes region → id in the cloud's region order.
func projectIDs(c *Cloud) string {
	var parts []string
	for _, r := range c.Regions {
		if id := c.ProjectIDs[r]; id != "" {
			parts = append(parts, r+":"+id)
		}
	}
	return strings.Join(parts, ",")
}

// Merge returns the file's variables overlaid with the real environment:
// a variable set to a non-empty value in environ wins (variable by variable,
// so JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET replaces only that field of
// the first Aliyun cloud). An empty variable does not clear the file's value
// (compose files often pass FOO=${FOO:-}); it is kept when the file has no
// such key. A secret given as KEY_FILE in environ removes the file's KEY,
// since config.Load refuses both. Neither argument is changed.
func Merge(file, environ map[string]string) map[string]string {
	out := maps.Clone(file)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range environ {
		if _, inFile := out[k]; v == "" && inFile {
			continue
		}
		out[k] = v
		if base, ok := strings.CutSuffix(k, config.FileSuffix); ok && v != "" && environ[base] == "" {
			delete(out, base)
		}
	}
	return out
}

// secretKeySuffixes end the names of the variables that hold secrets.
var secretKeySuffixes = []string{"_ACCESS_KEY_SECRET", "_SECRET_ACCESS_KEY", "_SECRET", "_WEBHOOK", "_PASSWORD", "_TOKEN"}

// IsSecretKey reports whether the variable holds a secret (by its name).
func IsSecretKey(name string) bool {
	for _, s := range secretKeySuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Redacted returns a copy of m with the value of every secret variable
// replaced by config.Redacted, for display (e.g. `jms-sync validate --env`).
func Redacted(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if IsSecretKey(k) && v != "" {
			v = config.Redacted
		}
		out[k] = v
	}
	return out
}

// SortedKeys returns m's keys in order, for stable display.
func SortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
