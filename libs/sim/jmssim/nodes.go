package jmssim

import (
	"fmt"
	"sort"
	"strings"
)

type nodeJSON struct {
	ID        string `json:"id"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	OrgID     string `json:"org_id"`
	Name      string `json:"name"`
	FullValue string `json:"full_value"`
	OrgName   string `json:"org_name"`
}

func nodeRep(n *node) nodeJSON {
	return nodeJSON{n.id, n.key, n.value, n.org.id, n.value, n.fullValue, n.org.name}
}

// nodeTable lists nodes ordered by (parent_key, value, key).
func (s *Server) nodeTable() *table[node] {
	return &table[node]{s: s, model: "Node",
		rows:  func(st *store) map[string]*node { return st.nodes },
		orgOf: func(n *node) *org { return n.org },
		less: func(a, b *node) bool {
			if pa, pb := parentKey(a), parentKey(b); pa != pb {
				return pa < pb
			}
			if a.value != b.value {
				return a.value < b.value
			}
			return a.key < b.key
		},
		rep: func(n *node) any { return nodeRep(n) },
		filters: map[string]func(*node) string{
			"value": func(n *node) string { return n.value },
			"key":   func(n *node) string { return n.key },
			"id":    func(n *node) string { return n.id },
		},
		search: func(n *node) []string { return []string{n.fullValue} }, qSearch: true,
		remove: s.nodeRemove,
	}
}

func parentKey(n *node) string {
	if n.parent == nil {
		return ""
	}
	return n.parent.key
}

// listGeneric writes a list with the version's paging rules.
func (c *rctx) listGeneric(items []any, noTruncate bool) {
	limit, hasLimit, offset := c.paging()
	if !hasLimit {
		if n := c.noLimitCap(); n >= 0 && !noTruncate && len(items) > n {
			items = items[:n]
		}
		c.json(200, items)
		return
	}
	count := len(items)
	var win []any
	if offset < count {
		win = items[offset:min(count, offset+limit)]
	}
	if win == nil {
		win = []any{}
	}
	next, prev := c.pageLinks(count, limit, offset)
	c.json(200, page{Count: count, Next: next, Previous: prev, Results: win})
}

func validNodeValue(v string) string {
	if strings.Contains(v, "/") {
		return "Can't contains: /"
	}
	return ""
}

// nodeValueMsg checks a new value for a child of parent (nil for a root;
// self, the node being renamed, excepted).
func (s *Server) nodeValueMsg(v string, parent, self *node) string {
	if msg := validNodeValue(v); msg != "" {
		return msg
	}
	if parent == nil {
		return ""
	}
	if other := parent.child(v); other != nil && other != self {
		return s.msg(MsgNodeDup)
	}
	return ""
}

// valueErr writes a 400 about the value field.
func valueErr(c *rctx, msg string) { c.json(400, map[string][]string{"value": {msg}}) }

func (s *Server) hNodeCreate(c *rctx) {
	m, ok := c.mapBody()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.org == nil {
		c.json(400, []string{s.msg(MsgRootSave)})
		return
	}
	if fv, ok := m["full_value"].(string); ok && strings.TrimSpace(fv) != "" {
		n, _ := s.ensurePath(c.org, fv)
		c.json(201, nodeRep(n))
		return
	}
	v, _ := m["value"].(string)
	v = strings.TrimSpace(v)
	if v == "" {
		valueErr(c, "This field is required.")
		return
	}
	if msg := s.nodeValueMsg(v, c.org.root, nil); msg != "" {
		valueErr(c, msg)
		return
	}
	id, _ := m["id"].(string)
	if id != "" && s.st.nodes[id] != nil {
		s.serverError(c.w, c.r)
		return
	}
	n := s.addChild(c.org.root, v, strings.ToLower(id))
	c.json(201, nodeRep(n))
}

func (s *Server) hNodeChildCreate(c *rctx) { s.tab.nodes.withRow(c, true, s.nodeChildCreate) }

func (s *Server) nodeChildCreate(c *rctx, m map[string]any, parent *node) {
	if c.org == nil {
		c.json(400, []string{s.msg(MsgRootSave)})
		return
	}
	v, _ := m["value"].(string)
	v = strings.TrimSpace(v)
	if v == "" {
		i := 1
		for {
			v = fmt.Sprintf("New node %d", i)
			if parent.child(v) == nil {
				break
			}
			i++
		}
	}
	if msg := validNodeValue(v); msg != "" {
		valueErr(c, msg)
		return
	}
	if s.opts.ParentSiblingQuirk && parent.parent != nil && parent.parent.child(v) != nil {
		valueErr(c, s.msg(MsgNodeDup))
		return
	}
	if parent.child(v) != nil {
		c.detail(400, s.msg(MsgNodeDup), "error")
		return
	}
	id, _ := m["id"].(string)
	if id != "" && s.st.nodes[strings.ToLower(id)] != nil {
		s.serverError(c.w, c.r)
		return
	}
	n := s.addChild(parent, v, strings.ToLower(id))
	c.json(201, nodeRep(n))
}

func (s *Server) hNodeChildren(c *rctx) {
	s.mu.RLock()
	n := s.tab.nodes.find(c, c.args[0])
	if n == nil {
		s.mu.RUnlock()
		c.notFoundObj("Node")
		return
	}
	items := s.childrenOf(n, c.q.Get("all") == "all" || c.q.Get("all") == "1")
	s.mu.RUnlock()
	c.listGeneric(items, false)
}

func (s *Server) childrenOf(n *node, all bool) []any {
	var out []any
	var walk func(p *node)
	walk = func(p *node) {
		kids := append([]*node(nil), p.children...)
		sort.Slice(kids, func(i, j int) bool { return kids[i].value < kids[j].value })
		for _, k := range kids {
			out = append(out, nodeRep(k))
			if all {
				walk(k)
			}
		}
	}
	walk(n)
	if out == nil {
		out = []any{}
	}
	return out
}

// hNodeChildrenQuery: GET /nodes/children/?id=|key= (no id: the org roots).
func (s *Server) hNodeChildrenQuery(c *rctx) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n *node
	if id := c.q.Get("id"); id != "" {
		n = s.tab.nodes.find(c, id)
	} else if k := c.q.Get("key"); k != "" {
		n = s.st.nodeByKey[k]
		if n != nil && c.org != nil && n.org != c.org {
			n = nil
		}
	} else {
		var roots []any
		for _, o := range s.st.orgs {
			if c.org == nil || o == c.org {
				roots = append(roots, nodeRep(o.root))
			}
		}
		c.json(200, roots)
		return
	}
	if n == nil {
		c.json(200, []any{})
		return
	}
	c.json(200, s.childrenOf(n, c.q.Get("all") == "all" || c.q.Get("all") == "1"))
}

// hNodeTree: GET /nodes/children/tree/?key= returns zTree items.
func (s *Server) hNodeTree(c *rctx) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tree := func(n *node, open bool) map[string]any {
		pid := ""
		if n.parent != nil {
			pid = n.parent.key
		}
		return map[string]any{
			"id": n.key, "name": n.value, "title": n.value, "pId": pid, "isParent": true, "open": open,
			"iconSkin": "", "chkDisabled": false,
			"meta": map[string]any{"type": "node", "data": map[string]any{"id": n.id, "key": n.key, "value": n.value,
				"assets_amount": n.subtreeAssets()}},
		}
	}
	var out []any
	if k := c.q.Get("key"); k != "" {
		n := s.st.nodeByKey[k]
		if n != nil && (c.org == nil || n.org == c.org) {
			for _, x := range s.childrenNodes(n) {
				out = append(out, tree(x, false))
			}
		}
	} else {
		for _, o := range s.st.orgs {
			if c.org == nil || o == c.org {
				out = append(out, tree(o.root, true))
				for _, x := range s.childrenNodes(o.root) {
					out = append(out, tree(x, false))
				}
			}
		}
	}
	if out == nil {
		out = []any{}
	}
	c.json(200, out)
}

func (s *Server) childrenNodes(n *node) []*node {
	kids := append([]*node(nil), n.children...)
	sort.Slice(kids, func(i, j int) bool { return kids[i].value < kids[j].value })
	return kids
}

func (s *Server) hNodeUpdate(c *rctx) { s.tab.nodes.withRow(c, true, s.nodeUpdate) }

func (s *Server) nodeUpdate(c *rctx, m map[string]any, n *node) {
	v, has := m["value"].(string)
	v = strings.TrimSpace(v)
	if !has || v == "" {
		if c.r.Method == "PUT" {
			valueErr(c, "This field is required.")
			return
		}
		c.json(200, nodeRep(n))
		return
	}
	if msg := s.nodeValueMsg(v, n.parent, n); msg != "" {
		valueErr(c, msg)
		return
	}
	if n.isRoot() {
		if v != n.value {
			c.errorMsg(400, s.msg(MsgRootNodeRename))
			return
		}
		c.json(200, nodeRep(n))
		return
	}
	n.value = v
	n.rebuildFullValue()
	c.json(200, nodeRep(n))
}

// nodeRemove deletes a node and its subtree unless it is a root or holds
// assets.
func (s *Server) nodeRemove(c *rctx, n *node) bool {
	if n.isRoot() {
		c.errorMsg(403, s.msg(MsgRootNodeDelete, n.value))
		return false
	}
	if n.subtreeAssets() > 0 {
		c.errorMsg(403, s.msg(MsgNodeHasAssets))
		return false
	}
	p := n.parent
	for i, k := range p.children {
		if k == n {
			p.children = append(p.children[:i:i], p.children[i+1:]...)
			break
		}
	}
	s.deleteNodeTree(n)
	return true
}

// hNodeAssets: PUT /nodes/{id}/assets/add|remove|replace/ {"assets":[ids]}.
func (s *Server) hNodeAssets(op string) handlerFunc {
	return func(c *rctx) {
		s.tab.nodes.withRow(c, true, func(c *rctx, m map[string]any, n *node) { s.nodeAssets(c, op, m, n) })
	}
}

func (s *Server) nodeAssets(c *rctx, op string, m map[string]any, n *node) {
	list, _ := m["assets"].([]any)
	var as []*asset
	for _, it := range list {
		id, _ := relatedID(it)
		a := s.st.assets[strings.ToLower(id)]
		if a == nil || a.org != n.org {
			c.json(400, map[string][]string{"assets": {invalidPK(id)}})
			return
		}
		as = append(as, a)
	}
	for _, a := range as {
		switch op {
		case "add":
			s.setNodes(a, append(append([]*node{}, a.nodes...), n))
		case "remove":
			var keep []*node
			for _, x := range a.nodes {
				if x != n {
					keep = append(keep, x)
				}
			}
			if len(keep) == 0 {
				keep = []*node{n.org.root}
			}
			s.setNodes(a, keep)
		case "replace":
			s.setNodes(a, []*node{n})
		}
	}
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.id
	}
	c.json(200, map[string]any{"assets": ids})
}
