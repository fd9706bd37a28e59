package plan

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/jmssync/jmssync/libs/asset"
)

// NameClaim is one asset that wants a name.
type NameClaim struct {
	Identity asset.ID
	Base     string // BaseName of the instance
}

// AssignNames gives every claim a name unique (case-insensitively, as on
// MySQL) among taken and the other claims, and returns them by identity.
//
// taken holds the folded names (NameKey) already used by managed assets,
// with the identity using each; names are sticky, so existing assets keep
// theirs and new ones yield. The result does not depend on the order of
// claims: claims are sorted by identity; first every claim whose base name
// is free takes it (the lowest identity wins a tie), then each remaining
// claim gets "<base>-<last 6 of its instance id>", or longer tails of the
// id, or finally a counter, cut to fit MaxNameLen. A name another asset in
// JumpServer holds (not managed by jms-sync) is the applier's to resolve.
func AssignNames(claims []NameClaim, taken map[string]asset.ID) map[asset.ID]string {
	sorted := slices.Clone(claims)
	slices.SortFunc(sorted, func(a, b NameClaim) int { return cmpID(a.Identity, b.Identity) })
	used := make(map[string]asset.ID, len(taken)+len(claims))
	for k, id := range taken {
		used[k] = id
	}
	out := make(map[asset.ID]string, len(claims))
	var rest []NameClaim
	for _, c := range sorted {
		if _, done := out[c.Identity]; done {
			continue
		}
		k := NameKey(c.Base)
		if owner, ok := used[k]; !ok || owner == c.Identity {
			used[k] = c.Identity
			out[c.Identity] = c.Base
			continue
		}
		rest = append(rest, c)
	}
	for _, c := range rest {
		if _, done := out[c.Identity]; done {
			continue
		}
		name := suffixed(c, used)
		used[NameKey(name)] = c.Identity
		out[c.Identity] = name
	}
	return out
}

// maxSuffix bounds the suffixes tried before the counter, in characters.
const maxSuffix = 40

// suffixes are the suffixes tried in order: "-" and the last 6, 8 and 12
// characters of the instance id, then the whole id (each without leading
// separators); the id's tail is at most maxSuffix-1 characters.
func suffixes(id asset.ID) []string {
	r := []rune(id.InstanceID)
	if len(r) > maxSuffix-1 {
		r = r[len(r)-(maxSuffix-1):]
	}
	var out []string
	for _, n := range []int{6, 8, 12, len(r)} {
		s := "-" + strings.TrimLeft(string(r[len(r)-min(n, len(r)):]), "-_.")
		if s != "-" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func suffixed(c NameClaim, used map[string]asset.ID) string {
	try := func(suffix string) (string, bool) {
		name := truncate(c.Base, MaxNameLen-len([]rune(suffix))) + suffix
		owner, ok := used[NameKey(name)]
		return name, !ok || owner == c.Identity
	}
	sufs := suffixes(c.Identity)
	for _, suf := range sufs {
		if name, ok := try(suf); ok {
			return name
		}
	}
	tail := "-x"
	if len(sufs) > 0 {
		tail = sufs[0]
	}
	for i := 2; ; i++ {
		if name, ok := try(tail + "-" + strconv.Itoa(i)); ok {
			return name
		}
	}
}

// NameKey folds a name the way uniqueness is checked: trimmed and
// lower-cased (MySQL's default collation is case-insensitive).
func NameKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

func cmpID(a, b asset.ID) int {
	return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.InstanceID, b.InstanceID))
}
