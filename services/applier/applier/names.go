package applier

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/jmssync/jmssync/libs/asset"
)

// maxNameLen is JumpServer's limit on asset names.
const maxNameLen = 128

// nameIndex holds every asset name of the org (all categories), folded as
// MySQL's default collation compares them, with the id holding each. It is
// read at every rebuild (one ListAssets with fields=id,name) and kept up to
// date by the applier's own creates and deletes; a name taken later by
// someone else is learnt from the create's conflict.
type nameIndex struct {
	mu    sync.Mutex
	names map[string]string // folded name → asset id
}

func newNameIndex() *nameIndex { return &nameIndex{names: map[string]string{}} }

func foldName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (x *nameIndex) replace(names map[string]string) {
	x.mu.Lock()
	x.names = names
	x.mu.Unlock()
}

func (x *nameIndex) add(name, id string) {
	x.mu.Lock()
	x.names[foldName(name)] = strings.ToLower(id)
	x.mu.Unlock()
}

// holder is the asset id that holds name ("" when free; ids starting with
// "!" are names held by something that is not an asset jms-sync can read).
func (x *nameIndex) holder(name string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.names[foldName(name)]
}

func (x *nameIndex) remove(name, id string) {
	x.mu.Lock()
	if x.names[foldName(name)] == strings.ToLower(id) {
		delete(x.names, foldName(name))
	}
	x.mu.Unlock()
}

// pick returns the first free name for an asset: the wanted name, then
// "<name>-<last 6, 8, 12 characters of the instance id>", the whole id, then
// a counter — the base cut so that the whole stays within 128 characters. A
// name is free when no other asset holds it and no other item of the batch
// took it (batch, folded names, updated by pick).
func (x *nameIndex) pick(want string, id asset.ID, assetID string, batch map[string]bool) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	assetID = strings.ToLower(assetID)
	free := func(n string) bool {
		k := foldName(n)
		holder, taken := x.names[k]
		return (!taken || holder == assetID) && !batch[k]
	}
	want = strings.TrimSpace(want)
	for _, c := range nameCandidates(want, id) {
		if free(c) {
			batch[foldName(c)] = true
			return c
		}
	}
	return ""
}

func nameCandidates(base string, id asset.ID) []string {
	out := []string{cut(base, maxNameLen)}
	r := []rune(strings.TrimLeft(id.InstanceID, "-_."))
	for _, n := range []int{6, 8, 12, len(r)} {
		if n > len(r) {
			n = len(r)
		}
		suf := "-" + strings.TrimLeft(string(r[len(r)-n:]), "-_.")
		if suf == "-" || utf8.RuneCountInString(suf) > maxNameLen/2 {
			continue
		}
		out = append(out, cut(base, maxNameLen-utf8.RuneCountInString(suf))+suf)
	}
	for i := 2; i < 100; i++ {
		suf := "-" + strconv.Itoa(i)
		out = append(out, cut(base, maxNameLen-len(suf))+suf)
	}
	return out
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n]))
}
