package main

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// expectedHost is what JumpServer must hold for one cloud instance, derived
// here independently from the reconciler's mapping rules (desired.go with
// the default policy): an instance that is running or stopped (not
// transitional) and has an address — private first, then public, then EIP
// — becomes a host in /<root>/<cloud>/<account name>, platform by OS family
// (unknown → Linux), active (stopped instances are kept active by default).
type expectedHost struct {
	AssetID    string
	Provider   asset.Provider
	InstanceID string
	BaseName   string
	Address    string
	Platform   string
	Node       string
	// StickyName, when set, is the only right name: the asset's name from
	// before its instance was renamed in the console.
	StickyName string
}

// benchSetup names the accounts the harness configures.
type benchSetup struct {
	Install       string
	OrgID         string
	RootNode      string
	AliyunAccount string // id
	AliyunName    string
	HuaweiAccount string
	HuaweiName    string
}

func (b benchSetup) accountName(p asset.Provider) string {
	if p == asset.Aliyun {
		return b.AliyunName
	}
	return b.HuaweiName
}

// expectHost maps one instance, or says why it is not expected.
func (b benchSetup) expectHost(in cloudInstance) (expectedHost, string) {
	switch in.State {
	case cloudinv.Running, cloudinv.Stopped:
	default:
		return expectedHost{}, "transitional"
	}
	addr := firstAddr(in.PrivateIPs())
	if addr == "" {
		addr = firstAddr(without(in.PublicIPs, in.EIP))
	}
	if addr == "" {
		addr = firstAddr([]string{in.EIP})
	}
	if addr == "" {
		return expectedHost{}, "no_address"
	}
	platform := "Linux"
	if strings.EqualFold(strings.TrimSpace(in.OSType), "windows") {
		platform = "Windows"
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = strings.TrimSpace(in.HostName)
	}
	if name == "" {
		name = in.ID
	}
	seg := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "/", "-") }
	return expectedHost{
		AssetID:    asset.AssetID(b.Install, b.OrgID, in.Provider, in.ID).String(),
		Provider:   in.Provider,
		InstanceID: in.ID,
		BaseName:   name,
		Address:    addr,
		Platform:   platform,
		Node:       "/" + seg(b.RootNode) + "/" + seg(in.Provider.DisplayName()) + "/" + seg(b.accountName(in.Provider)),
	}, ""
}

func firstAddr(list []string) string {
	for _, s := range list {
		if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			return a.Unmap().String()
		}
	}
	return ""
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// expectation is the expected content of JumpServer for one inventory.
type expectation struct {
	Hosts   map[string]expectedHost // by asset id
	Skipped map[string]int          // reason → count
	Total   int                     // instances listed
}

func (b benchSetup) expect(list []cloudInstance) expectation {
	e := expectation{Hosts: map[string]expectedHost{}, Skipped: map[string]int{}, Total: len(list)}
	for _, in := range list {
		h, skip := b.expectHost(in)
		if skip != "" {
			e.Skipped[skip]++
			continue
		}
		e.Hosts[h.AssetID] = h
	}
	return e
}

// verification is the result of comparing JumpServer with the inventory.
type verification struct {
	OK          bool     `json:"ok"`
	Expected    int      `json:"expected"`
	Present     int      `json:"present"`
	Missing     int      `json:"missing"`
	Wrong       int      `json:"wrong"`
	Extra       int      `json:"extra"`
	Deactivated int      `json:"deactivated_released"`
	Problems    []string `json:"problems,omitempty"` // the first few
}

// verify compares the simulated JumpServer with the expectation: every
// expected host present, active, with the right address, platform and node
// and a name that is its base name or the base name with a "-<suffix>"
// (de-duplication); names unique; nothing else, except the assets of
// released instances, which must be deactivated when releasedMustBeInactive.
func verify(st jmssim.State, e expectation, released map[string]bool, releasedMustBeInactive bool) verification {
	v := verification{Expected: len(e.Hosts)}
	problem := func(format string, args ...any) {
		if len(v.Problems) < 25 {
			v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
		}
	}
	seen := map[string]bool{}
	names := map[string]string{}
	for _, o := range st.Orgs {
		for _, a := range o.Assets {
			id := strings.ToLower(a.ID)
			k := strings.ToLower(a.Name)
			if prev, dup := names[k]; dup && o.ID == "00000000-0000-0000-0000-000000000002" {
				v.Wrong++
				problem("name %q used by %s and %s", a.Name, prev, id)
			}
			names[k] = id
			h, ok := e.Hosts[id]
			if !ok {
				if released[id] {
					if releasedMustBeInactive && a.IsActive {
						v.Wrong++
						problem("released instance's asset %s (%s) is still active", id, a.Name)
					} else if !a.IsActive {
						v.Deactivated++
					}
					continue
				}
				v.Extra++
				problem("extra asset %s %q %s in org %s", id, a.Name, a.Address, o.Name)
				continue
			}
			seen[id] = true
			v.Present++
			var bad []string
			if a.Address != h.Address {
				bad = append(bad, fmt.Sprintf("address %s, want %s", a.Address, h.Address))
			}
			if a.Platform != h.Platform {
				bad = append(bad, fmt.Sprintf("platform %s, want %s", a.Platform, h.Platform))
			}
			if len(a.Nodes) != 1 || a.Nodes[0] != h.Node {
				bad = append(bad, fmt.Sprintf("nodes %v, want [%s]", a.Nodes, h.Node))
			}
			if !a.IsActive {
				bad = append(bad, "inactive")
			}
			if h.StickyName != "" {
				if a.Name != h.StickyName {
					bad = append(bad, fmt.Sprintf("name %q, want the sticky %q (renamed in the console)", a.Name, h.StickyName))
				}
			} else if a.Name != h.BaseName && !strings.HasPrefix(a.Name, h.BaseName+"-") {
				bad = append(bad, fmt.Sprintf("name %q, want %q (or a suffixed form)", a.Name, h.BaseName))
			}
			if len(bad) > 0 {
				v.Wrong++
				problem("asset %s (%s %s): %s", id, h.Provider, h.InstanceID, strings.Join(bad, "; "))
			}
		}
	}
	var missing []string
	for id, h := range e.Hosts {
		if !seen[id] {
			missing = append(missing, fmt.Sprintf("%s (%s %s %q %s)", id, h.Provider, h.InstanceID, h.BaseName, h.Address))
		}
	}
	sort.Strings(missing)
	v.Missing = len(missing)
	for _, m := range missing {
		problem("missing %s", m)
	}
	v.OK = v.Missing == 0 && v.Wrong == 0 && v.Extra == 0
	return v
}

// assetsByID indexes a state dump.
func assetsByID(st jmssim.State) map[string]jmssim.AssetState {
	out := map[string]jmssim.AssetState{}
	for _, o := range st.Orgs {
		for _, a := range o.Assets {
			out[strings.ToLower(a.ID)] = a
		}
	}
	return out
}
