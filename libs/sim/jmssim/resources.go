package jmssim

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ------------------------------------------------------------ tokens

func (s *Server) hToken(c *rctx) {
	m, ok := c.mapBody()
	if !ok {
		return
	}
	un, _ := m["username"].(string)
	pw, _ := m["password"].(string)
	for _, u := range s.opts.Users {
		if u.Username == un && u.Password == pw && un != "" {
			tok := strings.ReplaceAll(s.newID(), "-", "")
			exp := s.now().Add(24 * time.Hour)
			s.mu.Lock()
			s.st.tokens[tok] = bearerToken{user: un, expires: exp}
			s.mu.Unlock()
			c.json(201, map[string]any{"token": tok, "keyword": "Bearer", "date_expired": s.fmtTime(exp, c.r),
				"user": map[string]any{"id": s.newID(), "name": "Administrator", "username": un}})
			return
		}
	}
	c.json(400, map[string]any{"error": "Please enter the correct username and password", "msg": "Password invalid"})
}

// ------------------------------------------------------------ orgs

func (s *Server) orgRep(o *org) map[string]any {
	return map[string]any{"id": o.id, "name": o.name, "is_default": o.id == DefaultOrgID, "is_root": false,
		"is_system": o.id == SystemOrgID, "internal": o.builtin, "comment": "", "created_by": "System",
		"date_created":        s.fmtTime(s.started, nil),
		"resource_statistics": map[string]any{"assets_amount": o.count, "nodes_amount": 0, "domains_amount": len(o.zones)}}
}

func (s *Server) hOrgList(c *rctx) {
	s.mu.RLock()
	var items []any
	for _, o := range s.st.orgs {
		if v := c.q.Get("name"); v != "" && o.name != v {
			continue
		}
		items = append(items, s.orgRep(o))
	}
	s.mu.RUnlock()
	c.listGeneric(items, false)
}

func (s *Server) hOrgCurrent(c *rctx) {
	if c.org == nil {
		c.json(200, map[string]any{"id": RootOrgID, "name": "GLOBAL", "is_default": false, "is_root": true,
			"is_system": false, "comment": ""})
		return
	}
	c.json(200, map[string]any{"id": c.org.id, "name": c.org.name, "is_default": c.org.id == DefaultOrgID,
		"is_root": false, "is_system": c.org.id == SystemOrgID, "comment": ""})
}

func (s *Server) hOrgDetail(c *rctx) {
	s.mu.RLock()
	o := s.st.orgByID[strings.ToLower(c.args[0])]
	var rep map[string]any
	if o != nil {
		rep = s.orgRep(o)
	}
	s.mu.RUnlock()
	if o == nil {
		c.notFoundObj("Organization")
		return
	}
	c.json(200, rep)
}

// ------------------------------------------------------------ platforms

func (s *Server) platformAmounts() map[*platform]int {
	m := map[*platform]int{}
	for _, a := range s.st.assets {
		m[a.platform]++
	}
	return m
}

func (s *Server) hPlatformList(c *rctx) {
	s.mu.RLock()
	amounts := s.platformAmounts()
	s.mu.RUnlock()
	terms := s.listTerms(c, true)
	ps := append([]*platform(nil), s.platforms...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	var items []any
	for _, p := range ps {
		if v := c.q.Get("name"); v != "" && p.Name != v {
			continue
		}
		if v := c.q.Get("name__startswith"); v != "" && !strings.HasPrefix(p.Name, v) {
			continue
		}
		if v := c.q.Get("category"); v != "" && p.Category != v {
			continue
		}
		if v := c.q.Get("type"); v != "" && p.Type != v {
			continue
		}
		if v := c.q.Get("id"); v != "" && strconv.Itoa(p.ID) != v {
			continue
		}
		if len(terms) > 0 && !matchTerms(terms, p.Name) {
			continue
		}
		items = append(items, s.platformJSON(p, amounts[p]))
	}
	c.listGeneric(items, true) // page_no_limit
}

func (s *Server) findPlatform(key string) *platform {
	if n, err := strconv.Atoi(key); err == nil {
		return s.platByID[n]
	}
	return s.platByName[key]
}

func (s *Server) hPlatformDetail(c *rctx) {
	p := s.findPlatform(c.args[0])
	if p == nil {
		c.notFoundObj("Platform")
		return
	}
	s.mu.RLock()
	n := s.platformAmounts()[p]
	s.mu.RUnlock()
	c.json(200, s.platformJSON(p, n))
}

func (s *Server) hPlatformInternal(c *rctx) {
	if s.findPlatform(c.args[0]) == nil {
		c.notFoundObj("Platform")
		return
	}
	c.json(403, map[string]string{"detail": "Internal platform"})
}

// ------------------------------------------------------------ zones

func (s *Server) zoneModel() string {
	if s.v47() {
		return "Domain"
	}
	return "Zone"
}

func (s *Server) zoneRep(z *zone, detail bool) map[string]any {
	m := map[string]any{"id": z.id, "name": z.name, "comment": z.comment, "labels": []any{},
		"assets_amount": z.assets, "date_created": s.fmtTime(z.created, nil), "org_id": z.org.id, "org_name": z.org.name}
	var gws, assets []refJSON
	if z.assets > 0 {
		for _, a := range z.org.index.view() {
			if a.a.zone == z {
				r := refJSON{a.a.id, a.a.name}
				if strings.HasPrefix(a.a.platform.Name, "Gateway") {
					gws = append(gws, r)
				} else {
					assets = append(assets, r)
				}
			}
		}
	}
	if detail {
		m["assets"] = nonNil(assets)
	} else {
		m["gateways"] = nonNil(gws)
	}
	return m
}

func nonNil(r []refJSON) []refJSON {
	if r == nil {
		return []refJSON{}
	}
	return r
}

func (s *Server) zoneTable() *table[zone] {
	return &table[zone]{s: s, model: s.zoneModel(),
		rows:      func(st *store) map[string]*zone { return st.zones },
		orgOf:     func(z *zone) *org { return z.org },
		less:      func(a, b *zone) bool { return a.name < b.name },
		rep:       func(z *zone) any { return s.zoneRep(z, false) },
		detailRep: func(z *zone) any { return s.zoneRep(z, true) },
		filters:   map[string]func(*zone) string{"name": func(z *zone) string { return z.name }},
		search:    func(z *zone) []string { return []string{z.name} },
		create:    s.zoneCreate, update: s.zoneUpdate, remove: s.zoneRemove,
	}
}

// zoneFields validates a zone's name, comment and assets for a create (self
// nil) or for an update of self (every field required on PUT).
func (s *Server) zoneFields(c *rctx, m map[string]any, e fieldErrs, self *zone) (name, comment *string, as []*asset) {
	o, required := c.org, true
	if self != nil {
		o, required = self.org, c.r.Method == "PUT"
	}
	name = charField(e, m, "name", 128, required, false)
	comment = charField(e, m, "comment", 0, false, true)
	if name != nil && o != nil {
		if other := o.zones[*name]; other != nil && other != self {
			s.notUnique(e, "name")
		}
	}
	as, ae := s.assetRefs(c, m["assets"])
	if ae != "" {
		e.add("assets", ae)
	}
	return name, comment, as
}

func (s *Server) zoneCreate(c *rctx, m map[string]any, e fieldErrs) func() *zone {
	name, comment, as := s.zoneFields(c, m, e, nil)
	return func() *zone {
		z := &zone{id: s.newID(), name: *name, org: c.org, created: s.now()}
		if comment != nil {
			z.comment = *comment
		}
		c.org.zones[z.name] = z
		s.st.zones[z.id] = z
		s.joinZone(z, as)
		return z
	}
}

func (s *Server) assetRefs(c *rctx, v any) ([]*asset, string) {
	list, _ := v.([]any)
	var out []*asset
	for _, it := range list {
		id, _ := relatedID(it)
		a := s.st.assets[strings.ToLower(id)]
		if a == nil || (c.org != nil && a.org != c.org) {
			return nil, invalidPK(id)
		}
		out = append(out, a)
	}
	return out, ""
}

// joinZone puts the assets that can use a gateway into z.
func (s *Server) joinZone(z *zone, as []*asset) {
	for _, a := range as {
		if a.platform.GatewayEnabled {
			s.setZone(a, z)
		}
	}
}

func (s *Server) zoneUpdate(c *rctx, m map[string]any, z *zone, e fieldErrs) func() {
	name, comment, as := s.zoneFields(c, m, e, z)
	return func() {
		if name != nil && *name != z.name {
			delete(z.org.zones, z.name)
			z.name = *name
			z.org.zones[z.name] = z
		}
		if comment != nil {
			z.comment = *comment
		}
		if _, ok := m["assets"]; ok {
			for _, a := range s.st.assets {
				if a.zone == z && !containsAsset(as, a) {
					s.setZone(a, nil)
				}
			}
			s.joinZone(z, as)
		}
	}
}

func (s *Server) zoneRemove(_ *rctx, z *zone) bool {
	if z.assets > 0 {
		for _, a := range s.st.assets {
			if a.zone == z {
				s.setZone(a, nil)
			}
		}
	}
	delete(z.org.zones, z.name)
	delete(s.st.zones, z.id)
	return true
}

// ------------------------------------------------------------ labels

func (s *Server) labelRep(l *label) map[string]any {
	return map[string]any{"id": l.id, "name": l.name, "value": l.value, "color": l.color, "res_count": l.links,
		"comment": l.comment, "date_created": s.fmtTime(l.created, nil), "date_updated": s.fmtTime(l.updated, nil),
		"org_id": l.org.id, "org_name": l.org.name}
}

func (s *Server) labelTable() *table[label] {
	return &table[label]{s: s, model: "Label",
		rows:  func(st *store) map[string]*label { return st.labels },
		orgOf: func(l *label) *org { return l.org },
		less: func(a, b *label) bool {
			if a.name != b.name {
				return a.name < b.name
			}
			return a.value < b.value
		},
		rep: func(l *label) any { return s.labelRep(l) },
		filters: map[string]func(*label) string{
			"name":  func(l *label) string { return l.name },
			"value": func(l *label) string { return l.value },
			"id":    func(l *label) string { return l.id },
		},
		search: func(l *label) []string { return []string{l.id, l.name, l.value} },
		create: s.labelCreate, update: s.labelUpdate,
		remove: func(_ *rctx, l *label) bool { s.deleteLabel(l); return true },
	}
}

func (s *Server) hLabelKeys(c *rctx) {
	s.mu.RLock()
	seen := map[string]bool{}
	keys := []string{}
	terms := searchTerms(c.q.Get("search"))
	for _, l := range s.tab.labels.visible(c) {
		if !seen[l.name] && (len(terms) == 0 || matchTerms(terms, l.name)) {
			seen[l.name] = true
			keys = append(keys, l.name)
		}
	}
	s.mu.RUnlock()
	c.json(200, keys)
}

func labelFields(e fieldErrs, m map[string]any, required bool) (*string, *string) {
	name := charField(e, m, "name", 64, required, false)
	value := charField(e, m, "value", 64, required, false)
	if name != nil && strings.ContainsAny(*name, ":,") {
		e.add("name", "Cannot contain \":,\"")
	}
	if value != nil && strings.ContainsAny(*value, ":,") {
		e.add("value", "Cannot contain \":,\"")
	}
	return name, value
}

// labelExtras sets the fields a label's name:value does not identify.
func labelExtras(l *label, m map[string]any) {
	if v, ok := m["color"].(string); ok {
		l.color = v
	}
	if v, ok := m["comment"].(string); ok {
		l.comment = v
	}
}

func (s *Server) labelCreate(c *rctx, m map[string]any, e fieldErrs) func() *label {
	name, value := labelFields(e, m, true)
	if len(e) == 0 && c.org != nil && c.org.labels[labelKey(*name, *value)] != nil {
		s.notUnique(e, "name", "value")
	}
	return func() *label {
		l := s.getOrCreateLabel(c.org, *name, *value)
		labelExtras(l, m)
		return l
	}
}

func (s *Server) labelUpdate(c *rctx, m map[string]any, l *label, e fieldErrs) func() {
	name, value := labelFields(e, m, c.r.Method == "PUT")
	nn, nv := l.name, l.value
	if name != nil {
		nn = *name
	}
	if value != nil {
		nv = *value
	}
	if other := l.org.labels[labelKey(nn, nv)]; other != nil && other != l {
		s.notUnique(e, "name", "value")
	}
	return func() {
		delete(l.org.labels, labelKey(l.name, l.value))
		l.name, l.value = nn, nv
		l.org.labels[labelKey(nn, nv)] = l
		labelExtras(l, m)
		l.updated = s.now()
	}
}

// ------------------------------------------------------------ account templates

var secretTypes = []string{"password", "ssh_key", "access_key", "token", "api_key"}

func (s *Server) templateRep(t *template) map[string]any {
	return map[string]any{"id": t.id, "name": t.name, "username": t.username, "secret_type": choice(t.secretType),
		"privileged": t.privileged, "is_active": t.active, "comment": t.comment, "labels": []any{},
		"secret_strategy": labeled{"specific", "Specific secret"}, "password_rules": map[string]any{"length": 16},
		"auto_push": t.autoPush, "push_params": map[string]any{}, "platforms": []any{}, "su_from": nil,
		"created_by": s.opts.CreatedBy, "date_created": s.fmtTime(t.created, nil), "date_updated": s.fmtTime(t.updated, nil),
		"org_id": t.org.id, "org_name": t.org.name}
}

func (s *Server) templateTable() *table[template] {
	return &table[template]{s: s, model: "Account template",
		rows:  func(st *store) map[string]*template { return st.tmpls },
		orgOf: func(t *template) *org { return t.org },
		less:  func(a, b *template) bool { return a.name < b.name },
		rep:   func(t *template) any { return s.templateRep(t) },
		filters: map[string]func(*template) string{
			"name":     func(t *template) string { return t.name },
			"username": func(t *template) string { return t.username },
			"id":       func(t *template) string { return t.id },
		},
		search: func(t *template) []string { return []string{t.username, t.name} },
		create: s.templateCreate, update: s.templateUpdate,
		remove: func(_ *rctx, t *template) bool {
			delete(t.org.tmpls, t.name)
			delete(s.st.tmpls, t.id)
			return true
		},
	}
}

func (s *Server) templateFields(e fieldErrs, m map[string]any, t *template, required bool) {
	if v := charField(e, m, "name", 128, required, false); v != nil {
		t.name = *v
	}
	if v := charField(e, m, "username", 128, required, true); v != nil {
		t.username = *v
	}
	if v, ok := m["secret_type"]; ok {
		str, _ := v.(string)
		if !contains(secretTypes, str) {
			e.add("secret_type", "\""+str+"\" is not a valid choice.")
		} else {
			t.secretType = str
		}
	}
	if v := charField(e, m, "secret", 0, false, true); v != nil {
		t.secret = *v
	}
	if v := charField(e, m, "comment", 0, false, true); v != nil {
		t.comment = *v
	}
	if b, ok := parseBool(m["privileged"]); ok {
		t.privileged = b
	}
	if b, ok := parseBool(m["is_active"]); ok {
		t.active = b
	}
	if b, ok := parseBool(m["auto_push"]); ok {
		t.autoPush = b
	}
}

func (s *Server) templateCreate(c *rctx, m map[string]any, e fieldErrs) func() *template {
	t := &template{secretType: "password", active: true}
	s.templateFields(e, m, t, true)
	if e["name"] == nil && c.org != nil && c.org.tmpls[t.name] != nil {
		s.notUnique(e, "name")
	}
	return func() *template {
		t.id, t.org = s.newID(), c.org
		if v, ok := m["id"].(string); ok {
			if u, err := uuid.Parse(v); err == nil && s.st.tmpls[u.String()] == nil {
				t.id = u.String()
			}
		}
		t.created, t.updated = s.now(), s.now()
		s.st.tmpls[t.id] = t
		c.org.tmpls[t.name] = t
		return t
	}
}

func (s *Server) templateUpdate(c *rctx, m map[string]any, t *template, e fieldErrs) func() {
	cp := *t
	s.templateFields(e, m, &cp, c.r.Method == "PUT")
	if other := t.org.tmpls[cp.name]; other != nil && other != t {
		s.notUnique(e, "name")
	}
	return func() {
		delete(t.org.tmpls, t.name)
		*t = cp
		t.updated = s.now()
		t.org.tmpls[t.name] = t
	}
}

// ------------------------------------------------------------ accounts

// accountSpec is one validated account to create.
type accountSpec struct {
	tmpl                       *template
	name, username, secretType string
	secret                     string
	privileged, active, push   bool
}

// parseAccounts validates an accounts list. It returns a 404 model name, or
// a per-account error list.
func (s *Server) parseAccounts(o *org, list []any) ([]accountSpec, []any, string) {
	var out []accountSpec
	errs := make([]any, len(list))
	bad := false
	for i, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			errs[i], bad = map[string][]string{"non_field_errors": {"Invalid data. Expected a dictionary, but got " + typeName(it) + "."}}, true
			continue
		}
		push, _ := parseBool(m["push_now"])
		if tv, ok := m["template"]; ok && tv != nil {
			id, _ := relatedID(tv)
			t := s.st.tmpls[strings.ToLower(id)]
			if t == nil || t.org != o {
				return nil, nil, "Account template"
			}
			sp := accountSpec{tmpl: t, name: t.name, username: t.username, secretType: t.secretType, secret: t.secret,
				privileged: t.privileged, active: t.active, push: push || t.autoPush}
			if n, ok := m["name"].(string); ok && n != "" {
				sp.name = n
			}
			out = append(out, sp)
			errs[i] = map[string]any{}
			continue
		}
		e := fieldErrs{}
		un := charField(e, m, "username", 128, true, true)
		st := "password"
		if v, ok := m["secret_type"].(string); ok {
			if !contains(secretTypes, v) {
				e.add("secret_type", "\""+v+"\" is not a valid choice.")
			}
			st = v
		}
		if len(e) > 0 {
			errs[i], bad = e, true
			continue
		}
		sp := accountSpec{name: *un, username: *un, secretType: st, active: true, push: push}
		if n, ok := m["name"].(string); ok && n != "" {
			sp.name = n
		}
		sp.secret, _ = m["secret"].(string)
		sp.privileged, _ = parseBool(m["privileged"])
		if b, ok := parseBool(m["is_active"]); ok {
			sp.active = b
		}
		out = append(out, sp)
		errs[i] = map[string]any{}
	}
	if bad {
		return nil, errs, ""
	}
	return out, nil, ""
}

// checkAccounts returns a non-zero status when the accounts cannot be
// created (404 template, or 400 with a top-level list).
func (s *Server) checkAccounts(o *org, list []any, _ *asset) (int, any, string) {
	if len(list) == 0 {
		return 0, nil, ""
	}
	_, errs, model := s.parseAccounts(o, list)
	if model != "" {
		return 404, nil, model
	}
	if errs != nil {
		return 400, errs, ""
	}
	return 0, nil, ""
}

func (s *Server) newAccount(a *asset, sp accountSpec) *account {
	now := s.now()
	name := sp.name
	for _, ac := range a.accounts {
		if ac.name == name {
			name = sp.name + "-" + s.newID()[:4]
			break
		}
	}
	ac := &account{id: s.newID(), name: name, username: sp.username, secretType: sp.secretType, secret: sp.secret,
		privileged: sp.privileged, active: sp.active, source: "local", asset: a, created: now, updated: now}
	if sp.tmpl != nil {
		ac.source, ac.sourceID = "template", sp.tmpl.id
	}
	a.accounts = append(a.accounts, ac)
	s.st.accounts[ac.id] = ac
	s.counters.accountsCreated++
	if sp.push && a.platform.PushAccount {
		s.counters.accountPush++
	}
	return ac
}

func (s *Server) addAccounts(a *asset, list []any) {
	specs, _, _ := s.parseAccounts(a.org, list)
	for _, sp := range specs {
		s.newAccount(a, sp)
	}
}

// upsertAccounts (4.10 PUT/PATCH): match by name, or (username, secret_type).
func (s *Server) upsertAccounts(a *asset, list []any) {
	specs, _, _ := s.parseAccounts(a.org, list)
	for _, sp := range specs {
		var hit *account
		for _, ac := range a.accounts {
			if ac.name == sp.name || (ac.username == sp.username && ac.secretType == sp.secretType) {
				hit = ac
				break
			}
		}
		if hit == nil {
			s.newAccount(a, sp)
			continue
		}
		hit.username, hit.secretType, hit.privileged, hit.active = sp.username, sp.secretType, sp.privileged, sp.active
		if sp.secret != "" {
			hit.secret = sp.secret
		}
		hit.updated = s.now()
	}
}

func (s *Server) accountRep(ac *account) map[string]any {
	a := ac.asset
	return map[string]any{"id": ac.id, "name": ac.name, "username": ac.username, "secret_type": choice(ac.secretType),
		"privileged": ac.privileged, "is_active": ac.active, "su_from": nil,
		"asset": map[string]any{"id": a.id, "name": a.name, "address": a.address, "type": choice(a.typ),
			"category": choice(a.category), "platform": platRefJSON{a.platform.ID, a.platform.Name, a.platform.Type},
			"auto_config": a.platform.autoConfig},
		"version": 1, "source": choice(ac.source), "source_id": ac.sourceID, "secret_reset": true, "params": map[string]any{},
		"connectivity": choice("-"), "date_verified": nil, "date_last_login": nil, "login_by": "",
		"date_change_secret": nil, "change_secret_status": nil, "labels": []any{}, "comment": "",
		"created_by": s.opts.CreatedBy, "date_created": s.fmtTime(ac.created, nil), "date_updated": s.fmtTime(ac.updated, nil),
		"org_id": a.org.id, "org_name": a.org.name}
}

func (s *Server) accountTable() *table[account] {
	return &table[account]{s: s, model: "Account",
		rows:  func(st *store) map[string]*account { return st.accounts },
		orgOf: func(ac *account) *org { return ac.asset.org },
		less: func(a, b *account) bool {
			if a.asset.name != b.asset.name {
				return a.asset.name < b.asset.name
			}
			return a.name < b.name
		},
		rep: func(ac *account) any { return s.accountRep(ac) },
		filters: map[string]func(*account) string{
			"username": func(ac *account) string { return ac.username },
			"source":   func(ac *account) string { return ac.source },
		},
		remove: s.accountRemove,
	}
}

// hAccountList: the request org's accounts, or one asset's (?asset= or ?asset_id=).
func (s *Server) hAccountList(c *rctx) {
	t := s.tab.accounts
	s.mu.RLock()
	v := c.q.Get("asset")
	if v == "" {
		v = c.q.Get("asset_id")
	}
	var acs []*account
	if v != "" {
		a := s.findAsset(c, &endpoint{model: "Asset"}, v)
		if a == nil {
			s.mu.RUnlock()
			c.notFoundObj("Asset")
			return
		}
		acs = append(acs, a.accounts...)
		t.sort(acs)
	} else {
		acs = t.visible(c)
	}
	items := t.items(c, acs)
	s.mu.RUnlock()
	c.listGeneric(items, false)
}

func (s *Server) hAccountCreate(c *rctx) {
	m, ok := c.mapBody()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _ := relatedID(m["asset"])
	a := s.st.assets[strings.ToLower(id)]
	if a == nil || (c.org != nil && a.org != c.org) {
		c.json(400, map[string][]string{"asset": {invalidPK(id)}})
		return
	}
	if tv, ok := m["template"]; ok && tv != nil {
		tid, _ := relatedID(tv)
		if t := s.st.tmpls[strings.ToLower(tid)]; t == nil || t.org != a.org {
			c.json(400, map[string]string{"template": "Template not found"})
			return
		}
	}
	specs, errs, _ := s.parseAccounts(a.org, []any{m})
	if errs != nil {
		c.json(400, errs[0])
		return
	}
	sp := specs[0]
	for _, ac := range a.accounts {
		if ac.username == sp.username && ac.secretType == sp.secretType {
			switch m["on_invalid"] {
			case "skip":
				c.json(201, s.accountRep(ac))
				return
			case "update":
				ac.secret, ac.privileged, ac.updated = sp.secret, sp.privileged, s.now()
				c.json(201, s.accountRep(ac))
				return
			}
			c.json(400, map[string][]string{"non_field_errors": {"Account already exists"}})
			return
		}
	}
	ac := s.newAccount(a, sp)
	c.json(201, s.accountRep(ac))
}

func (s *Server) accountRemove(_ *rctx, ac *account) bool {
	a := ac.asset
	for i, x := range a.accounts {
		if x == ac {
			a.accounts = append(a.accounts[:i:i], a.accounts[i+1:]...)
			break
		}
	}
	delete(s.st.accounts, ac.id)
	return true
}

// ------------------------------------------------------------ spm

func (s *Server) hSpmCreate(c *rctx) {
	m, ok := c.mapBody()
	if !ok {
		return
	}
	list, _ := m["resources"].([]any)
	ids := map[string]bool{}
	for _, it := range list {
		if id, ok := relatedID(it); ok {
			ids[strings.ToLower(id)] = true
		}
	}
	spm := s.newID()
	s.mu.Lock()
	s.st.spm[spm] = spmEntry{ids: ids, expires: s.now().Add(time.Hour)}
	s.mu.Unlock()
	c.json(200, map[string]string{"spm": spm})
}
