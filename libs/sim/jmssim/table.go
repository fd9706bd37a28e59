package jmssim

import (
	"sort"
	"strings"
)

// table describes one kind of per-org resource (zones, labels, account
// templates, accounts, nodes): where its rows are kept, which org each row
// belongs to, and how rows are ordered, filtered and shown. Its h* methods
// are the list/detail/create/update/delete handlers those resources share;
// they take s.mu themselves. A nil create, update or remove means the
// resource has its own handler for that method (or none).
type table[T any] struct {
	s         *Server
	model     string                     // the model name of 404s
	rows      func(*store) map[string]*T // every row by lower-case id
	orgOf     func(*T) *org
	less      func(a, b *T) bool // list order
	rep       func(*T) any       // list, create and update representation
	detailRep func(*T) any       // GET …/{id}/; nil: rep

	filters map[string]func(*T) string // exact-match query parameters
	search  func(*T) []string          // the fields ?search= matches; nil: none
	qSearch bool                       // 4.10 also takes ?q= for ?search=

	// create validates a POST body into e and returns how to insert the
	// row; that runs only without errors, in the request's (non-root) org.
	create func(c *rctx, m map[string]any, e fieldErrs) (insert func() *T)
	// update validates a PUT/PATCH body for x into e (every field required
	// on PUT) and returns how to apply it; that runs only without errors.
	update func(c *rctx, m map[string]any, x *T, e fieldErrs) (apply func())
	// remove deletes x, or writes why it cannot and returns false.
	remove func(c *rctx, x *T) bool
}

// tables are the Server's per-org resources.
type tables struct {
	zones    *table[zone]
	labels   *table[label]
	tmpls    *table[template]
	accounts *table[account]
	nodes    *table[node]
}

func (s *Server) newTables() tables {
	return tables{zones: s.zoneTable(), labels: s.labelTable(), tmpls: s.templateTable(),
		accounts: s.accountTable(), nodes: s.nodeTable()}
}

// find returns the row id names if the request's org may see it (the root
// org sees every org's). Call with s.mu held.
func (t *table[T]) find(c *rctx, id string) *T {
	x := t.rows(t.s.st)[strings.ToLower(id)]
	if x == nil || (c.org != nil && t.orgOf(x) != c.org) {
		return nil
	}
	return x
}

// visible returns the rows the request's org may see, in list order. Call
// with s.mu held.
func (t *table[T]) visible(c *rctx) []*T {
	var out []*T
	for _, x := range t.rows(t.s.st) {
		if c.org == nil || t.orgOf(x) == c.org {
			out = append(out, x)
		}
	}
	t.sort(out)
	return out
}

func (t *table[T]) sort(xs []*T) {
	sort.Slice(xs, func(i, j int) bool { return t.less(xs[i], xs[j]) })
}

// items represents the rows the query's filters and search keep. Call with
// s.mu held.
func (t *table[T]) items(c *rctx, rows []*T) []any {
	terms := t.s.listTerms(c, t.qSearch)
	var items []any
next:
	for _, x := range rows {
		for param, field := range t.filters {
			if v := c.q.Get(param); v != "" && field(x) != v {
				continue next
			}
		}
		if len(terms) > 0 && t.search != nil && !matchTerms(terms, t.search(x)...) {
			continue
		}
		items = append(items, t.rep(x))
	}
	return items
}

// listTerms returns the ?search= terms; with q, 4.10's ?q= overrides them.
func (s *Server) listTerms(c *rctx, q bool) []string {
	if q && !s.v47() && c.q.Get("q") != "" {
		return searchTerms(c.q.Get("q"))
	}
	return searchTerms(c.q.Get("search"))
}

// hList serves GET on the list URL.
func (t *table[T]) hList(c *rctx) {
	t.s.mu.RLock()
	items := t.items(c, t.visible(c))
	t.s.mu.RUnlock()
	c.listGeneric(items, false)
}

// hDetail serves GET …/{id}/.
func (t *table[T]) hDetail(c *rctx) {
	rep := t.detailRep
	if rep == nil {
		rep = t.rep
	}
	t.s.mu.RLock()
	x := t.find(c, c.args[0])
	var body any
	if x != nil {
		body = rep(x)
	}
	t.s.mu.RUnlock()
	if x == nil {
		c.notFoundObj(t.model)
		return
	}
	c.json(200, body)
}

// hCreate serves POST on the list URL: field errors first, then the root
// org's refusal to save.
func (t *table[T]) hCreate(c *rctx) {
	m, ok := c.mapBody()
	if !ok {
		return
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	e := fieldErrs{}
	insert := t.create(c, m, e)
	if len(e) > 0 {
		c.json(400, e)
		return
	}
	if c.org == nil {
		c.json(400, []string{t.s.msg(MsgRootSave)})
		return
	}
	c.json(201, t.rep(insert()))
}

// withRow serves a request on …/{id}/…: it decodes the JSON body first
// when readBody (m is nil otherwise), takes s.mu and runs fn on the row, or
// writes the 400 or the 404.
func (t *table[T]) withRow(c *rctx, readBody bool, fn func(c *rctx, m map[string]any, x *T)) {
	var m map[string]any
	if readBody {
		var ok bool
		if m, ok = c.mapBody(); !ok {
			return
		}
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	x := t.find(c, c.args[0])
	if x == nil {
		c.notFoundObj(t.model)
		return
	}
	fn(c, m, x)
}

// hUpdate serves PUT and PATCH on …/{id}/.
func (t *table[T]) hUpdate(c *rctx) {
	t.withRow(c, true, func(c *rctx, m map[string]any, x *T) {
		e := fieldErrs{}
		apply := t.update(c, m, x, e)
		if len(e) > 0 {
			c.json(400, e)
			return
		}
		apply()
		c.json(200, t.rep(x))
	})
}

// hDelete serves DELETE on …/{id}/.
func (t *table[T]) hDelete(c *rctx) {
	t.withRow(c, false, func(c *rctx, _ map[string]any, x *T) {
		if t.remove(c, x) {
			c.w.WriteHeader(204)
		}
	})
}

// mapBody decodes a JSON body; anything but an object reads as empty. On
// false the 400 is written.
func (c *rctx) mapBody() (map[string]any, bool) {
	body, ok := c.body()
	if !ok {
		return nil, false
	}
	m, _ := body.(map[string]any)
	return m, true
}

// notUnique marks fields as clashing with another row.
func (s *Server) notUnique(e fieldErrs, fields ...string) {
	for _, f := range fields {
		e.add(f, s.msg(MsgUnique))
	}
}
