package jmssim

import (
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// page is the DRF LimitOffsetPagination envelope.
type page struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  any     `json:"results"`
}

// paging reads limit/offset: a missing, zero, negative or garbage limit
// means "no limit"; a bad offset is 0.
func (c *rctx) paging() (limit int, hasLimit bool, offset int) {
	if l, err := strconv.Atoi(c.q.Get("limit")); err == nil && l > 0 {
		limit, hasLimit = l, true
		maxLimit := 1000
		if c.s.v47() {
			maxLimit = 10000
		}
		if limit > maxLimit {
			limit = maxLimit
		}
	}
	if o, err := strconv.Atoi(c.q.Get("offset")); err == nil && o > 0 {
		offset = o
	}
	return
}

// noLimitCap is how many rows a list without limit returns (-1 = all).
func (c *rctx) noLimitCap() int {
	if c.s.v47() {
		return -1
	}
	return 200
}

// pageLinks builds absolute next/previous URLs the way DRF does (other
// parameters kept, sorted by name, limit and offset replaced).
func (c *rctx) pageLinks(count, limit, offset int) (next, prev *string) {
	base := "http://" + c.r.Host + c.r.URL.Path
	mk := func(off int, withOffset bool) *string {
		q := url.Values{}
		for k, v := range c.q {
			q[k] = append([]string(nil), v...)
		}
		q.Set("limit", strconv.Itoa(limit))
		if withOffset {
			q.Set("offset", strconv.Itoa(off))
		} else {
			q.Del("offset")
		}
		u := base + "?" + q.Encode()
		return &u
	}
	if offset+limit < count {
		next = mk(offset+limit, true)
	}
	if offset > 0 {
		if offset-limit <= 0 {
			prev = mk(0, false)
		} else {
			prev = mk(offset-limit, true)
		}
	}
	return
}

// walkBase calls fn for each asset of the endpoint in the request's org
// (every org in the root org), in (name, id) order, until fn returns false.
func (s *Server) walkBase(c *rctx, ep *endpoint, fn func(*asset) bool) {
	var entries []idxEntry
	if c.org == nil {
		entries = s.st.global.view()
	} else {
		entries = c.org.index.view()
	}
	for _, e := range entries {
		if !ep.owns(e.a) {
			continue
		}
		if !fn(e.a) {
			return
		}
	}
}

type labelGroup struct {
	any    bool
	values map[string]bool
}

func splitList(v string) []string {
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// assetFilter compiles the query into a predicate. ids is non-nil when the
// query names ids (ids=, id=, id__in=, spm=): only those can match.
func (s *Server) assetFilter(c *rctx) (pred func(*asset) bool, ids []string, errBody any, internal bool) {
	q := c.q
	var preds []func(*asset) bool
	addP := func(p func(*asset) bool) { preds = append(preds, p) }

	for _, f := range []string{"type", "category", "exclude_type", "exclude_category"} {
		v := q.Get(f)
		if v == "" {
			continue
		}
		valid := validTypes
		if strings.HasSuffix(f, "category") {
			valid = validCategories
		}
		if !contains(valid, v) {
			return nil, nil, map[string][]string{f: {"Select a valid choice. " + v + " is not one of the available choices."}}, false
		}
		switch f {
		case "type":
			addP(func(a *asset) bool { return a.typ == v })
		case "category":
			addP(func(a *asset) bool { return a.category == v })
		case "exclude_type":
			addP(func(a *asset) bool { return a.typ != v })
		case "exclude_category":
			addP(func(a *asset) bool { return a.category != v })
		}
	}
	if v := q.Get("name"); v != "" {
		k := s.nameKey(v)
		addP(func(a *asset) bool { return s.nameKey(a.name) == k })
	}
	if v := q.Get("address"); v != "" {
		addP(func(a *asset) bool { return a.address == v })
	}
	if v := q.Get("comment"); v != "" {
		addP(func(a *asset) bool { return a.comment == v })
	}
	if v := q.Get("is_active"); v != "" {
		if b, ok := parseBool(v); ok {
			addP(func(a *asset) bool { return a.active == b })
		}
	}
	if v := q.Get("is_gateway"); v != "" {
		if b, ok := parseBool(v); ok {
			addP(func(a *asset) bool { return strings.HasPrefix(a.platform.Name, "Gateway") == b })
		}
	}
	if v := q.Get("platform"); v != "" {
		switch n, err := strconv.Atoi(v); {
		case err == nil:
			addP(func(a *asset) bool { return a.platform.ID == n })
		case v == "Gateway":
			addP(func(a *asset) bool { return strings.HasPrefix(a.platform.Name, "Gateway") })
		default:
			addP(func(a *asset) bool { return a.platform.Name == v })
		}
	}
	if v := q.Get("exclude_platform"); v != "" {
		addP(func(a *asset) bool { return a.platform.Name != v })
	}
	if v := q.Get("protocols"); v != "" {
		want := splitList(v)
		addP(func(a *asset) bool {
			for _, p := range a.protocols {
				if contains(want, p.Name) {
					return true
				}
			}
			return false
		})
	}
	if v := q.Get(s.zoneField()); v != "" {
		if _, err := uuid.Parse(v); err == nil {
			addP(func(a *asset) bool { return a.zone != nil && a.zone.id == v })
		} else if s.v47() {
			addP(func(a *asset) bool { return a.zone != nil && strings.Contains(a.zone.name, v) })
		} else {
			lv := strings.ToLower(v)
			addP(func(a *asset) bool { return a.zone != nil && strings.Contains(strings.ToLower(a.zone.name), lv) })
		}
	}
	if v := q.Get("ips"); v != "" {
		want := splitList(v)
		addP(func(a *asset) bool { return contains(want, a.address) })
	}
	// node / node_id with all (default true); unknown node = no filter
	nv := q.Get("node")
	if nv == "" {
		nv = q.Get("node_id")
	}
	if nv != "" {
		n := s.st.nodes[nv]
		if n == nil {
			n = s.st.nodeByKey[nv]
		}
		if n != nil && (c.org == nil || n.org == c.org) {
			all := true
			if v := q.Get("all"); v != "" {
				if b, ok := parseBool(v); ok {
					all = b
				}
			}
			if q.Get("show_current_asset") == "1" {
				all = false
			}
			addP(func(a *asset) bool {
				for _, an := range a.nodes {
					if an == n || (all && an.within(n)) {
						return true
					}
				}
				return false
			})
		}
	}
	// labels=name:value,… (OR within a name, AND across names)
	if v := q.Get("labels"); v != "" {
		groups := map[string]*labelGroup{}
		for _, item := range splitList(v) {
			name, value, ok := strings.Cut(item, ":")
			if !ok {
				if _, err := uuid.Parse(item); err == nil {
					if s.v47() {
						return nil, nil, nil, true // 4.7 raises on label UUIDs
					}
					l := s.st.labels[item]
					if l == nil {
						name, value = "\x00missing", item
					} else {
						name, value = l.name, l.value
					}
				} else {
					continue
				}
			}
			g := groups[name]
			if g == nil {
				g = &labelGroup{values: map[string]bool{}}
				groups[name] = g
			}
			if value == "*" {
				g.any = true
			} else {
				g.values[value] = true
			}
		}
		if len(groups) > 0 {
			addP(func(a *asset) bool {
				for name, g := range groups {
					hit := false
					for _, l := range a.labels {
						if l.name == name && (g.any || g.values[l.value]) {
							hit = true
							break
						}
					}
					if !hit {
						return false
					}
				}
				return true
			})
		}
	}
	// search (q on 4.10, falling back to search)
	sv := q.Get("search")
	if !s.v47() && q.Get("q") != "" {
		sv = q.Get("q")
	}
	if terms := searchTerms(sv); len(terms) > 0 {
		addP(func(a *asset) bool {
			return matchTerms(terms, a.name, a.address, a.comment)
		})
	}
	// v4.10 lookups: field__icontains / __startswith / __in, "!" negates
	if !s.v47() {
		for key, vals := range q {
			k := key
			neg := strings.HasSuffix(k, "!")
			k = strings.TrimSuffix(k, "!")
			field, lookup, _ := strings.Cut(k, "__")
			if (!neg && lookup == "") || vals[0] == "" {
				continue
			}
			get := fieldGetter(field)
			if get == nil || !contains([]string{"", "exact", "icontains", "startswith", "in"}, lookup) {
				continue
			}
			v := vals[0]
			var p func(*asset) bool
			switch lookup {
			case "", "exact":
				p = func(a *asset) bool { return get(a) == v }
			case "icontains":
				lv := strings.ToLower(v)
				p = func(a *asset) bool { return strings.Contains(strings.ToLower(get(a)), lv) }
			case "startswith":
				p = func(a *asset) bool { return strings.HasPrefix(get(a), v) }
			case "in":
				want := splitList(v)
				p = func(a *asset) bool { return contains(want, get(a)) }
			}
			if neg {
				addP(func(a *asset) bool { return !p(a) })
			} else {
				addP(p)
			}
		}
	}
	// id narrowing
	idSet := func(list []string) {
		if ids == nil {
			ids = list
			return
		}
		var keep []string
		for _, x := range ids {
			if contains(list, x) {
				keep = append(keep, x)
			}
		}
		ids = keep
		if ids == nil {
			ids = []string{}
		}
	}
	if v := q.Get("ids"); v != "" {
		idSet(splitList(strings.ToLower(v)))
	}
	if v := q.Get("id"); v != "" {
		idSet([]string{strings.ToLower(v)})
	}
	if v := q.Get("id__in"); v != "" && !s.v47() {
		idSet(splitList(strings.ToLower(v)))
	}
	if q.Has("spm") {
		e, ok := s.st.spm[q.Get("spm")]
		list := []string{}
		if ok && s.now().Before(e.expires) {
			for id := range e.ids {
				list = append(list, id)
			}
		}
		idSet(list)
	}
	pred = func(a *asset) bool {
		for _, p := range preds {
			if !p(a) {
				return false
			}
		}
		return true
	}
	return pred, ids, nil, false
}

func fieldGetter(f string) func(*asset) string {
	switch f {
	case "name":
		return func(a *asset) string { return a.name }
	case "address":
		return func(a *asset) string { return a.address }
	case "id":
		return func(a *asset) string { return a.id }
	case "comment":
		return func(a *asset) string { return a.comment }
	}
	return nil
}

// searchTerms splits a search value: commas separate groups and spaces
// terms; all of them are ANDed.
func searchTerms(v string) []string {
	var out []string
	for _, g := range strings.Split(v, ",") {
		for _, t := range strings.Fields(g) {
			out = append(out, strings.ToLower(t))
		}
	}
	return out
}

func matchTerms(terms []string, fields ...string) bool {
	for _, t := range terms {
		hit := false
		for _, f := range fields {
			if containsFold(f, t) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// containsFold: lower-case term t inside s, case-insensitively.
func containsFold(s, t string) bool {
	if len(t) > len(s) {
		return false
	}
	for i := 0; i+len(t) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(t)], t) {
			return true
		}
	}
	return strings.Contains(strings.ToLower(s), t)
}

// orderFn compiles ?order=; nil means the default (name) order.
func (s *Server) orderFn(c *rctx) func(a, b *asset) int {
	v := c.q.Get("order")
	if v == "" {
		return nil
	}
	type key struct {
		desc bool
		cmp  func(a, b *asset) int
	}
	var keys []key
	for _, f := range splitList(v) {
		desc := strings.HasPrefix(f, "-")
		f = strings.TrimPrefix(f, "-")
		var cmp func(a, b *asset) int
		switch f {
		case "name":
			cmp = func(a, b *asset) int { return strings.Compare(a.name, b.name) }
		case "address":
			cmp = func(a, b *asset) int { return strings.Compare(a.address, b.address) }
		case "connectivity":
			cmp = func(a, b *asset) int { return strings.Compare(a.connectivity, b.connectivity) }
		case "platform":
			cmp = func(a, b *asset) int { return a.platform.ID - b.platform.ID }
		case "date_created":
			cmp = func(a, b *asset) int { return a.created.Compare(b.created) }
		case "date_updated":
			cmp = func(a, b *asset) int { return a.updated.Compare(b.updated) }
		case "date_last_login":
			cmp = func(a, b *asset) int { return 0 }
		default:
			continue // unknown fields are ignored
		}
		keys = append(keys, key{desc, cmp})
	}
	if len(keys) == 0 {
		return nil
	}
	return func(a, b *asset) int {
		for _, k := range keys {
			r := k.cmp(a, b)
			if k.desc {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return int(a.seq - b.seq)
	}
}

// filterAssets returns every matching asset in list order. Call with s.mu held.
func (s *Server) filterAssets(c *rctx, ep *endpoint, _ bool) ([]*asset, any) {
	pred, ids, errBody, internal := s.assetFilter(c)
	if internal {
		return nil, "internal"
	}
	if errBody != nil {
		return nil, errBody
	}
	var out []*asset
	if ids != nil {
		for _, id := range ids {
			a := s.st.assets[id]
			if a != nil && (c.org == nil || a.org == c.org) && ep.owns(a) && pred(a) && !containsAsset(out, a) {
				out = append(out, a)
			}
		}
		sort.Slice(out, func(i, j int) bool { return sortKey(out[i]) < sortKey(out[j]) })
	} else {
		s.walkBase(c, ep, func(a *asset) bool {
			if pred(a) {
				out = append(out, a)
			}
			return true
		})
	}
	if cmp := s.orderFn(c); cmp != nil {
		sort.SliceStable(out, func(i, j int) bool { return cmp(out[i], out[j]) < 0 })
	}
	return out, nil
}

func containsAsset(xs []*asset, a *asset) bool {
	for _, x := range xs {
		if x == a {
			return true
		}
	}
	return false
}

func (s *Server) hAssetList(ep *endpoint) handlerFunc {
	return func(c *rctx) {
		limit, hasLimit, offset := c.paging()
		s.mu.RLock()
		var window []*asset
		count := 0
		pred, ids, errBody, internal := s.assetFilter(c)
		switch {
		case internal:
			s.mu.RUnlock()
			s.serverError(c.w, c.r)
			return
		case errBody != nil:
			s.mu.RUnlock()
			c.json(400, errBody)
			return
		}
		if ids == nil && c.q.Get("order") == "" {
			// fast path: walk the name index, keep only the window
			end := -1
			if hasLimit {
				end = offset + limit
			} else if n := c.noLimitCap(); n >= 0 {
				offset, end = 0, n
			} else {
				offset = 0
			}
			s.walkBase(c, ep, func(a *asset) bool {
				if !pred(a) {
					return true
				}
				if count >= offset && (end < 0 || count < end) {
					window = append(window, a)
				}
				count++
				return hasLimit || end < 0 || count < end
			})
		} else {
			all, _ := s.filterAssets(c, ep, true)
			count = len(all)
			switch {
			case hasLimit:
				if offset < len(all) {
					window = all[offset:min(len(all), offset+limit)]
				}
			case c.noLimitCap() >= 0 && len(all) > c.noLimitCap():
				window = all[:c.noLimitCap()]
			default:
				window = all
			}
		}
		reps := make([]*assetJSON, len(window))
		for i, a := range window {
			reps[i] = s.assetRep(a, c.r, false)
		}
		s.mu.RUnlock()
		var results any = reps
		if f := c.fieldsFilter(); f != nil {
			out := make([]any, len(reps))
			for i, r := range reps {
				out[i] = f(r)
			}
			results = out
		}
		if !hasLimit {
			c.json(200, results)
			return
		}
		next, prev := c.pageLinks(count, limit, offset)
		c.json(200, page{Count: count, Next: next, Previous: prev, Results: results})
	}
}

// fieldsFilter implements ?fields=, ?fields!= and ?fields_size= on GET.
func (c *rctx) fieldsFilter() func(any) any {
	if c.r.Method != "GET" {
		return nil
	}
	keep := splitList(c.q.Get("fields"))
	drop := splitList(c.q.Get("fields!"))
	switch c.q.Get("fields_size") {
	case "mini":
		keep = []string{"id", "name", "address", c.s.zoneField(), "platform"}
	case "small":
		keep = []string{"id", "name", "address", c.s.zoneField(), "platform", "is_active", "comment"}
	}
	if len(keep) == 0 && len(drop) == 0 {
		return nil
	}
	return func(v any) any {
		b, _ := json.Marshal(v)
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			return v
		}
		if len(keep) > 0 {
			for k := range m {
				if !contains(keep, k) {
					delete(m, k)
				}
			}
		}
		for _, k := range drop {
			delete(m, k)
		}
		return m
	}
}
