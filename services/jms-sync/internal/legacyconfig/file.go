package legacyconfig

import (
	"time"

	"github.com/jmssync/jmssync/libs/config"
)

// Provider is the collector a cloud entry goes to.
type Provider string

const (
	ProviderAliyun Provider = "aliyun"      // type 阿里云 (or aliyun)
	ProviderHuawei Provider = "huaweicloud" // type 华为云 (or huaweicloud, huawei)
)

// File is a parsed and validated config.yaml. Secrets are [config.Secret] so
// that printing a File never shows them. The per-cloud keys of the jmssync
// section (jmssync.clouds.<name>.*) are merged into the [Cloud] they name.
type File struct {
	Environment  Environment
	JumpServer   JumpServer
	Clouds       []Cloud
	Sync         Sync
	Notification Notification
	Log          Log
	JMSSync      JMSSync
}

// Environment is the old environment section (only type: PRODUCTION
// mattered, for the default log level).
type Environment struct {
	Type string
}

// JumpServer is the jumpserver section.
type JumpServer struct {
	URL             string // trailing "/" removed
	AccessKeyID     string
	AccessKeySecret config.Secret
	OrgID           string // "" = the service default (the Default org)
	VerifySSL       *bool  // nil = not given (verify)
	// AccountTemplates is the first commit's jumpserver.account_templates:
	// a mapping with the keys linux and windows (case-insensitive), each the
	// id or name of a JumpServer account template attached to the assets
	// jms-sync creates for that OS. Passed through as is; the applier
	// resolves it.
	AccountTemplates AccountTemplates
}

// AccountTemplates is jumpserver.account_templates.
type AccountTemplates struct {
	Linux   string
	Windows string
}

// Cloud is one clouds[] entry, with the keys of jmssync.clouds.<name>.
type Cloud struct {
	Type            string   // as written (阿里云, aliyun, 华为云, …)
	Provider        Provider // "" for an unknown type of a disabled entry
	Name            string
	Enabled         bool // default true
	AccessKeyID     string
	AccessKeySecret config.Secret
	Regions         []string
	// ProjectID is the old single project id (华为云). It is used for the
	// region only when Regions has exactly one entry; see ProjectIDs.
	ProjectID string
	// DomainID is parsed and ignored (the old tool ignored it too; a zone is
	// named by jmssync.clouds.<name>.zone).
	DomainID string

	// From jmssync.clouds.<name>:

	// ID is the stable account id used in scopes; it defaults to Name.
	ID string
	// Endpoint (Aliyun: this account's endpoint; Huawei: ECS endpoint, which
	// must then be the same for every Huawei cloud) and IAMEndpoint (Huawei).
	Endpoint    string
	IAMEndpoint string
	// ProjectIDs maps region → Huawei project id: jmssync project_ids, plus
	// the old project_id for a single-region entry. Regions without an id
	// are looked up through IAM by the collector.
	ProjectIDs          map[string]string
	EnterpriseProjectID string
	// Zone is the JumpServer zone (domain before v4.10) name for this
	// account's assets; "" leaves the zone alone.
	Zone string

	line int
}

// Sync is the sync section.
type Sync struct {
	Whitelist    []string // IPs or CIDRs; applied (the old tool ignored it)
	ProtectedIPs []string // IPs or CIDRs
	NoDelete     bool
	// ParallelWorkers and BatchSize (first commit) drive the applier's
	// JumpServer concurrency and batch size; nil when not given.
	ParallelWorkers *int
	BatchSize       *int
	// CacheTTL is parsed and ignored.
	CacheTTL *int
}

// Notification is the notification section.
type Notification struct {
	DingTalk DingTalk
}

// DingTalk is notification.dingtalk.
type DingTalk struct {
	Present   bool // the section exists
	Enabled   bool // default false
	Webhook   config.Secret
	Secret    config.Secret
	AtMobiles []string
	AtAll     bool
}

// Log is the log section.
type Log struct {
	Level       string // as written, e.g. INFO
	File        string
	MaxSize     *int // MB
	BackupCount *int
	// Parsed and ignored (jms-sync always logs JSON, has no detailed format
	// and no separate error file).
	JSONFormat       *bool
	Detailed         *bool
	SeparateErrorLog *bool
}

// JMSSync is the jmssync section: keys the old tool did not have.
type JMSSync struct {
	InstallID         string
	AliyunEndpoint    string
	HuaweiEndpoint    string
	HuaweiIAMEndpoint string
	Policy            Policy
}

// Policy is jmssync.sync: the reconciler's decisions. Nil or empty fields are
// not given (the service default applies).
type Policy struct {
	Stopped      string // keep | deactivate
	AbsentPasses *int
	DeleteGrace  *time.Duration
	DeleteBudget *int
	// DeleteBudgetPercent is in percent (10 = 10 %), 0–100.
	DeleteBudgetPercent *float64
	// Address is the address preference, first usable wins: private,
	// public, eip.
	Address []string
}

// SecretValues returns every non-empty secret of the file (to register with
// the logger's redaction: logging.RegisterSecrets(f.SecretValues()...)).
func (f *File) SecretValues() []string {
	var out []string
	add := func(s config.Secret) {
		if s.IsSet() {
			out = append(out, s.Reveal())
		}
	}
	add(f.JumpServer.AccessKeySecret)
	for _, c := range f.Clouds {
		add(c.AccessKeySecret)
	}
	add(f.Notification.DingTalk.Webhook)
	add(f.Notification.DingTalk.Secret)
	if tok := webhookToken(f.Notification.DingTalk.Webhook.Reveal()); tok != "" {
		out = append(out, tok)
	}
	return out
}

// StableID is the cloud's stable id (ID, else Name).
func (c Cloud) StableID() string {
	if c.ID != "" {
		return c.ID
	}
	return c.Name
}
