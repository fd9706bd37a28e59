package legacyconfig

import (
	"cmp"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/jmssync/jmssync/libs/config"
)

// Parse reads the old tool's config.yaml (and the jmssync section), replaces
// every ${NAME} / ${NAME:default} in every string value with getenv (nil:
// the process environment) before anything is checked, and validates the
// result. It returns every problem at once in an *[Error]; warnings (unknown
// keys, keys the old tool had that jms-sync ignores, changed behaviour,
// unset variables) are returned in both cases. No message holds a secret.
func Parse(data []byte, getenv func(string) (string, bool)) (*File, []Warning, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, &Error{Problems: []Problem{{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	d := newDecoder(getenv)
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if isNull(doc) || doc.Kind == yaml.DocumentNode {
		return nil, nil, &Error{Problems: []Problem{{Msg: "the file is empty"}}}
	}
	f := &File{}
	d.file(doc, f)
	d.validate(f)

	// In file order, so that `validate` reads along the file; problems
	// without a line (a missing section) first.
	slices.SortStableFunc(d.problems, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	slices.SortStableFunc(d.warnings, func(a, b Warning) int { return cmp.Compare(a.Line, b.Line) })

	secrets := f.SecretValues()
	for i := range d.problems {
		d.problems[i].Msg = mask(d.problems[i].Msg, secrets)
	}
	for i := range d.warnings {
		d.warnings[i].Msg = mask(d.warnings[i].Msg, secrets)
	}
	if len(d.problems) > 0 {
		return nil, d.warnings, &Error{Problems: d.problems}
	}
	return f, d.warnings, nil
}

// mask replaces secret values in s: messages are built not to hold them, this
// is the second line of defence (a secret pasted into the wrong key).
func mask(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, config.Redacted)
		}
	}
	return s
}

func (d *decoder) file(doc *yaml.Node, f *File) {
	var jmssync *yaml.Node
	jmssyncPath := ""
	d.object(doc, "", spec{fields: map[string]func(*yaml.Node, string){
		"environment": func(v *yaml.Node, p string) {
			d.object(v, p, spec{fields: map[string]func(*yaml.Node, string){
				"type": func(v *yaml.Node, p string) { f.Environment.Type = d.str(v, p) },
			}})
		},
		"jumpserver":   func(v *yaml.Node, p string) { d.jumpServer(v, p, &f.JumpServer) },
		"clouds":       func(v *yaml.Node, p string) { f.Clouds = d.clouds(v, p) },
		"sync":         func(v *yaml.Node, p string) { d.sync(v, p, &f.Sync) },
		"notification": func(v *yaml.Node, p string) { d.notification(v, p, &f.Notification) },
		"log":          func(v *yaml.Node, p string) { d.log(v, p, &f.Log) },
		// Read last: jmssync.clouds names clouds[] entries.
		"jmssync": func(v *yaml.Node, p string) { jmssync, jmssyncPath = v, p },
	}, hints: map[string]string{
		"notifications": "did you mean notification?",
		"cloud":         "did you mean clouds?",
		"logging":       "did you mean log?",
	}})
	if jmssync != nil {
		d.jmsSync(jmssync, jmssyncPath, f)
	}
}

func (d *decoder) jumpServer(n *yaml.Node, path string, js *JumpServer) {
	d.object(n, path, spec{fields: map[string]func(*yaml.Node, string){
		"url":               func(v *yaml.Node, p string) { js.URL = d.str(v, p) },
		"access_key_id":     func(v *yaml.Node, p string) { js.AccessKeyID = d.str(v, p) },
		"access_key_secret": func(v *yaml.Node, p string) { js.AccessKeySecret = config.Secret(d.str(v, p)) },
		"org_id":            func(v *yaml.Node, p string) { js.OrgID = d.str(v, p) },
		"verify_ssl":        func(v *yaml.Node, p string) { js.VerifySSL = d.boolean(v, p) },
		"protocols": func(v *yaml.Node, p string) {
			why := "the old tool ignored it too; jms-sync takes protocols and ports from its OS mapping (Linux ssh/22, Windows rdp/3389) on create and keeps a port changed by hand in JumpServer"
			d.object(v, p, spec{ignored: map[string]string{"ssh_port": why, "rdp_port": why}})
		},
		"account_templates": func(v *yaml.Node, p string) { d.accountTemplates(v, p, &js.AccountTemplates) },
	}})
}

// accountTemplates reads jumpserver.account_templates: {linux: …, windows: …}
// (keys case-insensitive), each an account template id or name.
func (d *decoder) accountTemplates(n *yaml.Node, path string, t *AccountTemplates) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.problemf(path, "want a mapping of OS (linux, windows) to account template, got %s", kindName(n))
		return
	}
	for _, p := range d.pairs(n, path) {
		child := join(path, p.key)
		switch strings.ToLower(strings.TrimSpace(p.key)) {
		case "linux":
			t.Linux = d.str(p.v, child)
		case "windows":
			t.Windows = d.str(p.v, child)
		default:
			d.warnf(child, WarnUnknownKey, "unknown OS, ignored: account templates are given for linux and windows")
		}
	}
	if t.Linux != "" || t.Windows != "" {
		d.warnf(path, WarnChanged, "the old tool (HEAD) created assets without accounts; jms-sync attaches these account templates to the assets it creates")
	}
}

// newCloudKeys are keys of jmssync.clouds.<name>; written in clouds[] they
// get a hint instead of a bare "unknown key".
var newCloudKeys = []string{"id", "endpoint", "iam_endpoint", "project_ids", "enterprise_project_id", "zone"}

func (d *decoder) clouds(n *yaml.Node, path string) []Cloud {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.problemf(path, "want a list of clouds, got %s", kindName(n))
		return nil
	}
	hints := map[string]string{}
	for _, k := range newCloudKeys {
		hints[k] = "new keys go in the jmssync section: jmssync.clouds.<name>." + k
	}
	out := make([]Cloud, 0, len(n.Content))
	for i, e := range n.Content {
		p := index(path, i)
		d.lines[p] = e.Line
		c := Cloud{Enabled: true, line: e.Line}
		d.object(e, p, spec{fields: map[string]func(*yaml.Node, string){
			"type": func(v *yaml.Node, p string) { c.Type = d.str(v, p) },
			"name": func(v *yaml.Node, p string) { c.Name = d.str(v, p) },
			"enabled": func(v *yaml.Node, p string) {
				if b := d.boolean(v, p); b != nil {
					c.Enabled = *b
				}
			},
			"access_key_id":     func(v *yaml.Node, p string) { c.AccessKeyID = d.str(v, p) },
			"access_key_secret": func(v *yaml.Node, p string) { c.AccessKeySecret = config.Secret(d.str(v, p)) },
			"regions":           func(v *yaml.Node, p string) { c.Regions = d.list(v, p) },
			"project_id":        func(v *yaml.Node, p string) { c.ProjectID = d.str(v, p) },
			"domain_id": func(v *yaml.Node, p string) {
				if c.DomainID = d.str(v, p); c.DomainID != "" {
					d.warnf(p, WarnIgnoredKey, "ignored, as by the old tool (HEAD): it named a zone (网域) by id; give the zone's name in jmssync.clouds.<name>.zone")
				}
			},
		}, hints: hints})
		out = append(out, c)
	}
	return out
}

func (d *decoder) sync(n *yaml.Node, path string, s *Sync) {
	d.object(n, path, spec{fields: map[string]func(*yaml.Node, string){
		"whitelist":     func(v *yaml.Node, p string) { s.Whitelist = d.list(v, p) },
		"protected_ips": func(v *yaml.Node, p string) { s.ProtectedIPs = d.list(v, p) },
		"no_delete": func(v *yaml.Node, p string) {
			if b := d.boolean(v, p); b != nil {
				s.NoDelete = *b
			}
		},
		"parallel_workers": func(v *yaml.Node, p string) { s.ParallelWorkers = d.integer(v, p) },
		"batch_size":       func(v *yaml.Node, p string) { s.BatchSize = d.integer(v, p) },
		"cache_ttl": func(v *yaml.Node, p string) {
			s.CacheTTL = d.integer(v, p)
			d.warnf(p, WarnIgnoredKey, "ignored: jms-sync keeps a mirror of JumpServer updated by events instead of a cache with a TTL")
		},
	}})
}

func (d *decoder) notification(n *yaml.Node, path string, nt *Notification) {
	d.object(n, path, spec{fields: map[string]func(*yaml.Node, string){
		"dingtalk": func(v *yaml.Node, p string) {
			dt := &nt.DingTalk
			dt.Present = true
			d.object(v, p, spec{fields: map[string]func(*yaml.Node, string){
				"enabled": func(v *yaml.Node, p string) {
					if b := d.boolean(v, p); b != nil {
						dt.Enabled = *b
					}
				},
				"webhook":    func(v *yaml.Node, p string) { dt.Webhook = config.Secret(d.str(v, p)) },
				"secret":     func(v *yaml.Node, p string) { dt.Secret = config.Secret(d.str(v, p)) },
				"at_mobiles": func(v *yaml.Node, p string) { dt.AtMobiles = d.list(v, p) },
				"at_all": func(v *yaml.Node, p string) {
					if b := d.boolean(v, p); b != nil {
						dt.AtAll = *b
					}
				},
			}})
		},
	}})
}

func (d *decoder) log(n *yaml.Node, path string, l *Log) {
	d.object(n, path, spec{fields: map[string]func(*yaml.Node, string){
		"level":        func(v *yaml.Node, p string) { l.Level = d.str(v, p) },
		"file":         func(v *yaml.Node, p string) { l.File = d.str(v, p) },
		"max_size":     func(v *yaml.Node, p string) { l.MaxSize = d.integer(v, p) },
		"backup_count": func(v *yaml.Node, p string) { l.BackupCount = d.integer(v, p) },
		"json_format": func(v *yaml.Node, p string) {
			l.JSONFormat = d.boolean(v, p)
			d.warnf(p, WarnIgnoredKey, "ignored: jms-sync always writes JSON logs (the old tool's JSON output was not valid JSON)")
		},
		"detailed": func(v *yaml.Node, p string) {
			if l.Detailed = d.boolean(v, p); l.Detailed != nil && *l.Detailed {
				d.warnf(p, WarnIgnoredKey, "ignored: JSON log lines always carry the service, the level and the trace id")
			}
		},
		"separate_error_log": func(v *yaml.Node, p string) {
			if l.SeparateErrorLog = d.boolean(v, p); l.SeparateErrorLog != nil && *l.SeparateErrorLog {
				d.warnf(p, WarnIgnoredKey, "ignored: there is no separate error file; select level error in the JSON log")
			}
		},
	}})
}

// cloudKeys is one jmssync.clouds.<name> entry.
type cloudKeys struct {
	name, path                                         string
	id, endpoint, iamEndpoint, enterpriseProject, zone string
	projectIDs                                         map[string]string
}

func (d *decoder) jmsSync(n *yaml.Node, path string, f *File) {
	j := &f.JMSSync
	var perCloud []cloudKeys
	d.object(n, path, spec{fields: map[string]func(*yaml.Node, string){
		"install_id":          func(v *yaml.Node, p string) { j.InstallID = d.str(v, p) },
		"aliyun_endpoint":     func(v *yaml.Node, p string) { j.AliyunEndpoint = d.str(v, p) },
		"huawei_endpoint":     func(v *yaml.Node, p string) { j.HuaweiEndpoint = d.str(v, p) },
		"huawei_iam_endpoint": func(v *yaml.Node, p string) { j.HuaweiIAMEndpoint = d.str(v, p) },
		"clouds": func(v *yaml.Node, p string) {
			v = deref(v)
			if isNull(v) {
				return
			}
			if v.Kind != yaml.MappingNode {
				d.problemf(p, "want a mapping of cloud name (clouds[].name) to its new keys, got %s", kindName(v))
				return
			}
			for _, pr := range d.pairs(v, p) {
				k := cloudKeys{name: strings.TrimSpace(pr.key), path: join(p, pr.key)}
				d.object(pr.v, k.path, spec{fields: map[string]func(*yaml.Node, string){
					"id":                    func(v *yaml.Node, p string) { k.id = d.str(v, p) },
					"endpoint":              func(v *yaml.Node, p string) { k.endpoint = d.str(v, p) },
					"iam_endpoint":          func(v *yaml.Node, p string) { k.iamEndpoint = d.str(v, p) },
					"project_ids":           func(v *yaml.Node, p string) { k.projectIDs = d.stringMap(v, p) },
					"enterprise_project_id": func(v *yaml.Node, p string) { k.enterpriseProject = d.str(v, p) },
					"zone":                  func(v *yaml.Node, p string) { k.zone = d.str(v, p) },
				}})
				perCloud = append(perCloud, k)
			}
		},
		"sync": func(v *yaml.Node, p string) { d.policy(v, p, &j.Policy) },
	}})
	for _, k := range perCloud {
		i := -1
		for ci := range f.Clouds {
			if f.Clouds[ci].Name == k.name {
				i = ci
				break
			}
		}
		if i < 0 {
			d.problemf(k.path, "no clouds[] entry is named %q", k.name)
			continue
		}
		c := &f.Clouds[i]
		c.ID, c.Endpoint, c.IAMEndpoint, c.EnterpriseProjectID, c.Zone = k.id, k.endpoint, k.iamEndpoint, k.enterpriseProject, k.zone
		c.ProjectIDs = k.projectIDs
	}
}

func (d *decoder) policy(n *yaml.Node, path string, p *Policy) {
	d.object(n, path, spec{fields: map[string]func(*yaml.Node, string){
		"stopped":               func(v *yaml.Node, q string) { p.Stopped = strings.ToLower(d.str(v, q)) },
		"absent_passes":         func(v *yaml.Node, q string) { p.AbsentPasses = d.integer(v, q) },
		"delete_grace":          func(v *yaml.Node, q string) { p.DeleteGrace = d.duration(v, q) },
		"delete_budget":         func(v *yaml.Node, q string) { p.DeleteBudget = d.integer(v, q) },
		"delete_budget_percent": func(v *yaml.Node, q string) { p.DeleteBudgetPercent = d.percent(v, q) },
		"address": func(v *yaml.Node, q string) {
			for _, a := range d.list(v, q) {
				p.Address = append(p.Address, strings.ToLower(a))
			}
		},
	}, hints: map[string]string{
		"whitelist":     "the old key is sync.whitelist",
		"protected_ips": "the old key is sync.protected_ips",
		"no_delete":     "the old key is sync.no_delete",
	}})
}
