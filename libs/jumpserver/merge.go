package jumpserver

import (
	"cmp"
	"slices"
	"strings"

	"github.com/jmssync/jmssync/libs/events"
)

// MergeLabels returns the label set to PATCH: every existing label whose
// name does not start with ourPrefix (operator labels) is kept as it is,
// and jms-sync's own labels are replaced by ours. JumpServer replaces the
// whole set on update, so the caller always sends this merged set.
//
// The result is sorted (name, value) and de-duplicated, so that two merges
// of the same input compare equal (see LabelsEqual).
func MergeLabels(existing, ours []events.Label, ourPrefix string) []events.Label {
	out := make([]events.Label, 0, len(existing)+len(ours))
	for _, l := range existing {
		if ourPrefix != "" && strings.HasPrefix(l.Name, ourPrefix) {
			continue
		}
		out = append(out, l)
	}
	out = append(out, ours...)
	return sortLabels(out)
}

func sortLabels(ls []events.Label) []events.Label {
	out := slices.Clone(ls)
	slices.SortFunc(out, func(a, b events.Label) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Value, b.Value))
	})
	return slices.Compact(out)
}

// LabelsEqual compares two label sets (order and duplicates ignored).
func LabelsEqual(a, b []events.Label) bool {
	return slices.Equal(sortLabels(a), sortLabels(b))
}

// MergeNodes returns the node set to PATCH: the existing node ids (operator
// nodes kept), minus the nodes jms-sync placed the asset in before and no
// longer wants (previous), plus ours. Order is kept, duplicates dropped.
// JumpServer replaces the set on update; an empty set would move the asset
// to the org root, so the result always contains ours.
func MergeNodes(existing []string, ours string, previous ...string) []string {
	out := make([]string, 0, len(existing)+1)
	seen := map[string]bool{}
	drop := map[string]bool{}
	for _, p := range previous {
		if !strings.EqualFold(p, ours) {
			drop[strings.ToLower(p)] = true
		}
	}
	for _, id := range existing {
		k := strings.ToLower(id)
		if drop[k] || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, id)
	}
	if !seen[strings.ToLower(ours)] {
		out = append(out, ours)
	}
	return out
}

// SameIDs compares two id sets (order, case and duplicates ignored).
func SameIDs(a, b []string) bool {
	norm := func(xs []string) []string {
		out := make([]string, len(xs))
		for i, x := range xs {
			out[i] = strings.ToLower(x)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

// State normalises a host as JumpServer returned it into the form the
// mirror stores and applied facts carry: node paths sorted, labels sorted,
// the platform by name, protocols sorted by (name, port), the zone by name.
// Two reads of an unchanged asset give equal states.
func State(h Host) events.AssetState {
	st := events.AssetState{
		Name:     h.Name,
		Address:  h.Address,
		Platform: h.Platform.Name,
		IsActive: h.IsActive,
		Comment:  h.Comment,
	}
	if len(h.Protocols) > 0 {
		st.Protocols = slices.Clone(h.Protocols)
		slices.SortFunc(st.Protocols, func(a, b events.Protocol) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port))
		})
		st.Protocols = slices.Compact(st.Protocols)
	}
	if len(h.NodePaths) > 0 {
		st.Nodes = slices.Clone(h.NodePaths)
		slices.Sort(st.Nodes)
		st.Nodes = slices.Compact(st.Nodes)
	}
	if len(h.Labels) > 0 {
		st.Labels = sortLabels(h.LabelPairs())
	}
	if h.Zone != nil {
		st.Zone = h.Zone.Name
	}
	return st
}

// EffectiveZone is the zone JumpServer will keep for an asset on platform p:
// it silently nulls the zone when the platform has gateways off. Compare
// desired and actual through it so that such an asset produces no write.
func EffectiveZone(p Platform, zone string) string {
	if !p.GatewayEnabled {
		return ""
	}
	return zone
}
