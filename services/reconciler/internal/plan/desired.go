package plan

import (
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// Reasons an instance that was listed is not desired. Such an instance is
// seen: it is never deactivated or deleted for absence (safety rule 1).
const (
	SkipNoAddress    = "no_address"      // no parseable address of the preferred kinds
	SkipWhitelist    = "not_whitelisted" // the chosen address is outside Policy.Whitelist
	SkipUnknownOS    = "unknown_os"      // Policy.OS has no mapping for its OS family
	SkipTransitional = "transitional"    // starting, stopping, error…: decided once it settles
	SkipNoID         = "no_instance_id"  // cannot be identified (defensive)
)

// MaxNameLen is JumpServer's limit on asset names, in characters.
const MaxNameLen = 128

// Desired maps one instance to the asset jms-sync wants in JumpServer, or
// returns the reason it wants none. The name is the plain base name; Diff
// may suffix it to keep names unique (see AssignNames).
func Desired(inst *asset.Instance, p *Policy) (events.Desired, string) {
	sc := newScopeCache(p)
	m, skip := sc.mapInstance(inst)
	if skip != "" {
		return events.Desired{}, skip
	}
	return sc.build(inst, m, BaseName(inst), true), ""
}

// mapped is the cheap part of the mapping that Diff compares for every seen
// instance; names, comments and slices are built only for intents.
type mapped struct {
	address netip.Addr
	os      *OSMapping
	scope   *scopeFacts
	active  bool
}

// scopeFacts are the per-scope parts of the mapping, computed once.
type scopeFacts struct {
	nodePath string
	labels   []events.Label // sorted by name
	zone     string
}

type scopeCache struct {
	p      *Policy
	facts  map[scopeID]*scopeFacts
	os     map[asset.OSType]*OSMapping
	owners map[string]bool // names of the labels jms-sync owns
}

type scopeID struct {
	provider        asset.Provider
	account, region string
}

func newScopeCache(p *Policy) *scopeCache {
	sc := &scopeCache{p: p, facts: map[scopeID]*scopeFacts{}, os: make(map[asset.OSType]*OSMapping, len(p.OS))}
	for k := range p.OS {
		m := p.OS[k]
		sc.os[k] = &m
	}
	pre := labelValue(p.LabelPrefix)
	sc.owners = map[string]bool{pre: true, pre + "-provider": true, pre + "-account": true, pre + "-region": true}
	return sc
}

func (sc *scopeCache) scope(prov asset.Provider, account, region string) *scopeFacts {
	id := scopeID{prov, account, region}
	if f, ok := sc.facts[id]; ok {
		return f
	}
	p := sc.p
	acct := p.Accounts[account]
	name := acct.Name
	if strings.TrimSpace(name) == "" {
		name = account
	}
	seg := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "/", "-") }
	path := strings.NewReplacer(
		"{root}", seg(p.RootNode), "{cloud}", seg(prov.DisplayName()), "{provider}", seg(string(prov)),
		"{account}", seg(name), "{account_id}", seg(account), "{region}", seg(region),
	).Replace(p.NodePathTemplate)
	pre := labelValue(p.LabelPrefix)
	labels := []events.Label{
		{Name: pre, Value: labelValue(p.InstallID)},
		{Name: pre + "-account", Value: labelValue(account)},
		{Name: pre + "-provider", Value: labelValue(string(prov))},
		{Name: pre + "-region", Value: labelValue(region)},
	}
	slices.SortFunc(labels, func(a, b events.Label) int { return strings.Compare(a.Name, b.Name) })
	f := &scopeFacts{nodePath: path, labels: labels, zone: strings.TrimSpace(acct.Zone)}
	sc.facts[id] = f
	return f
}

// labelValue makes s fit a JumpServer label name or value: no ':' or ','
// (they separate labels on the wire) and at most 64 characters.
func labelValue(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, ":,") {
		s = strings.NewReplacer(":", "_", ",", "_").Replace(s)
	}
	return truncate(s, 64)
}

// mapInstance decides whether inst is desired and computes the parts Diff
// compares. The skip reason is empty when desired.
func (sc *scopeCache) mapInstance(inst *asset.Instance) (mapped, string) {
	if inst.InstanceID == "" || !inst.Provider.Valid() {
		return mapped{}, SkipNoID
	}
	active := true
	switch inst.State {
	case asset.Running:
	case asset.Stopped:
		active = sc.p.Stopped != StoppedDeactivate
	default:
		return mapped{}, SkipTransitional
	}
	os := inst.OSType
	if !os.Valid() || os == "" {
		os = asset.UnknownOS
	}
	m, ok := sc.os[os]
	if !ok {
		return mapped{}, SkipUnknownOS
	}
	addr, ok := chooseAddress(inst, sc.p)
	if !ok {
		return mapped{}, SkipNoAddress
	}
	if len(sc.p.Whitelist) > 0 && !inPrefixes(addr, sc.p.Whitelist) {
		return mapped{}, SkipWhitelist
	}
	return mapped{address: addr, os: m, scope: sc.scope(inst.Provider, inst.AccountID, inst.Region), active: active}, ""
}

// build makes the full desired state. withComment is false for updates
// (the comment is written on create only).
func (sc *scopeCache) build(inst *asset.Instance, m mapped, name string, withComment bool) events.Desired {
	d := events.Desired{
		Name:            name,
		Address:         m.address.String(),
		Platform:        m.os.Platform,
		Protocols:       slices.Clone(m.os.Protocols),
		NodePath:        m.scope.nodePath,
		Labels:          slices.Clone(m.scope.labels),
		Zone:            m.scope.zone,
		AccountTemplate: m.os.AccountTemplate,
		IsActive:        m.active,
	}
	if withComment {
		d.Comment = Comment(inst)
	}
	return d
}

// Comment is the readable line jms-sync writes on create: who made the asset
// and from what. It is never read back as identity (the identity lives in
// the mirror and the deterministic asset id), and it avoids the old tool's
// "instance_id:" form so adopt cannot mistake it for a Python-made asset.
func Comment(inst *asset.Instance) string {
	return "jms-sync: " + string(inst.Provider) + " " + inst.AccountID + " " + inst.Region + " " + inst.InstanceID
}

// BaseName is the asset name before de-duplication: the console name, else
// the hostname, else the instance id; trimmed, on one line, at most
// MaxNameLen characters.
func BaseName(inst *asset.Instance) string {
	for _, s := range []string{inst.Name, inst.Hostname, inst.InstanceID} {
		if s = strings.TrimSpace(oneLine(s)); s != "" {
			return truncate(s, MaxNameLen)
		}
	}
	return ""
}

// chooseAddress picks the address by Policy.AddressOrder, preferring one
// inside Policy.PreferredCIDRs (in their order). Unparseable entries are
// skipped; an instance with none left has no usable address.
func chooseAddress(inst *asset.Instance, p *Policy) (netip.Addr, bool) {
	for _, pref := range p.PreferredCIDRs {
		if a, ok := firstAddress(inst, p.AddressOrder, pref); ok {
			return a, true
		}
	}
	return firstAddress(inst, p.AddressOrder, netip.Prefix{})
}

// firstAddress returns the first parseable address of the kinds in order
// that lies in pref (any address when pref is the zero prefix).
func firstAddress(inst *asset.Instance, order []AddressKind, pref netip.Prefix) (netip.Addr, bool) {
	try := func(s string) (netip.Addr, bool) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = a.Unmap()
		return a, !pref.IsValid() || pref.Contains(a)
	}
	for _, kind := range order {
		var list []string
		switch kind {
		case AddressPrivate:
			list = inst.PrivateIPs
		case AddressPublic:
			list = inst.PublicIPs
		case AddressEIP:
			if a, ok := try(inst.EIP); ok {
				return a, true
			}
		}
		for _, s := range list {
			if a, ok := try(s); ok {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// truncate cuts s to at most n characters (runes).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return strings.TrimSpace(s[:j])
		}
		i++
	}
	return s
}

// oneLine replaces line breaks and tabs with spaces.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
