package jmssim

import (
	"sort"
	"strings"
)

// platformProto is one protocol a platform offers.
type platformProto struct {
	Name     string
	Port     int
	Primary  bool
	Required bool
	Default  bool
}

// platform is a global, read-only platform row (spec §4.3).
type platform struct {
	ID             int
	Name           string
	Category       string
	Type           string
	Protocols      []platformProto
	GatewayEnabled bool
	PingEnabled    bool
	GatherFacts    bool
	PushAccount    bool
	SuEnabled      bool

	autoConfig *autoConfig // representation of auto_config
}

func pp(spec string) []platformProto {
	// spec: "ssh:22 telnet:23 sftp:22:d" — first is primary, ":d" marks default.
	var out []platformProto
	for i, f := range strings.Fields(spec) {
		parts := strings.Split(f, ":")
		p := platformProto{Name: parts[0], Primary: i == 0}
		for _, c := range parts[1] {
			p.Port = p.Port*10 + int(c-'0')
		}
		if len(parts) > 2 && parts[2] == "d" {
			p.Default = true
		}
		out = append(out, p)
	}
	return out
}

const (
	unixProtos    = "ssh:22 telnet:23 vnc:5900 rdp:3389"
	windowsProtos = "rdp:3389 ssh:22 vnc:5900 winrm:5985"
)

// builtinPlatforms returns the fresh-install platform table for a version.
func builtinPlatforms(version string) []*platform {
	host := func(id int, name, typ, protos string) *platform {
		return &platform{ID: id, Name: name, Category: "host", Type: typ, Protocols: pp(protos),
			GatewayEnabled: true, PingEnabled: true, GatherFacts: true, PushAccount: true, SuEnabled: true}
	}
	dev := func(id int, name string) *platform {
		return &platform{ID: id, Name: name, Category: "device", Type: "general", Protocols: pp("ssh:22 telnet:23"),
			GatewayEnabled: true, PingEnabled: true, PushAccount: true, SuEnabled: true}
	}
	db := func(id int, name, typ string, port string) *platform {
		return &platform{ID: id, Name: name, Category: "database", Type: typ, Protocols: pp(typ + ":" + port),
			GatewayEnabled: true, PingEnabled: true, GatherFacts: true, PushAccount: true}
	}
	other := func(id int, name, cat, typ, protos string) *platform {
		return &platform{ID: id, Name: name, Category: cat, Type: typ, Protocols: pp(protos)}
	}
	ps := []*platform{
		host(1, "Linux", "linux", "ssh:22 telnet:23 vnc:5900 rdp:3389 sftp:22:d"),
		host(2, "Unix", "unix", unixProtos),
		host(3, "macOS", "unix", unixProtos),
		host(4, "BSD", "unix", unixProtos),
		host(5, "Windows", "windows", windowsProtos),
		host(6, "Windows2016", "windows", "rdp:3389:d ssh:22:d sftp:22:d vnc:5900:d winrm:5985:d"),
		host(7, "Other", "other", "ssh:22:d sftp:22:d telnet:23:d vnc:5900:d rdp:3389:d"),
		host(8, "Windows-RDP", "windows", windowsProtos),
		host(9, "Windows-TLS", "windows", windowsProtos),
		host(10, "AIX", "unix", unixProtos),
		host(11, "Gateway", "linux", "ssh:22 telnet:23 vnc:5900 rdp:3389 sftp:22:d"),
		host(12, "RemoteAppHost", "windows", "rdp:3389 ssh:22:d winrm:5985"),
		dev(13, "General"),
		dev(14, "Cisco"),
		dev(15, "Huawei"),
		dev(16, "H3C"),
		db(17, "MySQL", "mysql", "3306"),
		db(18, "MariaDB", "mariadb", "3306"),
		db(19, "PostgreSQL", "postgresql", "5432"),
		db(20, "Oracle", "oracle", "1521"),
		db(21, "SQLServer", "sqlserver", "1433"),
		db(22, "ClickHouse", "clickhouse", "9000"),
		db(23, "MongoDB", "mongodb", "27017"),
		db(24, "Redis", "redis", "6379"),
		db(25, "Redis6+", "redis", "6379"),
		other(26, "Website", "web", "website", "http:80"),
		other(27, "Vmware-vSphere", "cloud", "private", "http:80"),
		other(28, "Kubernetes", "cloud", "k8s", "k8s:443"),
		other(29, "ChatGPT", "gpt", "chatgpt", "chatgpt:443"),
		db(30, "DB2", "db2", "50000"),
		db(31, "Dameng", "dameng", "5236"),
	}
	if version == V410 {
		// v4.9+ migration assets/0017: General becomes a directory-service
		// platform (inferred), and WindowsActiveDirectory appears.
		ps[12].Category, ps[12].Type = "ds", "general"
		ad := other(32, "WindowsActiveDirectory", "ds", "windows_ad", windowsProtos)
		ad.GatewayEnabled, ad.PingEnabled = true, true
		ps = append(ps, ad)
	}
	for _, p := range ps {
		p.autoConfig = &autoConfig{SuEnabled: p.SuEnabled, GatewayEnabled: p.GatewayEnabled,
			AnsibleEnabled: p.PingEnabled, PingEnabled: p.PingEnabled, GatherFactsEnabled: p.GatherFacts,
			PushAccountEnabled: p.PushAccount, ChangeSecretEnabled: p.PushAccount, VerifyAccountEnabled: p.PingEnabled,
			GatherAccountsEnabled: p.GatherFacts, RemoveAccountEnabled: p.PushAccount, AnsibleConfig: struct{}{},
			PingMethod: "posix_ping", GatherFactsMethod: "gather_facts_posix", PushAccountMethod: "push_account_posix",
			Source: "builtin"}
	}
	return ps
}

// autoConfig is the asset's auto_config (the platform's automation flags).
type autoConfig struct {
	SuEnabled             bool     `json:"su_enabled"`
	GatewayEnabled        bool     `json:"gateway_enabled"`
	AnsibleEnabled        bool     `json:"ansible_enabled"`
	PingEnabled           bool     `json:"ping_enabled"`
	GatherFactsEnabled    bool     `json:"gather_facts_enabled"`
	PushAccountEnabled    bool     `json:"push_account_enabled"`
	ChangeSecretEnabled   bool     `json:"change_secret_enabled"`
	VerifyAccountEnabled  bool     `json:"verify_account_enabled"`
	GatherAccountsEnabled bool     `json:"gather_accounts_enabled"`
	RemoveAccountEnabled  bool     `json:"remove_account_enabled"`
	AnsibleConfig         struct{} `json:"ansible_config"`
	PingMethod            string   `json:"ping_method"`
	GatherFactsMethod     string   `json:"gather_facts_method"`
	PushAccountMethod     string   `json:"push_account_method"`
	Source                string   `json:"platform_automation_source"`
}

// applyPlatformIDs renumbers platforms by name; colliding ones move past the
// highest id.
func applyPlatformIDs(ps []*platform, ids map[string]int) {
	if len(ids) == 0 {
		return
	}
	used := map[int]bool{}
	maxID := 0
	for _, p := range ps {
		if id, ok := ids[p.Name]; ok && id > 0 {
			p.ID = id
			used[id] = true
		}
		if p.ID > maxID {
			maxID = p.ID
		}
	}
	for _, p := range ps {
		if _, ok := ids[p.Name]; ok {
			continue
		}
		if used[p.ID] {
			maxID++
			p.ID = maxID
		}
		used[p.ID] = true
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
}

var choiceLabels = map[string]string{
	"host": "Host", "device": "Device", "database": "Database", "cloud": "Cloud", "web": "Web",
	"gpt": "GPT", "ds": "Directory service", "custom": "Custom",
	"linux": "Linux", "windows": "Windows", "unix": "Unix", "macos": "macOS", "other": "Other",
	"general": "General", "mysql": "MySQL", "mariadb": "MariaDB", "postgresql": "PostgreSQL",
	"oracle": "Oracle", "sqlserver": "SQLServer", "clickhouse": "ClickHouse", "mongodb": "MongoDB",
	"redis": "Redis", "db2": "DB2", "dameng": "Dameng", "website": "Website", "private": "Private cloud",
	"k8s": "Kubernetes", "chatgpt": "ChatGPT", "windows_ad": "Windows Active Directory",
	"-": "Unknown", "na": "N/A", "ok": "OK", "err": "Error",
	"password": "Password", "ssh_key": "SSH key", "access_key": "Access key", "token": "Token", "api_key": "API key",
	"local": "Local", "template": "Template", "collected": "Collected",
}

var validCategories = []string{"host", "device", "database", "cloud", "web", "gpt", "ds", "custom"}
var validTypes = []string{"linux", "windows", "unix", "macos", "other", "general", "mysql", "mariadb",
	"postgresql", "oracle", "sqlserver", "clickhouse", "mongodb", "redis", "db2", "dameng", "website",
	"private", "k8s", "chatgpt", "windows_ad", "public", "custom"}

type labeled struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

func choice(v string) labeled {
	l, ok := choiceLabels[v]
	if !ok {
		l = v
	}
	return labeled{Value: v, Label: l}
}

func (s *Server) platformJSON(p *platform, assetsAmount int) map[string]any {
	protos := make([]map[string]any, len(p.Protocols))
	for i, pr := range p.Protocols {
		protos[i] = map[string]any{"id": p.ID*100 + i + 1, "name": pr.Name, "port": pr.Port, "primary": pr.Primary,
			"required": pr.Required, "default": pr.Default, "public": true, "setting": map[string]any{},
			"port_from_addr": false, "secret_types": []string{"password", "ssh_key"}}
	}
	m := map[string]any{
		"id": p.ID, "name": p.Name, "internal": true, "category": choice(p.Category), "type": choice(p.Type),
		"charset": labeled{"utf-8", "UTF-8"}, "protocols": protos, "su_enabled": p.SuEnabled,
		"su_method": labeled{"sudo", "sudo su -"}, "automation": p.autoConfig, "comment": "",
		"custom_fields": []any{}, "labels": []any{}, "has_package": false, "assets_amount": assetsAmount,
		"date_created": s.fmtTime(s.started, nil), "date_updated": s.fmtTime(s.started, nil),
		"created_by": "System", "updated_by": "System",
	}
	if s.v47() {
		m["domain_enabled"] = p.GatewayEnabled
	} else {
		m["gateway_enabled"] = p.GatewayEnabled
		m["ds_enabled"] = p.Category == "ds"
	}
	return m
}
