package legacyconfig

import (
	"maps"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// cloudTypes maps the accepted clouds[].type values to a provider: the old
// validator's 阿里云/华为云 and the factory's latin names.
var cloudTypes = map[string]Provider{
	"阿里云": ProviderAliyun, "aliyun": ProviderAliyun,
	"华为云": ProviderHuawei, "huaweicloud": ProviderHuawei, "huawei": ProviderHuawei,
}

// logLevels maps the old tool's Python level names to zerolog levels.
// CRITICAL (and FATAL) map to error: jms-sync logs nothing at a critical
// level, so "critical only" would silence the errors the operator wanted.
var logLevels = map[string]string{
	"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "WARN": "warn",
	"ERROR": "error", "CRITICAL": "error", "FATAL": "error",
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (d *decoder) validate(f *File) {
	d.validateJumpServer(&f.JumpServer)
	d.validateClouds(f)
	d.validateSync(&f.Sync)
	d.validateDingTalk(&f.Notification.DingTalk)
	d.validateLog(f)
	d.validateJMSSync(&f.JMSSync)
}

// checkURL reports a value that is not an http(s) URL with a host, without
// printing it (a URL may carry a token or credentials).
func (d *decoder) checkURL(path, s string, allowUser bool) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.problemf(path, "must be an http:// or https:// URL with a host")
		return false
	}
	if u.User != nil && !allowUser {
		d.problemf(path, "must not carry a user or password")
		return false
	}
	return true
}

// checkText reports control characters, and the characters listed in seps
// that the environment encoding (lists, key:value) cannot carry.
func (d *decoder) checkText(path, s, seps string) {
	switch {
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		d.problemf(path, "must not contain control characters")
	case seps != "" && strings.ContainsAny(s, seps):
		d.problemf(path, "must not contain any of %q", seps)
	}
}

func (d *decoder) validateJumpServer(js *JumpServer) {
	if js.URL == "" {
		d.required("jumpserver.url", "required")
	} else if d.checkURL("jumpserver.url", js.URL, false) {
		js.URL = strings.TrimRight(js.URL, "/")
	}
	if js.AccessKeyID == "" {
		d.required("jumpserver.access_key_id", "required")
	}
	if !js.AccessKeySecret.IsSet() {
		d.required("jumpserver.access_key_secret", "required")
	}
	if js.OrgID != "" && !uuidRE.MatchString(js.OrgID) {
		d.problemf("jumpserver.org_id", "must be an organisation id (a UUID such as 00000000-0000-0000-0000-000000000002)")
	}
	if js.VerifySSL != nil && !*js.VerifySSL {
		d.warnf("jumpserver.verify_ssl", WarnChanged, "the old tool ignored verify_ssl: false and always verified the certificate; jms-sync honours it and will NOT verify JumpServer's certificate")
	}
}

func (d *decoder) validateClouds(f *File) {
	if len(f.Clouds) == 0 {
		d.required("clouds", "at least one cloud is required")
		return
	}
	names := map[string]int{}
	ids := map[string]int{}
	type keyRegion struct {
		provider    Provider
		key, region string
	}
	listed := map[keyRegion]int{}
	enabled := 0
	for i := range f.Clouds {
		c := &f.Clouds[i]
		p := index("clouds", i)
		c.Provider = cloudTypes[strings.ToLower(c.Type)]

		if c.Name == "" {
			d.required(p+".name", "required")
		} else {
			d.checkText(p+".name", c.Name, "")
			if j, dup := names[c.Name]; dup {
				d.problemf(p+".name", "%s is also the name of clouds[%d]; names must be unique", d.show(p+".name", c.Name), j)
			} else {
				names[c.Name] = i
			}
		}
		if c.ID == "" {
			c.ID = c.Name
		}
		if c.ID != "" {
			idPath := p + ".name"
			if c.ID != c.Name {
				idPath = "jmssync.clouds." + c.Name + ".id"
			}
			if c.ID == c.Name && strings.ContainsAny(c.ID, ":,") {
				d.problemf(idPath, "is also the account id, which must not contain ':' or ','; set jmssync.clouds.<name>.id")
			} else {
				d.checkText(idPath, c.ID, ":,")
			}
			switch j, dup := ids[c.ID]; {
			case !dup:
				ids[c.ID] = i
			case c.ID == c.Name && f.Clouds[j].Name == c.Name:
				// reported above as a duplicate name
			default:
				d.problemf(idPath, "%s is also the id of clouds[%d]; ids must be unique (set jmssync.clouds.<name>.id)", d.show(idPath, c.ID), j)
			}
		}

		switch {
		case c.Type == "" && c.Enabled:
			d.required(p+".type", "required (阿里云 or 华为云)")
		case c.Provider == "" && c.Enabled:
			d.problemf(p+".type", "must be 阿里云 or 华为云 (or aliyun, huaweicloud), not %s", d.show(p+".type", c.Type))
		}
		if !c.Enabled {
			if !c.emitted() {
				d.warnf(p, WarnSuspicious, "disabled and without a known type, access key or regions: not passed to any collector")
			}
			continue
		}
		enabled++
		if c.AccessKeyID == "" {
			d.required(p+".access_key_id", "required for an enabled cloud")
		}
		if !c.AccessKeySecret.IsSet() {
			d.required(p+".access_key_secret", "required for an enabled cloud")
		}
		if len(c.Regions) == 0 {
			d.required(p+".regions", "at least one region")
		}
		seen := map[string]bool{}
		for ri, r := range c.Regions {
			rp := index(p+".regions", ri)
			d.checkText(rp, r, ":,")
			if seen[r] {
				d.problemf(rp, "region %s is listed twice", d.show(rp, r))
				continue
			}
			seen[r] = true
			if c.AccessKeyID == "" || c.Provider == "" {
				continue
			}
			k := keyRegion{c.Provider, c.AccessKeyID, r}
			if j, dup := listed[k]; dup {
				d.problemf(rp, "region %s is already listed with the same access key by clouds[%d]; the same instances would belong to two accounts", d.show(rp, r), j)
			} else {
				listed[k] = i
			}
		}
		d.validateCloudKeys(f, c, p)
	}
	if enabled == 0 {
		d.warnf("clouds", WarnSuspicious, "no cloud is enabled: nothing will be synced")
	}
	d.collapseHuaweiEndpoints(f)
}

// validateCloudKeys checks an enabled cloud's provider-specific keys and
// settles its Huawei project ids.
func (d *decoder) validateCloudKeys(f *File, c *Cloud, p string) {
	jp := "jmssync.clouds." + c.Name
	if c.Zone != "" {
		d.checkText(jp+".zone", c.Zone, ":,")
	}
	if c.Endpoint != "" {
		d.checkURL(jp+".endpoint", c.Endpoint, false)
	}
	if c.IAMEndpoint != "" {
		d.checkURL(jp+".iam_endpoint", c.IAMEndpoint, false)
	}
	switch c.Provider {
	case ProviderAliyun:
		if c.ProjectID != "" {
			d.warnf(p+".project_id", WarnIgnoredKey, "ignored: project ids exist only for 华为云")
		}
		for key, set := range map[string]bool{"iam_endpoint": c.IAMEndpoint != "", "project_ids": len(c.ProjectIDs) > 0, "enterprise_project_id": c.EnterpriseProjectID != ""} {
			if set {
				d.problemf(jp+"."+key, "only for 华为云 clouds")
			}
		}
	case ProviderHuawei:
		explicit := c.ProjectIDs
		ids := map[string]string{}
		for _, r := range slices.Sorted(maps.Keys(explicit)) {
			if !slices.Contains(c.Regions, r) {
				d.problemf(jp+".project_ids."+r, "region %q is not in %s.regions", r, p)
				continue
			}
			ids[r] = explicit[r]
		}
		if c.ProjectID != "" {
			switch {
			case len(c.Regions) == 1 && ids[c.Regions[0]] == "":
				ids[c.Regions[0]] = c.ProjectID
			case len(c.Regions) == 1 && ids[c.Regions[0]] != c.ProjectID:
				d.warnf(p+".project_id", WarnSuspicious, "differs from %s.project_ids.%s, which is used", jp, c.Regions[0])
			case len(c.Regions) > 1:
				d.warnf(p+".project_id", WarnSuspicious, "one project id for %d regions: Huawei project ids are per region, so the old tool listed every region but one with the wrong id (and then deleted their assets). "+
					"jms-sync does not use it: the collector looks each region's project id up through IAM; set %s.project_ids (region: id) to pin them", len(c.Regions), jp)
			}
		}
		byID := map[string][]string{}
		for _, r := range c.Regions {
			if id := ids[r]; id != "" {
				byID[id] = append(byID[id], r)
			}
		}
		for _, id := range slices.Sorted(maps.Keys(byID)) {
			if rs := byID[id]; len(rs) > 1 {
				d.warnf(jp+".project_ids", WarnSuspicious, "regions %s share one project id; Huawei project ids are per region, so all but one are probably wrong", strings.Join(rs, ", "))
			}
		}
		for r, id := range ids {
			d.checkText(jp+".project_ids."+r, id, ":,")
		}
		if len(ids) == 0 {
			ids = nil
		}
		c.ProjectIDs = ids
	}
}

// collapseHuaweiEndpoints turns per-cloud Huawei endpoints into the
// collector-wide ones: the Huawei collector has one ECS and one IAM endpoint
// for all its accounts.
func (d *decoder) collapseHuaweiEndpoints(f *File) {
	j := &f.JMSSync
	for _, e := range []struct {
		key    string
		global *string
		get    func(*Cloud) string
	}{
		{"endpoint", &j.HuaweiEndpoint, func(c *Cloud) string { return c.Endpoint }},
		{"iam_endpoint", &j.HuaweiIAMEndpoint, func(c *Cloud) string { return c.IAMEndpoint }},
	} {
		for i := range f.Clouds {
			c := &f.Clouds[i]
			v := e.get(c)
			if c.Provider != ProviderHuawei || v == "" {
				continue
			}
			if *e.global == "" {
				*e.global = v
				continue
			}
			if *e.global != v {
				d.problemf("jmssync.clouds."+c.Name+"."+e.key, "the Huawei collector uses one %s for all 华为云 clouds; this one differs from another cloud's or from jmssync.huawei_%s", e.key, e.key)
			}
		}
	}
}

// emitted reports whether the cloud goes to a collector: enabled entries
// always (they are valid by then), disabled ones only when complete enough
// for the collector's validation (the old tool did not check them).
func (c *Cloud) emitted() bool {
	if c.Provider == "" {
		return false
	}
	return c.Enabled || (c.AccessKeyID != "" && c.AccessKeySecret.IsSet() && len(c.Regions) > 0 && c.StableID() != "")
}

func (d *decoder) validatePrefixes(path string, entries []string) {
	for i, e := range entries {
		var err error
		if strings.Contains(e, "/") {
			_, err = netip.ParsePrefix(e)
		} else {
			_, err = netip.ParseAddr(e)
		}
		if err != nil {
			d.problemf(index(path, i), "not an IP address or CIDR: %s", d.show(index(path, i), e))
		}
	}
}

func (d *decoder) validateSync(s *Sync) {
	d.validatePrefixes("sync.whitelist", s.Whitelist)
	d.validatePrefixes("sync.protected_ips", s.ProtectedIPs)
	if len(s.Whitelist) > 0 {
		d.warnf("sync.whitelist", WarnChanged, "the old tool ignored the whitelist; jms-sync applies it: only instances whose address is inside are synced (the others are left alone, never deleted)")
	}
	if s.NoDelete {
		d.warnf("sync.no_delete", WarnChanged, "nothing is deleted, as before; but an instance gone from the cloud has its asset deactivated (is_active=false) after jmssync.sync.absent_passes passes")
	}
	if s.ParallelWorkers != nil && *s.ParallelWorkers < 1 {
		d.problemf("sync.parallel_workers", "must be at least 1, not %d", *s.ParallelWorkers)
	}
	if s.BatchSize != nil && *s.BatchSize < 1 {
		d.problemf("sync.batch_size", "must be at least 1, not %d", *s.BatchSize)
	}
}

func (d *decoder) validateDingTalk(dt *DingTalk) {
	const p = "notification.dingtalk"
	if len(dt.AtMobiles) > 0 || dt.AtAll {
		d.warnf(p, WarnChanged, "the old tool never @-mentioned anyone (its cards cannot); jms-sync sends markdown with the @-mentions of at_mobiles / at_all")
	}
	if !dt.Enabled {
		return
	}
	if !dt.Webhook.IsSet() {
		d.required(p+".webhook", "required when notification.dingtalk.enabled is true")
	} else if d.checkURL(p+".webhook", dt.Webhook.Reveal(), false) && webhookToken(dt.Webhook.Reveal()) == "" {
		d.problemf(p+".webhook", "must contain ?access_token=…")
	}
	if dt.Secret.IsSet() && !strings.HasPrefix(dt.Secret.Reveal(), "SEC") {
		d.problemf(p+".secret", "a DingTalk signing secret starts with SEC")
	}
}

func webhookToken(webhook string) string {
	u, err := url.Parse(strings.TrimSpace(webhook))
	if err != nil {
		return ""
	}
	return u.Query().Get("access_token")
}

func (d *decoder) validateLog(f *File) {
	l := &f.Log
	if l.Level != "" {
		lvl := strings.ToUpper(l.Level)
		switch _, ok := logLevels[lvl]; {
		case !ok:
			d.problemf("log.level", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not %s", d.show("log.level", l.Level))
		case lvl == "CRITICAL" || lvl == "FATAL":
			d.warnf("log.level", WarnChanged, "jms-sync has no critical level: %s logs errors", lvl)
		}
	}
	if l.MaxSize != nil && *l.MaxSize <= 0 {
		d.problemf("log.max_size", "must be a positive number of MB, not %d", *l.MaxSize)
	}
	if l.BackupCount != nil && *l.BackupCount < 0 {
		d.problemf("log.backup_count", "must not be negative, not %d", *l.BackupCount)
	}
	if l.File != "" {
		d.checkText("log.file", l.File, "")
	}
}

func (d *decoder) validateJMSSync(j *JMSSync) {
	if j.InstallID != "" {
		d.checkText("jmssync.install_id", j.InstallID, ":,")
	}
	for _, e := range []struct{ key, v string }{
		{"aliyun_endpoint", j.AliyunEndpoint}, {"huawei_endpoint", j.HuaweiEndpoint}, {"huawei_iam_endpoint", j.HuaweiIAMEndpoint},
	} {
		if e.v != "" {
			d.checkURL("jmssync."+e.key, e.v, false)
		}
	}
	p := &j.Policy
	const pp = "jmssync.sync"
	switch p.Stopped {
	case "", "keep", "deactivate":
	default:
		d.problemf(pp+".stopped", "must be keep or deactivate, not %s", d.show(pp+".stopped", p.Stopped))
	}
	if p.AbsentPasses != nil && *p.AbsentPasses < 1 {
		d.problemf(pp+".absent_passes", "must be at least 1, not %d", *p.AbsentPasses)
	}
	if p.DeleteGrace != nil && *p.DeleteGrace < 0 {
		d.problemf(pp+".delete_grace", "must not be negative, not %s", *p.DeleteGrace)
	}
	if p.DeleteBudget != nil && *p.DeleteBudget < 0 {
		d.problemf(pp+".delete_budget", "must not be negative, not %d", *p.DeleteBudget)
	}
	if p.DeleteBudgetPercent != nil && (*p.DeleteBudgetPercent < 0 || *p.DeleteBudgetPercent > 100) {
		d.problemf(pp+".delete_budget_percent", "must be 0 to 100 (percent), not %v", *p.DeleteBudgetPercent)
	}
	seen := map[string]bool{}
	for i, a := range p.Address {
		switch {
		case a != "private" && a != "public" && a != "eip":
			d.problemf(index(pp+".address", i), "must be private, public or eip, not %s", d.show(index(pp+".address", i), a))
		case seen[a]:
			d.problemf(index(pp+".address", i), "%s is listed twice", a)
		}
		seen[a] = true
	}
}

// logLevel is the JMSSYNC_LOG_LEVEL for the file: log.level, or the old
// default when environment.type is given (INFO for PRODUCTION, else DEBUG).
// Without either the services' default (info) applies: the old tool's DEBUG
// default is not carried over.
func (f *File) logLevel() string {
	if f.Log.Level != "" {
		return logLevels[strings.ToUpper(f.Log.Level)]
	}
	switch {
	case f.Environment.Type == "":
		return ""
	case strings.EqualFold(f.Environment.Type, "PRODUCTION"):
		return "info"
	default:
		return "debug"
	}
}
