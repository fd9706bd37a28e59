package jmssim

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type org struct {
	id, name string
	builtin  bool
	root     *node
	index    nameIndex
	byName   map[string]*asset // name key → asset, all categories (the DB constraint)
	labels   map[string]*label // by labelKey
	zones    map[string]*zone  // by name
	tmpls    map[string]*template
	count    int // assets in this org
	catCount map[string]int
}

type node struct {
	id, key, value string
	org            *org
	parent         *node
	children       []*node
	childMark      int
	fullValue      string
	direct         int // assets directly in this node
}

type Protocol struct {
	Name string `json:"name"`
	Port int    `json:"port"`
}

type asset struct {
	id, name, address string
	org               *org
	platform          *platform
	category, typ     string
	protocols         []Protocol
	nodes             []*node
	labels            []*label
	zone              *zone
	active            bool
	comment           string
	connectivity      string
	created, updated  time.Time
	createdBy         string
	accounts          []*account
	dbName            string
	seq               int64

	deleted bool
	ver     int // index version; bumped on rename
}

type label struct {
	id, name, value, color, comment string
	org                             *org
	created, updated                time.Time
	links                           int
}

type zone struct {
	id, name, comment string
	org               *org
	created           time.Time
	assets            int
}

type template struct {
	id, name, username, secretType, secret string
	privileged, active, autoPush           bool
	comment                                string
	org                                    *org
	created, updated                       time.Time
}

type account struct {
	id, name, username, secretType, secret string
	privileged, active                     bool
	source, sourceID                       string
	asset                                  *asset
	created, updated                       time.Time
}

// store holds all state. All fields are guarded by Server.mu.
type store struct {
	orgs      []*org
	orgByID   map[string]*org
	assets    map[string]*asset
	nodes     map[string]*node
	nodeByKey map[string]*node
	labels    map[string]*label
	zones     map[string]*zone
	tmpls     map[string]*template
	accounts  map[string]*account
	spm       map[string]spmEntry
	tokens    map[string]bearerToken
	global    nameIndex
	nextRoot  int
	seq       int64
	total     int
}

type spmEntry struct {
	ids     map[string]bool
	expires time.Time
}

type bearerToken struct {
	user    string
	expires time.Time
}

// nameIndex keeps assets ordered by (name, id) without re-sorting on every
// read: writes append to pending, the next read sorts pending and merges,
// dropping stale entries (deleted or renamed assets).
type nameIndex struct {
	mu      sync.Mutex
	sorted  []idxEntry
	pending []idxEntry
	stale   int
}

type idxEntry struct {
	key string
	ver int
	a   *asset
}

func sortKey(a *asset) string { return a.name + "\x00" + a.id }

func (x *nameIndex) add(a *asset) {
	x.mu.Lock()
	x.pending = append(x.pending, idxEntry{sortKey(a), a.ver, a})
	x.mu.Unlock()
}

func (x *nameIndex) drop() {
	x.mu.Lock()
	x.stale++
	x.mu.Unlock()
}

// view returns the assets in (name, id) order. The returned slice must not
// be modified; it stays valid after later writes.
func (x *nameIndex) view() []idxEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.pending) == 0 && x.stale == 0 {
		return x.sorted
	}
	valid := func(e idxEntry) bool { return !e.a.deleted && e.ver == e.a.ver }
	p := x.pending
	sort.Slice(p, func(i, j int) bool { return p[i].key < p[j].key })
	out := make([]idxEntry, 0, len(x.sorted)+len(p))
	i, j := 0, 0
	for i < len(x.sorted) || j < len(p) {
		var e idxEntry
		if j >= len(p) || (i < len(x.sorted) && x.sorted[i].key < p[j].key) {
			e = x.sorted[i]
			i++
		} else {
			e = p[j]
			j++
		}
		if valid(e) {
			out = append(out, e)
		}
	}
	x.sorted, x.pending, x.stale = out, nil, 0
	return out
}

func (s *Server) nameKey(name string) string {
	if s.opts.CaseInsensitiveNames {
		return strings.ToLower(name)
	}
	return name
}

// newStore builds the built-in orgs, the configured ones and their roots.
func (s *Server) newStore() *store {
	st := &store{
		orgByID: map[string]*org{}, assets: map[string]*asset{}, nodes: map[string]*node{},
		nodeByKey: map[string]*node{}, labels: map[string]*label{}, zones: map[string]*zone{},
		tmpls: map[string]*template{}, accounts: map[string]*account{}, spm: map[string]spmEntry{},
		tokens: map[string]bearerToken{}, nextRoot: 1,
	}
	s.st = st
	s.addOrg(DefaultOrgID, s.opts.RootNodeName, true)
	for _, o := range s.opts.Orgs {
		s.addOrg(strings.ToLower(o.ID), o.Name, false)
	}
	s.addOrg(SystemOrgID, "SYSTEM", true)
	return st
}

func (s *Server) addOrg(id, name string, builtin bool) *org {
	o := &org{id: id, name: name, builtin: builtin, byName: map[string]*asset{}, labels: map[string]*label{},
		zones: map[string]*zone{}, tmpls: map[string]*template{}, catCount: map[string]int{}}
	key := strconv.Itoa(s.st.nextRoot)
	s.st.nextRoot++
	root := &node{id: s.newID(), key: key, value: name, org: o, fullValue: "/" + name}
	o.root = root
	s.st.nodes[root.id] = root
	s.st.nodeByKey[key] = root
	s.st.orgs = append(s.st.orgs, o)
	s.st.orgByID[id] = o
	return o
}

// addChild creates a node under parent (no checks).
func (s *Server) addChild(parent *node, value, id string) *node {
	parent.childMark++
	if id == "" {
		id = s.newID()
	}
	n := &node{id: id, key: parent.key + ":" + strconv.Itoa(parent.childMark), value: value, org: parent.org,
		parent: parent, fullValue: parent.fullValue + "/" + value}
	parent.children = append(parent.children, n)
	s.st.nodes[n.id] = n
	s.st.nodeByKey[n.key] = n
	s.counters.nodesCreated++
	return n
}

func (n *node) child(value string) *node {
	for _, c := range n.children {
		if c.value == value {
			return c
		}
	}
	return nil
}

func (n *node) isRoot() bool { return n.parent == nil }

// within reports whether n is anc or one of its descendants.
func (n *node) within(anc *node) bool {
	return n.key == anc.key || strings.HasPrefix(n.key, anc.key+":")
}

func (n *node) rebuildFullValue() {
	if n.parent != nil {
		n.fullValue = n.parent.fullValue + "/" + n.value
	}
	for _, c := range n.children {
		c.rebuildFullValue()
	}
}

// ensurePath creates (get-or-create) the nodes of a "/Root/a/b" path in o.
// The first segment is dropped when it equals the root's value; a path
// without a leading slash is taken relative to "/<org name>/".
func (s *Server) ensurePath(o *org, path string) (*node, string) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + o.name + "/" + path
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	n := o.root
	if len(segs) > 0 && segs[0] == o.root.value {
		segs = segs[1:]
	}
	for _, v := range segs {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		c := n.child(v)
		if c == nil {
			c = s.addChild(n, v, "")
		}
		n = c
	}
	return n, ""
}

func (s *Server) insertAsset(a *asset) {
	st := s.st
	s.st.seq++
	a.seq = st.seq
	st.assets[a.id] = a
	a.org.byName[s.nameKey(a.name)] = a
	a.org.index.add(a)
	st.global.add(a)
	a.org.count++
	a.org.catCount[a.category]++
	st.total++
	for _, n := range a.nodes {
		n.direct++
	}
	for _, l := range a.labels {
		l.links++
	}
	if a.zone != nil {
		a.zone.assets++
	}
}

func (s *Server) removeAsset(a *asset) {
	st := s.st
	delete(st.assets, a.id)
	if a.org.byName[s.nameKey(a.name)] == a {
		delete(a.org.byName, s.nameKey(a.name))
	}
	a.deleted = true
	a.org.index.drop()
	st.global.drop()
	a.org.count--
	a.org.catCount[a.category]--
	st.total--
	for _, n := range a.nodes {
		n.direct--
	}
	for _, l := range a.labels {
		l.links--
	}
	if a.zone != nil {
		a.zone.assets--
	}
	for _, ac := range a.accounts {
		delete(st.accounts, ac.id)
	}
	a.accounts = nil
	s.counters.assetsDeleted++
}

func (s *Server) renameAsset(a *asset, name string) {
	if a.org.byName[s.nameKey(a.name)] == a {
		delete(a.org.byName, s.nameKey(a.name))
	}
	a.name = name
	a.ver++
	a.org.byName[s.nameKey(name)] = a
	a.org.index.drop()
	a.org.index.add(a)
	s.st.global.drop()
	s.st.global.add(a)
}

func (s *Server) setNodes(a *asset, nodes []*node) {
	a.nodes = relink(a.nodes, nodes, func(n *node) *int { return &n.direct })
}

func (s *Server) setLabels(a *asset, ls []*label) {
	a.labels = relink(a.labels, ls, func(l *label) *int { return &l.links })
}

// relink replaces an asset's members (nodes, labels) with next, deduplicated,
// moving each member's count of assets along.
func relink[T comparable](old, next []T, count func(T) *int) []T {
	for _, x := range old {
		*count(x)--
	}
	next = dedup(next)
	for _, x := range next {
		*count(x)++
	}
	return next
}

// dedup returns xs without repeats, in first-seen order (a new slice).
func dedup[T comparable](xs []T) []T {
	out := xs[:0:0]
	seen := map[T]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func (s *Server) setZone(a *asset, z *zone) {
	if a.zone != nil {
		a.zone.assets--
	}
	a.zone = z
	if z != nil {
		z.assets++
	}
}

// labelKey keys org.labels: a label is unique by (name, value) in its org.
func labelKey(name, value string) string { return name + "\x00" + value }

// getOrCreateLabel finds or creates the label name:value in o.
func (s *Server) getOrCreateLabel(o *org, name, value string) *label {
	k := labelKey(name, value)
	if l := o.labels[k]; l != nil {
		return l
	}
	now := s.now()
	l := &label{id: s.newID(), name: name, value: value, org: o, created: now, updated: now}
	o.labels[k] = l
	s.st.labels[l.id] = l
	s.counters.labelsCreated++
	return l
}

func (s *Server) deleteLabel(l *label) {
	if l.links > 0 {
		for _, a := range s.st.assets {
			if a.org != l.org {
				continue
			}
			for i, x := range a.labels {
				if x == l {
					a.labels = append(a.labels[:i:i], a.labels[i+1:]...)
					break
				}
			}
		}
	}
	delete(l.org.labels, labelKey(l.name, l.value))
	delete(s.st.labels, l.id)
}

func (s *Server) deleteNodeTree(n *node) {
	for _, c := range n.children {
		s.deleteNodeTree(c)
	}
	delete(s.st.nodes, n.id)
	delete(s.st.nodeByKey, n.key)
}

func (n *node) subtreeAssets() int {
	t := n.direct
	for _, c := range n.children {
		t += c.subtreeAssets()
	}
	return t
}
