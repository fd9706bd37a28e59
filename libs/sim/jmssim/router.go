package jmssim

import (
	"net/http"
	"strconv"
	"strings"
)

type handlerFunc func(c *rctx)

type route struct {
	segs   []string // "*" matches one segment
	tmpl   string
	public bool
	h      map[string]handlerFunc
}

func (s *Server) routeTable() []route {
	var rs []route
	add := func(pattern string, h map[string]handlerFunc) {
		segs := strings.Split(strings.Trim(pattern, "/"), "/")
		tmpl := "/api/v1/" + strings.Trim(pattern, "/") + "/"
		tmpl = strings.ReplaceAll(tmpl, "*", "{id}")
		rs = append(rs, route{segs: segs, tmpl: tmpl, h: h})
	}
	rs = append(rs, route{segs: []string{"authentication", "auth"}, tmpl: "/api/v1/authentication/auth/", public: true,
		h: map[string]handlerFunc{"POST": s.hToken}})
	rs = append(rs, route{segs: []string{"authentication", "tokens"}, tmpl: "/api/v1/authentication/tokens/", public: true,
		h: map[string]handlerFunc{"POST": s.hToken}})

	add("orgs/orgs", map[string]handlerFunc{"GET": s.hOrgList})
	add("orgs/orgs/current", map[string]handlerFunc{"GET": s.hOrgCurrent})
	add("orgs/orgs/*", map[string]handlerFunc{"GET": s.hOrgDetail})

	add("assets/platforms", map[string]handlerFunc{"GET": s.hPlatformList})
	add("assets/platforms/*", map[string]handlerFunc{"GET": s.hPlatformDetail, "PUT": s.hPlatformInternal,
		"PATCH": s.hPlatformInternal, "DELETE": s.hPlatformInternal})

	nodes := s.tab.nodes
	add("assets/nodes", map[string]handlerFunc{"GET": nodes.hList, "POST": s.hNodeCreate})
	add("assets/nodes/children", map[string]handlerFunc{"GET": s.hNodeChildrenQuery})
	add("assets/nodes/children/tree", map[string]handlerFunc{"GET": s.hNodeTree})
	add("assets/nodes/*", map[string]handlerFunc{"GET": nodes.hDetail, "PUT": s.hNodeUpdate,
		"PATCH": s.hNodeUpdate, "DELETE": nodes.hDelete})
	add("assets/nodes/*/children", map[string]handlerFunc{"GET": s.hNodeChildren, "POST": s.hNodeChildCreate})
	add("assets/nodes/*/assets/add", map[string]handlerFunc{"PUT": s.hNodeAssets("add")})
	add("assets/nodes/*/assets/remove", map[string]handlerFunc{"PUT": s.hNodeAssets("remove")})
	add("assets/nodes/*/assets/replace", map[string]handlerFunc{"PUT": s.hNodeAssets("replace")})

	kinds := []struct{ path, cat string }{
		{"hosts", "host"}, {"devices", "device"}, {"databases", "database"}, {"webs", "web"},
		{"clouds", "cloud"}, {"gpts", "gpt"}, {"customs", "custom"}, {"assets", ""}, {"gateways", "host"},
	}
	if !s.v47() {
		kinds = append(kinds, struct{ path, cat string }{"directories", "ds"})
	}
	for _, k := range kinds {
		ep := &endpoint{path: k.path, category: k.cat, gateway: k.path == "gateways"}
		ep.model = modelNames[k.path]
		add("assets/"+k.path, map[string]handlerFunc{"GET": s.hAssetList(ep), "POST": s.hAssetCreate(ep),
			"PUT": s.hAssetBulkUpdate(ep, false), "PATCH": s.hAssetBulkUpdate(ep, true), "DELETE": s.hAssetBulkDelete(ep)})
		add("assets/"+k.path+"/*", map[string]handlerFunc{"GET": s.hAssetDetail(ep), "PUT": s.hAssetUpdate(ep, false),
			"PATCH": s.hAssetUpdate(ep, true), "DELETE": s.hAssetDelete(ep)})
	}
	add("assets/assets/*/tasks", map[string]handlerFunc{"POST": s.hAssetTask})
	add("assets/assets/tasks", map[string]handlerFunc{"POST": s.hAssetsTask})
	add("assets/assets/*/platform", map[string]handlerFunc{"GET": s.hAssetPlatform})

	zonePath := "assets/zones"
	if s.v47() {
		zonePath = "assets/domains"
	}
	zones := s.tab.zones
	add(zonePath, map[string]handlerFunc{"GET": zones.hList, "POST": zones.hCreate})
	add(zonePath+"/*", map[string]handlerFunc{"GET": zones.hDetail, "PUT": zones.hUpdate, "PATCH": zones.hUpdate,
		"DELETE": zones.hDelete})

	for _, lp := range []string{"labels/labels", "assets/labels"} {
		labels := s.tab.labels
		add(lp, map[string]handlerFunc{"GET": labels.hList, "POST": labels.hCreate})
		add(lp+"/keys", map[string]handlerFunc{"GET": s.hLabelKeys})
		add(lp+"/*", map[string]handlerFunc{"GET": labels.hDetail, "PUT": labels.hUpdate, "PATCH": labels.hUpdate,
			"DELETE": labels.hDelete})
	}

	tmpls, accounts := s.tab.tmpls, s.tab.accounts
	add("accounts/account-templates", map[string]handlerFunc{"GET": tmpls.hList, "POST": tmpls.hCreate})
	add("accounts/account-templates/*", map[string]handlerFunc{"GET": tmpls.hDetail, "PATCH": tmpls.hUpdate,
		"PUT": tmpls.hUpdate, "DELETE": tmpls.hDelete})
	add("accounts/accounts", map[string]handlerFunc{"GET": s.hAccountList, "POST": s.hAccountCreate})
	add("accounts/accounts/*", map[string]handlerFunc{"GET": accounts.hDetail, "DELETE": accounts.hDelete})

	add("common/resources/cache", map[string]handlerFunc{"POST": s.hSpmCreate})
	return rs
}

var modelNames = map[string]string{
	"hosts": "Host", "devices": "Device", "databases": "Database", "webs": "Web", "clouds": "Cloud",
	"gpts": "GPT", "customs": "Custom", "assets": "Asset", "gateways": "Gateway", "directories": "Directory service",
}

// match finds the route for the segments after /api/v1/. Literal segments
// win over parameters (the router's regex `[^/.]+` rejects dots).
func match(rs []route, segs []string) (*route, []string) {
	var best *route
	var bestArgs []string
	bestLit := -1
	for i := range rs {
		rt := &rs[i]
		if len(rt.segs) != len(segs) {
			continue
		}
		var args []string
		lit := 0
		ok := true
		for j, p := range rt.segs {
			if p == "*" {
				if segs[j] == "" || strings.Contains(segs[j], ".") {
					ok = false
					break
				}
				args = append(args, segs[j])
				continue
			}
			if p != segs[j] {
				ok = false
				break
			}
			lit++
		}
		if ok && lit > bestLit {
			best, bestArgs, bestLit = rt, args, lit
		}
	}
	return best, bestArgs
}

func splitAPIPath(p string) ([]string, bool) {
	const prefix = "/api/v1/"
	if !strings.HasPrefix(p, prefix) {
		return nil, false
	}
	rest := strings.TrimSuffix(p[len(prefix):], "/")
	if rest == "" {
		return nil, false
	}
	return strings.Split(rest, "/"), true
}

// dispatch routes an API request: trailing-slash redirect, authentication,
// permission, throttling, org resolution, then the handler. It returns the
// route template for the recorder.
func (s *Server) dispatch(c *rctx) string {
	r := c.r
	segs, ok := splitAPIPath(r.URL.Path)
	if !ok {
		s.unknownRoute(c.w, r)
		return "unknown"
	}
	rt, args := match(s.routes, segs)
	if rt == nil {
		s.unknownRoute(c.w, r)
		return "unknown"
	}
	if !strings.HasSuffix(r.URL.Path, "/") {
		loc := r.URL.Path + "/"
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		c.w.Header().Set("Location", loc)
		c.w.WriteHeader(http.StatusMovedPermanently)
		return rt.tmpl
	}
	c.args = args
	c.q = r.URL.Query()
	if !rt.public {
		p, ok := s.authenticate(c)
		if !ok {
			return rt.tmpl
		}
		c.authed, c.user, c.ro = true, p.user, p.ro
	} else {
		c.authed = true
	}
	h, ok := rt.h[r.Method]
	if !ok {
		if r.Method == http.MethodHead {
			h, ok = rt.h["GET"]
		}
		if !ok {
			if r.Method == http.MethodOptions {
				c.json(200, map[string]any{"name": rt.tmpl, "renders": []string{"application/json"}})
				return rt.tmpl
			}
			c.detail(405, `Method "`+r.Method+`" not allowed.`, "method_not_allowed")
			return rt.tmpl
		}
	}
	if !rt.public && c.ro && isWrite(r.Method) {
		s.req.forbidden.Add(1)
		c.detail(403, s.msg(MsgPermission), "permission_denied")
		return rt.tmpl
	}
	if !rt.public {
		if wait := s.checkThrottle(c.user, c.knobs.ThrottlePerMinute); wait > 0 {
			s.req.throttled.Add(1)
			c.w.Header().Set("Retry-After", strconv.Itoa(wait))
			d := s.msg(MsgThrottled, wait)
			if wait == 1 {
				d = strings.Replace(d, "1 seconds", "1 second", 1)
			}
			c.detail(429, d, "throttled")
			return rt.tmpl
		}
	}
	c.org = s.resolveOrg(r)
	h(c)
	return rt.tmpl
}

// resolveOrg: ?oid, then the X-JMS-ORG header, then the cookie; aliases
// and names; anything unknown is Default (Community Edition). nil = root.
func (s *Server) resolveOrg(r *http.Request) *org {
	v := r.URL.Query().Get("oid")
	if v == "" {
		v = r.Header.Get("X-JMS-ORG")
	}
	if v == "" {
		if ck, err := r.Cookie("X-JMS-ORG"); err == nil {
			v = ck.Value
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lookupOrg(v)
}

func (s *Server) lookupOrg(v string) *org {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "", "default":
		return s.st.orgByID[DefaultOrgID]
	case "root", "global":
		return nil
	case "system":
		return s.st.orgByID[SystemOrgID]
	}
	if v == RootOrgID {
		return nil
	}
	if o, ok := s.st.orgByID[strings.ToLower(v)]; ok {
		return o
	}
	for _, o := range s.st.orgs {
		if o.name == v {
			return o
		}
	}
	return s.st.orgByID[DefaultOrgID]
}
