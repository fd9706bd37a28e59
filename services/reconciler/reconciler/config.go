package reconciler

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// DefaultOrgID is the id of JumpServer's Default organisation.
const DefaultOrgID = "00000000-0000-0000-0000-000000000002"

// Config is read from JMSSYNC_* variables (config.Load with prefix
// "JMSSYNC_"). The configured scopes are not a variable of their own: they
// are the collectors' accounts (JMSSYNC_ALIYUN_ACCOUNTS_<i>_ID, _NAME,
// _REGIONS, _DISABLED and the same under HUAWEI_ACCOUNTS), read here
// without their secrets, so one environment configures both. A disabled
// account, or a region no longer listed, is out of scope: its assets are
// orphaned, never deleted unless pruned.
type Config struct {
	NATS natsx.Config `envPrefix:"NATS_"`
	// InstallID names the ownership label and is part of every asset id.
	InstallID string `env:"INSTALL_ID"`
	OrgID     string `env:"JUMPSERVER_ORG_ID" envDefault:"00000000-0000-0000-0000-000000000002"`
	// RootNode is used when the applier's mirror-ready record carries no
	// root node (the applier discovers it from JumpServer).
	RootNode string `env:"JUMPSERVER_ROOT_NODE" envDefault:"DEFAULT"`

	// Whitelist and ProtectedIPs: IPs or CIDRs (old keys sync.whitelist,
	// sync.protected_ips).
	Whitelist    []string `env:"SYNC_WHITELIST"`
	ProtectedIPs []string `env:"SYNC_PROTECTED_IPS"`
	NoDelete     bool     `env:"SYNC_NO_DELETE"`
	// Stopped is keep or deactivate.
	Stopped      string        `env:"SYNC_STOPPED" envDefault:"keep"`
	AbsentPasses int           `env:"SYNC_ABSENT_PASSES" envDefault:"2"`
	DeleteGrace  time.Duration `env:"SYNC_DELETE_GRACE" envDefault:"24h"`
	// DeleteBudget is the number of deletions per scope and rolling 24 h
	// before the rest is held for confirm; 0 holds every deletion.
	DeleteBudget int `env:"SYNC_DELETE_BUDGET" envDefault:"20"`
	// DeleteBudgetPercent bounds it further by the scope's size, in percent
	// ("10" or "10%"; 0 disables the bound). A scope may always lose one
	// asset unless DeleteBudget is 0.
	DeleteBudgetPercent string `env:"SYNC_DELETE_BUDGET_PERCENT" envDefault:"10"`
	// ShrinkThreshold: a pass that lost more than this fraction of the last
	// usable pass ("0.3" or "30%") is suspicious.
	ShrinkThreshold string `env:"SYNC_SHRINK_THRESHOLD" envDefault:"0.3"`
	// Address is the order of address sources: private, public, eip.
	Address     []string `env:"SYNC_ADDRESS" envDefault:"private,public,eip"`
	PreferCIDRs []string `env:"SYNC_PREFER_CIDRS"`
	// Zones are "account-id:zone" pairs (zone, or domain before 4.10).
	Zones []string `env:"SYNC_ZONES"`

	AccountTemplateLinux   string `env:"ACCOUNT_TEMPLATE_LINUX"`
	AccountTemplateWindows string `env:"ACCOUNT_TEMPLATE_WINDOWS"`
	PlatformLinux          string `env:"PLATFORM_LINUX" envDefault:"Linux"`
	PlatformWindows        string `env:"PLATFORM_WINDOWS" envDefault:"Windows"`

	// The collectors' accounts, non-secret fields only.
	AliyunAccounts []CloudAccount `envPrefix:"ALIYUN_ACCOUNTS"`
	HuaweiAccounts []CloudAccount `envPrefix:"HUAWEI_ACCOUNTS"`

	// Interval between cycles without a new pass; Debounce is the quiet
	// period after a usable pass before a cycle, so the passes of one
	// collector cycle are decided together.
	Interval time.Duration `env:"RECONCILE_INTERVAL" envDefault:"10m"`
	Debounce time.Duration `env:"RECONCILE_DEBOUNCE" envDefault:"5s"`

	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9464"`
	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`
}

// CloudAccount is the part of a collector's account the reconciler reads.
type CloudAccount struct {
	// ID is the stable id used in scopes; it defaults to Name.
	ID       string   `env:"ID"`
	Name     string   `env:"NAME"`
	Regions  []string `env:"REGIONS"`
	Disabled bool     `env:"DISABLED"`
}

// StableID is the account id, defaulting to its name.
func (a CloudAccount) StableID() string { return asset.StableAccountID(a.ID, a.Name) }

// Validate names the missing pieces of one account.
func (a CloudAccount) Validate() error {
	var errs []error
	if a.StableID() == "" {
		errs = append(errs, config.Invalid("ID", "give the account an id or a name"))
	} else if msg := asset.CheckText(a.StableID(), true); msg != "" {
		errs = append(errs, config.Invalid("ID", "%s", msg))
	}
	if msg := asset.CheckText(a.Name, false); msg != "" {
		errs = append(errs, config.Invalid("NAME", "%s", msg))
	}
	if len(a.Regions) == 0 && !a.Disabled {
		errs = append(errs, config.Invalid("REGIONS", "list at least one region"))
	}
	return errors.Join(errs...)
}

// Validate reports every problem at once, naming the variable.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.InstallID) == "" {
		errs = append(errs, config.Invalid("INSTALL_ID", "required: it names the ownership label"))
	}
	if len(c.AliyunAccounts)+len(c.HuaweiAccounts) == 0 {
		errs = append(errs, config.Invalid("ALIYUN_ACCOUNTS_0_ID",
			"configure at least one account (ALIYUN_ACCOUNTS_<i>_* or HUAWEI_ACCOUNTS_<i>_*, the collectors' variables)"))
	}
	if _, err := c.scopes(); err != nil {
		errs = append(errs, err)
	}
	if c.Interval <= 0 {
		errs = append(errs, config.Invalid("RECONCILE_INTERVAL", "must be positive"))
	}
	if c.Debounce < 0 {
		errs = append(errs, config.Invalid("RECONCILE_DEBOUNCE", "must not be negative"))
	}
	pc := c
	if strings.TrimSpace(pc.InstallID) == "" {
		pc.InstallID = "unset" // reported above; check the rest of the policy
	}
	if _, err := pc.Policy(c.RootNode); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Scopes returns the configured scopes: every region of every enabled
// account, in configuration order.
func (c Config) Scopes() []events.Scope {
	s, _ := c.scopes()
	return s
}

func (c Config) scopes() ([]events.Scope, error) {
	var out []events.Scope
	var errs []error
	seen := map[string]bool{}
	for _, g := range []struct {
		prov asset.Provider
		key  string
		list []CloudAccount
	}{{asset.Aliyun, "ALIYUN_ACCOUNTS", c.AliyunAccounts}, {asset.HuaweiCloud, "HUAWEI_ACCOUNTS", c.HuaweiAccounts}} {
		ids := map[string]bool{}
		for i, a := range g.list {
			id := a.StableID()
			if id == "" {
				continue // reported by CloudAccount.Validate
			}
			if ids[id] {
				errs = append(errs, config.Invalid(g.key, "account id %q is used twice", id))
			}
			ids[id] = true
			if a.Disabled {
				continue
			}
			for _, r := range a.Regions {
				r = strings.TrimSpace(r)
				s := events.Scope{Provider: g.prov, AccountID: id, AccountName: strings.TrimSpace(a.Name), Region: r}
				if err := s.Validate(); err != nil {
					errs = append(errs, config.Invalid(fmt.Sprintf("%s_%d_REGIONS", g.key, i), "%v", err))
					continue
				}
				if k := plan.ScopeKey(s); !seen[k] {
					seen[k] = true
					out = append(out, s)
				}
			}
		}
	}
	return out, errors.Join(errs...)
}

// accounts maps account ids to display names and zones. An id used by both
// clouds must have one name (the node path is per account id).
func (c Config) accounts() (map[string]plan.Account, error) {
	out := map[string]plan.Account{}
	var errs []error
	for _, a := range append(append([]CloudAccount{}, c.AliyunAccounts...), c.HuaweiAccounts...) {
		id := a.StableID()
		if id == "" {
			continue
		}
		name := strings.TrimSpace(a.Name)
		if name == "" {
			name = id
		}
		if prev, ok := out[id]; ok && prev.Name != name {
			errs = append(errs, config.Invalid("HUAWEI_ACCOUNTS", "account id %q is used by both clouds with different names", id))
		}
		out[id] = plan.Account{Name: name}
	}
	for i, z := range c.Zones {
		id, zone, ok := strings.Cut(strings.TrimSpace(z), ":")
		id, zone = strings.TrimSpace(id), strings.TrimSpace(zone)
		if !ok || id == "" || zone == "" {
			errs = append(errs, config.Invalid("SYNC_ZONES", "entry %d: want account-id:zone, not %q", i, z))
			continue
		}
		a, known := out[id]
		if !known {
			errs = append(errs, config.Invalid("SYNC_ZONES", "entry %d: unknown account id %q", i, id))
			continue
		}
		a.Zone = zone
		out[id] = a
	}
	return out, errors.Join(errs...)
}

// Policy builds the decision policy; rootNode is the org root node's value
// (from the applier, else JUMPSERVER_ROOT_NODE).
func (c Config) Policy(rootNode string) (plan.Policy, error) {
	p := plan.DefaultPolicy(strings.TrimSpace(c.InstallID), strings.TrimSpace(c.OrgID), strings.TrimSpace(rootNode))
	var errs []error
	var err error
	if p.Accounts, err = c.accounts(); err != nil {
		errs = append(errs, err)
	}
	linux := plan.OSMapping{Platform: strings.TrimSpace(c.PlatformLinux), Protocols: []events.Protocol{{Name: "ssh", Port: 22}},
		AccountTemplate: strings.TrimSpace(c.AccountTemplateLinux)}
	windows := plan.OSMapping{Platform: strings.TrimSpace(c.PlatformWindows), Protocols: []events.Protocol{{Name: "rdp", Port: 3389}},
		AccountTemplate: strings.TrimSpace(c.AccountTemplateWindows)}
	p.OS = map[asset.OSType]plan.OSMapping{asset.Linux: linux, asset.Windows: windows, asset.UnknownOS: linux}
	if p.Whitelist, err = plan.ParsePrefixes(c.Whitelist); err != nil {
		errs = append(errs, config.Invalid("SYNC_WHITELIST", "%v", err))
	}
	if p.ProtectedIPs, err = plan.ParsePrefixes(c.ProtectedIPs); err != nil {
		errs = append(errs, config.Invalid("SYNC_PROTECTED_IPS", "%v", err))
	}
	if p.PreferredCIDRs, err = plan.ParsePrefixes(c.PreferCIDRs); err != nil {
		errs = append(errs, config.Invalid("SYNC_PREFER_CIDRS", "%v", err))
	}
	p.AddressOrder = nil
	for _, a := range c.Address {
		k := plan.AddressKind(strings.ToLower(strings.TrimSpace(a)))
		switch k {
		case plan.AddressPrivate, plan.AddressPublic, plan.AddressEIP:
			p.AddressOrder = append(p.AddressOrder, k)
		case "":
		default:
			errs = append(errs, config.Invalid("SYNC_ADDRESS", "unknown address kind %q (private, public or eip)", a))
		}
	}
	if len(p.AddressOrder) == 0 {
		errs = append(errs, config.Invalid("SYNC_ADDRESS", "list at least one of private, public, eip"))
	}
	p.NoDelete = c.NoDelete
	p.Stopped = plan.StoppedPolicy(strings.ToLower(strings.TrimSpace(c.Stopped)))
	if p.Stopped != plan.StoppedKeep && p.Stopped != plan.StoppedDeactivate {
		errs = append(errs, config.Invalid("SYNC_STOPPED", "must be keep or deactivate, not %q", c.Stopped))
	}
	if c.AbsentPasses < 1 {
		errs = append(errs, config.Invalid("SYNC_ABSENT_PASSES", "must be at least 1, not %d", c.AbsentPasses))
	}
	p.AbsentPasses = c.AbsentPasses
	if c.DeleteGrace < 0 {
		errs = append(errs, config.Invalid("SYNC_DELETE_GRACE", "must not be negative"))
	}
	p.Grace = c.DeleteGrace
	if c.DeleteBudget < 0 {
		errs = append(errs, config.Invalid("SYNC_DELETE_BUDGET", "must not be negative"))
	}
	pct, err := parseRatio(c.DeleteBudgetPercent, true)
	if err != nil || pct < 0 || pct > 1 {
		errs = append(errs, config.Invalid("SYNC_DELETE_BUDGET_PERCENT", "a percentage from 0 to 100, not %q", c.DeleteBudgetPercent))
	}
	p.Budget = plan.DeleteBudget{Count: c.DeleteBudget, Percent: pct, Floor: min(1, max(c.DeleteBudget, 0))}
	shrink, err := parseRatio(c.ShrinkThreshold, false)
	if err != nil || shrink <= 0 || shrink > 1 {
		errs = append(errs, config.Invalid("SYNC_SHRINK_THRESHOLD", "a fraction in (0, 1] such as 0.3 or 30%%, not %q", c.ShrinkThreshold))
	}
	p.ShrinkThreshold = shrink
	p.Source = Name
	if len(errs) > 0 {
		return plan.Policy{}, errors.Join(errs...)
	}
	if err := p.Validate(); err != nil {
		// Only what no variable above covers is left: install id, org id,
		// root node, platforms.
		return plan.Policy{}, config.Invalid("INSTALL_ID", "%v (check INSTALL_ID, JUMPSERVER_ORG_ID, JUMPSERVER_ROOT_NODE, PLATFORM_*)", err)
	}
	return p, nil
}

// parseRatio reads "30%" as 0.3; a plain number is a percentage when
// plainIsPercent, else a fraction.
func parseRatio(s string, plainIsPercent bool) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	pct := plainIsPercent
	if v, ok := strings.CutSuffix(s, "%"); ok {
		s, pct = strings.TrimSpace(v), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if pct {
		f /= 100
	}
	return f, nil
}
