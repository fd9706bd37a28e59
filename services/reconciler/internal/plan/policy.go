package plan

import (
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// AddressKind names one source of an instance address.
type AddressKind string

const (
	AddressPrivate AddressKind = "private" // VPC / fixed private IPs
	AddressPublic  AddressKind = "public"  // public IPs the cloud assigned (not the EIP)
	AddressEIP     AddressKind = "eip"     // elastic / floating IP
)

// StoppedPolicy says what happens to the asset of a stopped instance.
type StoppedPolicy string

const (
	// StoppedKeep leaves the asset as it is (the default; stopped is not released).
	StoppedKeep StoppedPolicy = "keep"
	// StoppedDeactivate sets is_active=false while the instance is stopped and
	// activates it again when it runs (jms-sync owns is_active then).
	StoppedDeactivate StoppedPolicy = "deactivate"
)

// OSMapping is what an OS family maps to in JumpServer. Platform and account
// template are resolved by name by the applier.
type OSMapping struct {
	Platform        string            `json:"platform"`
	Protocols       []events.Protocol `json:"protocols"`
	AccountTemplate string            `json:"account_template,omitempty"`
}

// Account is the per-cloud-account part of the policy.
type Account struct {
	Name string `json:"name"`           // display name (any language), used in the node path
	Zone string `json:"zone,omitempty"` // zone (domain before 4.10) name; empty: zone left alone
}

// DeleteBudget bounds deletions per scope over a rolling 24 hours. The limit
// for a scope of n live assets is min(Count, floor(Percent*n)), raised to
// Floor: with the defaults (20, 10 %, 1) a scope of 5 assets may lose 1, a
// scope of 50 may lose 5 and a scope of 1,000 may lose 20 before the rest is
// held for confirm. Count 0 and Floor 0 make every deletion wait for confirm.
type DeleteBudget struct {
	Count   int     `json:"count"`
	Percent float64 `json:"percent"` // 0.10 = 10 %; 0 disables the percentage bound
	Floor   int     `json:"floor"`   // tiny scopes: always allowed this many
}

// Limit is the number of deletions allowed per 24 h in a scope of n live assets.
func (b DeleteBudget) Limit(n int) int {
	l := max(b.Count, 0)
	if b.Percent > 0 {
		l = min(l, int(math.Floor(b.Percent*float64(n)+1e-9)))
	}
	return max(l, b.Floor)
}

// Window is the rolling period of the delete budget.
const Window = 24 * time.Hour

// Policy is everything configurable about decisions. Build it with
// DefaultPolicy and override; Diff refuses a policy that does not Validate.
type Policy struct {
	InstallID string // names the ownership label value and the asset ids
	OrgID     string // JumpServer organisation id (part of the asset id)
	// RootNode is the org root node's value as JumpServer returns it
	// ("DEFAULT" or "Default"), discovered by the applier.
	RootNode string
	// NodePathTemplate builds the node path; placeholders {root}, {cloud}
	// (阿里云/华为云), {provider}, {account} (display name), {account_id},
	// {region}. A "/" inside a substituted value becomes "-".
	NodePathTemplate string
	// Accounts holds display name and zone by configured account id. An
	// account missing here uses its id as name and gets no zone.
	Accounts map[string]Account
	// OS maps an OS family to platform, protocols and account template. An
	// OS family without an entry is not mapped: its instances are seen but
	// not desired (reason unknown_os) and never deleted.
	OS map[asset.OSType]OSMapping
	// LabelPrefix names the labels jms-sync owns: "<prefix>:<install>" marks
	// ownership; "<prefix>-provider", "<prefix>-account" and "<prefix>-region"
	// carry low-cardinality facts. No label is per instance.
	LabelPrefix string
	// AddressOrder is the preference of address sources, first usable wins.
	AddressOrder []AddressKind
	// PreferredCIDRs, in order: an address inside the first matching prefix
	// wins over the plain AddressOrder choice.
	PreferredCIDRs []netip.Prefix
	// Whitelist (old key sync.whitelist), IPs as /32 or CIDRs: if set, only
	// instances whose chosen address is inside are desired. The others are
	// seen and never deleted.
	Whitelist []netip.Prefix
	// ProtectedIPs (old key sync.protected_ips), IPs or CIDRs: an asset whose
	// address is inside is never deactivated for absence nor deleted.
	ProtectedIPs []netip.Prefix
	// NoDelete (old key sync.no_delete): nothing is ever deleted, neither by
	// absence nor by prune. The old tool's meaning was "assets stay in
	// JumpServer"; absent assets are still deactivated after AbsentPasses —
	// reversible, every record and permission kept, and no login is offered
	// to an address the cloud may already have given to someone else.
	NoDelete bool
	Stopped  StoppedPolicy
	// AbsentPasses is N: an identity absent from N consecutive usable passes
	// is deactivated (default 2).
	AbsentPasses int
	// Grace is the time between deactivation and deletion (default 24 h). 0
	// deletes at the Nth absent pass without deactivating first (the old
	// tool's behaviour with N=1).
	Grace  time.Duration
	Budget DeleteBudget
	// ShrinkThreshold: a pass that lost more than this fraction of the last
	// usable pass's instances, and at least ShrinkMinLost of them, is
	// suspicious (default 0.3 and 3). A populated scope listing zero is
	// always suspicious.
	ShrinkThreshold float64
	ShrinkMinLost   int
	// Source names the producer in alerts ("reconciler").
	Source string
}

// DefaultPolicy returns the defaults: node path /<root>/<cloud>/<account>,
// Linux → Linux ssh/22, Windows → Windows rdp/3389, an unknown OS mapped as
// Linux (as the old tool did; remove the entry to skip such instances), label
// prefix "jmssync", private then public then EIP address, stopped kept, N=2,
// 24 h grace, budget 20 / 10 % / floor 1, shrink 30 % and at least 3.
func DefaultPolicy(install, orgID, rootNode string) Policy {
	linux := OSMapping{Platform: "Linux", Protocols: []events.Protocol{{Name: "ssh", Port: 22}}}
	return Policy{
		InstallID:        install,
		OrgID:            orgID,
		RootNode:         rootNode,
		NodePathTemplate: "/{root}/{cloud}/{account}",
		OS: map[asset.OSType]OSMapping{
			asset.Linux:     linux,
			asset.Windows:   {Platform: "Windows", Protocols: []events.Protocol{{Name: "rdp", Port: 3389}}},
			asset.UnknownOS: linux,
		},
		LabelPrefix:     "jmssync",
		AddressOrder:    []AddressKind{AddressPrivate, AddressPublic, AddressEIP},
		Stopped:         StoppedKeep,
		AbsentPasses:    2,
		Grace:           24 * time.Hour,
		Budget:          DeleteBudget{Count: 20, Percent: 0.10, Floor: 1},
		ShrinkThreshold: 0.3,
		ShrinkMinLost:   3,
		Source:          "reconciler",
	}
}

// ParsePrefixes reads the old tool's whitelist / protected_ips entries: each
// an IP (taken as a single-address prefix) or a CIDR. Every bad entry is
// reported at once.
func ParsePrefixes(entries []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%q", e))
				continue
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q", e))
			continue
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: not an IP or CIDR: %s", ErrInvalidPolicy, strings.Join(bad, ", "))
	}
	return out, nil
}

// Validate reports every problem of the policy at once.
func (p *Policy) Validate() error {
	var bad []string
	add := func(f string, a ...any) { bad = append(bad, fmt.Sprintf(f, a...)) }
	for name, v := range map[string]string{"install_id": p.InstallID, "org_id": p.OrgID, "root_node": p.RootNode, "source": p.Source} {
		if msg := asset.CheckText(v, true); msg != "" {
			add("%s: %s", name, msg)
		}
	}
	if !strings.HasPrefix(p.NodePathTemplate, "/") {
		add("node_path_template: must start with /, not %q", p.NodePathTemplate)
	}
	if !labelSafe(p.LabelPrefix) {
		add("label_prefix: 1-50 characters without ':' or ',', not %q", p.LabelPrefix)
	}
	if len(p.AddressOrder) == 0 {
		add("address_order: at least one of private, public, eip")
	}
	for _, k := range p.AddressOrder {
		if k != AddressPrivate && k != AddressPublic && k != AddressEIP {
			add("address_order: unknown kind %q", k)
		}
	}
	for _, os := range slices.Sorted(maps.Keys(p.OS)) {
		m := p.OS[os]
		if !os.Valid() {
			add("os: unknown OS type %q", os)
		}
		if asset.CheckText(m.Platform, true) != "" {
			add("os.%s.platform: required", os)
		}
		if len(m.Protocols) == 0 {
			add("os.%s.protocols: at least one", os)
		}
		for _, pr := range m.Protocols {
			if pr.Name == "" || pr.Port <= 0 || pr.Port > 65535 {
				add("os.%s.protocols: bad protocol %s/%d", os, pr.Name, pr.Port)
			}
		}
	}
	switch p.Stopped {
	case StoppedKeep, StoppedDeactivate:
	default:
		add("stopped: must be keep or deactivate, not %q", p.Stopped)
	}
	if p.AbsentPasses < 1 {
		add("absent_passes: must be >= 1, not %d", p.AbsentPasses)
	}
	if p.Grace < 0 {
		add("grace: must be >= 0, not %s", p.Grace)
	}
	if p.Budget.Count < 0 || p.Budget.Floor < 0 || p.Budget.Percent < 0 || p.Budget.Percent > 1 {
		add("budget: count and floor >= 0, percent in [0,1], not %+v", p.Budget)
	}
	if p.ShrinkThreshold <= 0 || p.ShrinkThreshold > 1 {
		add("shrink_threshold: must be in (0,1], not %v", p.ShrinkThreshold)
	}
	if p.ShrinkMinLost < 1 {
		add("shrink_min_lost: must be >= 1, not %d", p.ShrinkMinLost)
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidPolicy, strings.Join(bad, "; "))
}

// labelSafe reports whether s can be a JumpServer label name or value
// prefix: not empty, no ':' or ',', room left for a suffix within 64.
func labelSafe(s string) bool {
	return s != "" && len([]rune(s)) <= 50 && !strings.ContainsAny(s, ":,") && asset.CheckText(s, true) == ""
}

// protected reports whether an address string falls in ProtectedIPs.
func (p *Policy) protected(addr string) bool {
	if len(p.ProtectedIPs) == 0 || addr == "" {
		return false
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, pr := range p.ProtectedIPs {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}
