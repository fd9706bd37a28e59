package jmssim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// endpoint is one asset list URL (/hosts/, /databases/, /assets/ …).
type endpoint struct {
	path     string
	category string // "" = every category (/assets/assets/)
	model    string // "Host", "Asset" … for messages
	gateway  bool
}

func (ep *endpoint) owns(a *asset) bool {
	if ep.gateway {
		return strings.HasPrefix(a.platform.Name, "Gateway")
	}
	return ep.category == "" || a.category == ep.category
}

type refJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type platRefJSON struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

type labelRefJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
	Color string `json:"color"`
}

type assetJSON struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Address           string            `json:"address"`
	Zone              optRef            `json:"zone,omitzero"`
	Domain            optRef            `json:"domain,omitzero"`
	Platform          platRefJSON       `json:"platform"`
	Nodes             []refJSON         `json:"nodes"`
	Labels            []labelRefJSON    `json:"labels"`
	Protocols         []Protocol        `json:"protocols"`
	NodesDisplay      []string          `json:"nodes_display"`
	DirectoryServices *[]refJSON        `json:"directory_services,omitempty"`
	AccountsAmount    *int              `json:"accounts_amount,omitempty"`
	Accounts          *[]accountRefJSON `json:"accounts,omitempty"`
	DBName            *string           `json:"db_name,omitempty"`
	Category          labeled           `json:"category"`
	Type              labeled           `json:"type"`
	Connectivity      labeled           `json:"connectivity"`
	AutoConfig        *autoConfig       `json:"auto_config"`
	GatheredInfo      *struct{}         `json:"gathered_info,omitempty"`
	SpecInfo          *struct{}         `json:"spec_info,omitempty"`
	OrgID             string            `json:"org_id"`
	OrgName           string            `json:"org_name"`
	IsActive          bool              `json:"is_active"`
	DateVerified      *string           `json:"date_verified"`
	DateLastLogin     optRef            `json:"date_last_login,omitzero"`
	DateCreated       string            `json:"date_created"`
	DateUpdated       string            `json:"date_updated"`
	Comment           string            `json:"comment"`
	CreatedBy         string            `json:"created_by"`
}

type accountRefJSON struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Username   string  `json:"username"`
	SecretType labeled `json:"secret_type"`
	Privileged bool    `json:"privileged"`
	IsActive   bool    `json:"is_active"`
	Source     labeled `json:"source"`
	SourceID   string  `json:"source_id"`
}

// optRef is a field that is either absent (zero), null, or {"id","name"}.
type optRef struct {
	set bool
	ref *refJSON
}

func (o optRef) IsZero() bool { return !o.set }

func (o optRef) MarshalJSON() ([]byte, error) {
	if o.ref == nil {
		return []byte("null"), nil
	}
	return json.Marshal(o.ref)
}

// assetRep builds the representation. Call with s.mu held (read or write).
func (s *Server) assetRep(a *asset, r *http.Request, detail bool) *assetJSON {
	j := &assetJSON{
		ID: a.id, Name: a.name, Address: a.address,
		Platform:     platRefJSON{ID: a.platform.ID, Name: a.platform.Name},
		Nodes:        make([]refJSON, len(a.nodes)),
		Labels:       make([]labelRefJSON, len(a.labels)),
		Protocols:    append([]Protocol{}, a.protocols...),
		NodesDisplay: make([]string, len(a.nodes)),
		Category:     choice(a.category), Type: choice(a.typ), Connectivity: choice(a.connectivity),
		AutoConfig: a.platform.autoConfig,
		OrgID:      a.org.id, OrgName: a.org.name, IsActive: a.active,
		DateCreated: s.fmtTime(a.created, r), DateUpdated: s.fmtTime(a.updated, r),
		Comment: a.comment, CreatedBy: a.createdBy,
	}
	zone := optRef{set: true}
	if a.zone != nil {
		zone.ref = &refJSON{a.zone.id, a.zone.name}
	}
	if s.v47() {
		j.Domain = zone
	} else {
		j.Zone = zone
		j.Platform.Type = a.platform.Type
		ds := []refJSON{}
		j.DirectoryServices = &ds
		n := len(a.accounts)
		j.AccountsAmount = &n
		j.DateLastLogin = optRef{set: true}
	}
	for i, n := range a.nodes {
		j.Nodes[i] = refJSON{n.id, n.value}
		j.NodesDisplay[i] = n.fullValue
	}
	for i, l := range a.labels {
		j.Labels[i] = labelRefJSON{l.id, l.name, l.value, l.color}
	}
	if a.category == "host" {
		j.GatheredInfo = &struct{}{}
	}
	if a.category == "database" {
		db := a.dbName
		j.DBName = &db
	}
	if detail {
		accs := make([]accountRefJSON, len(a.accounts))
		for i, ac := range a.accounts {
			accs[i] = accountRefJSON{ac.id, ac.name, ac.username, choice(ac.secretType), ac.privileged, ac.active,
				choice(ac.source), ac.sourceID}
		}
		j.Accounts = &accs
		j.SpecInfo = &struct{}{}
	}
	return j
}

// ---------------------------------------------------------------- input

const (
	mCreate = iota
	mBulkCreate
	mPut
	mPatch
)

type labelReq struct {
	l           *label
	name, value string
}

type draft struct {
	id           string
	name         *string
	address      *string
	platform     *platform
	protocols    []Protocol
	hasProtocols bool
	nodes        []*node
	hasNodes     bool
	nodesDisplay []string
	labels       []labelReq
	hasLabels    bool
	zone         *zone
	hasZone      bool
	active       *bool
	comment      *string
	accounts     []any
	hasAccounts  bool
	dbName       *string
	missingLabel bool
	existing     *asset
}

type fieldErrs map[string]any

func (e fieldErrs) add(field string, msg string) {
	if _, ok := e[field]; !ok {
		e[field] = []string{msg}
	}
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "dict"
	case []any:
		return "list"
	case string:
		return "str"
	case bool:
		return "bool"
	case float64:
		return "int"
	case nil:
		return "NoneType"
	}
	return "object"
}

// charField validates a DRF CharField (trimmed, not blank, max length).
func charField(e fieldErrs, in map[string]any, field string, maxLen int, required, allowBlank bool) *string {
	v, ok := in[field]
	if !ok {
		if required {
			e.add(field, "This field is required.")
		}
		return nil
	}
	var str string
	switch x := v.(type) {
	case nil:
		e.add(field, "This field may not be null.")
		return nil
	case string:
		str = strings.TrimSpace(x)
	case float64:
		str = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		e.add(field, "Not a valid string.")
		return nil
	}
	if str == "" && !allowBlank {
		e.add(field, "This field may not be blank.")
		return nil
	}
	if maxLen > 0 && len([]rune(str)) > maxLen {
		e.add(field, fmt.Sprintf("Ensure this field has no more than %d characters.", maxLen))
		return nil
	}
	return &str
}

func parseBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case float64:
		if x == 1 {
			return true, true
		}
		if x == 0 {
			return false, true
		}
	case string:
		switch strings.ToLower(x) {
		case "true", "1", "yes", "y", "on", "t":
			return true, true
		case "false", "0", "no", "n", "off", "f":
			return false, true
		}
	}
	return false, false
}

func parseInt(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) {
			return 0, false
		}
		return int(x), true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}

// resolvePlatform resolves a related-field value; msg is the DRF error.
func (s *Server) resolvePlatform(v any) (*platform, string) {
	switch x := v.(type) {
	case nil:
		return nil, fmt.Sprintf(`Invalid pk "%s" - object does not exist.`, "None")
	case float64:
		if x == math.Trunc(x) {
			if p := s.platByID[int(x)]; p != nil {
				return p, ""
			}
		}
		return nil, fmt.Sprintf(`Invalid pk "%s" - object does not exist.`, strconv.FormatFloat(x, 'f', -1, 64))
	case string:
		n, err := strconv.Atoi(x)
		if err != nil {
			return nil, "Incorrect type. Expected pk value, received str."
		}
		if p := s.platByID[n]; p != nil {
			return p, ""
		}
		return nil, fmt.Sprintf(`Invalid pk "%s" - object does not exist.`, x)
	case map[string]any:
		if id, ok := x["id"]; ok {
			return s.resolvePlatform(id)
		}
		if id, ok := x["pk"]; ok {
			return s.resolvePlatform(id)
		}
		return nil, `Invalid pk "None" - object does not exist.`
	}
	return nil, "Incorrect type. Expected pk value, received " + typeName(v) + "."
}

func relatedID(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case map[string]any:
		if id, ok := x["id"]; ok {
			return relatedID(id)
		}
		if id, ok := x["pk"]; ok {
			return relatedID(id)
		}
		return "None", true
	case nil:
		return "None", true
	}
	return "", false
}

func invalidPK(id string) string { return fmt.Sprintf(`Invalid pk "%s" - object does not exist.`, id) }

func (s *Server) zoneField() string {
	if s.v47() {
		return "domain"
	}
	return "zone"
}

// defaultProtocols: every protocol the platform marks primary, required or default.
func defaultProtocols(p *platform) []Protocol {
	var out []Protocol
	for _, pr := range p.Protocols {
		if pr.Primary || pr.Required || pr.Default {
			out = append(out, Protocol{pr.Name, pr.Port})
		}
	}
	return out
}

// validate checks one asset payload like the serializer does. org is the
// target org (nil in the root org: lookups span all orgs). It returns the
// draft or the 400 body.
func (s *Server) validate(ep *endpoint, o *org, in map[string]any, mode int, ex *asset) (*draft, fieldErrs) {
	d := &draft{existing: ex}
	e := fieldErrs{}
	_, hasProtos := in["protocols"]
	if mode == mCreate && !hasProtos {
		// The platform helper runs before normal validation; its error
		// hides all others.
		p, msg := s.resolvePlatform(in["platform"])
		if p == nil {
			return nil, fieldErrs{"Platform": []string{msg}}
		}
		d.protocols, d.hasProtocols = defaultProtocols(p), true
	}
	full := mode != mPatch
	creating := mode == mCreate || mode == mBulkCreate
	if creating {
		if v, ok := in["id"]; ok && v != nil {
			str, _ := v.(string)
			u, err := uuid.Parse(str)
			if err != nil {
				e.add("id", "Must be a valid UUID.")
			} else {
				d.id = u.String()
			}
		}
	}
	d.name = charField(e, in, "name", 128, full, false)
	d.address = charField(e, in, "address", 767, full, false)
	d.comment = charField(e, in, "comment", 0, false, true)
	if ep.category == "database" {
		d.dbName = charField(e, in, "db_name", 1024, false, true)
	}

	// platform
	platErr := ""
	if v, ok := in["platform"]; ok {
		if v == nil {
			platErr = "This field may not be null."
			e.add("platform", platErr)
		} else if p, msg := s.resolvePlatform(v); p == nil {
			platErr = msg
			e.add("platform", msg)
		} else {
			cat := ep.category
			if cat == "" && ex != nil {
				cat = ex.category
			}
			switch {
			case ep.gateway && !strings.HasPrefix(p.Name, "Gateway"):
				e.add("platform", "The platform must start with Gateway")
				platErr = "mismatch"
			case cat != "" && p.Category != cat:
				e["platform"] = map[string]string{"platform": s.msg(MsgPlatformMatch, p.Name)}
				platErr = "mismatch"
			default:
				d.platform = p
			}
		}
	} else if full {
		platErr = invalidPK("None")
		e.add("platform", "This field is required.")
	}
	effPlat := d.platform
	if effPlat == nil && ex != nil && platErr == "" {
		effPlat = ex.platform
	}

	// protocols
	if v, ok := in["protocols"]; ok {
		d.hasProtocols = true
		d.protocols = nil
		list, isList := v.([]any)
		switch {
		case !isList:
			e["protocols"] = map[string]any{"non_field_errors": []string{
				fmt.Sprintf("Expected a list of items but got type %q.", typeName(v))}}
		default:
			items := make([]any, len(list))
			bad := false
			byName := map[string]int{}
			for i, it := range list {
				ie := fieldErrs{}
				m, ok := it.(map[string]any)
				if !ok {
					ie.add("non_field_errors", "Invalid data. Expected a dictionary, but got "+typeName(it)+".")
				} else {
					name := charField(ie, m, "name", 32, true, false)
					port := 0
					if pv, ok := m["port"]; !ok {
						ie.add("port", "This field is required.")
					} else if n, ok := parseInt(pv); !ok {
						ie.add("port", "A valid integer is required.")
					} else if n > 65535 {
						ie.add("port", "Ensure this value is less than or equal to 65535.")
					} else if n < 0 {
						ie.add("port", "Ensure this value is greater than or equal to 0.")
					} else {
						port = n
					}
					if len(ie) == 0 {
						if j, dup := byName[*name]; dup {
							d.protocols[j].Port = port // the last one wins
						} else {
							byName[*name] = len(d.protocols)
							d.protocols = append(d.protocols, Protocol{*name, port})
						}
					}
				}
				if len(ie) > 0 {
					bad = true
					items[i] = ie
				} else {
					items[i] = map[string]any{}
				}
			}
			switch {
			case bad:
				e["protocols"] = items
			case platErr != "" && platErr != "mismatch":
				e["protocols"] = map[string]any{"Platform": []string{platErr}}
			case effPlat != nil && platErr == "":
				for _, pr := range effPlat.Protocols {
					if (pr.Primary || pr.Required) && !hasProto(d.protocols, pr.Name) {
						e["protocols"] = map[string]string{"protocols": s.msg(MsgProtocolReq, pr.Name)}
						break
					}
				}
			}
		}
	} else if mode == mBulkCreate || mode == mPut {
		e.add("protocols", "This field is required.")
	}

	// nodes
	if v, ok := in["nodes"]; ok && v != nil {
		d.hasNodes = true
		list, isList := v.([]any)
		if !isList {
			e.add("nodes", fmt.Sprintf("Expected a list of items but got type %q.", typeName(v)))
		} else {
			for _, it := range list {
				id, ok := relatedID(it)
				n := s.st.nodes[id]
				if !ok || n == nil || (o != nil && n.org != o) {
					e.add("nodes", invalidPK(id))
					break
				}
				d.nodes = append(d.nodes, n)
			}
		}
	}
	if v, ok := in["nodes_display"]; ok && v != nil {
		list, isList := v.([]any)
		if !isList {
			e.add("nodes_display", fmt.Sprintf("Expected a list of items but got type %q.", typeName(v)))
		} else {
			for _, it := range list {
				str, ok := it.(string)
				if !ok {
					e.add("nodes_display", "Not a valid string.")
					break
				}
				if strings.TrimSpace(str) != "" {
					d.nodesDisplay = append(d.nodesDisplay, str)
				}
			}
		}
	}

	// zone / domain
	zf := s.zoneField()
	if v, ok := in[zf]; ok {
		d.hasZone = true
		if v != nil {
			id, _ := relatedID(v)
			z := s.st.zones[id]
			if z == nil || (o != nil && z.org != o) {
				e.add(zf, invalidPK(id))
			} else {
				d.zone = z
			}
		}
	}

	// labels
	if v, ok := in["labels"]; ok && v != nil {
		d.hasLabels = true
		list, isList := v.([]any)
		if !isList {
			e.add("labels", fmt.Sprintf("Expected a list of items but got type %q.", typeName(v)))
		} else {
			for _, it := range list {
				lr, code := s.parseLabel(o, it)
				if code == 404 {
					d.missingLabel = true
					continue
				}
				if code != 0 {
					e.add("labels", "Invalid data")
					break
				}
				d.labels = append(d.labels, lr)
			}
		}
	}

	if v, ok := in["is_active"]; ok {
		b, ok := parseBool(v)
		if !ok {
			e.add("is_active", "Must be a valid boolean.")
		} else {
			d.active = &b
		}
	}
	if v, ok := in["accounts"]; ok && v != nil {
		list, isList := v.([]any)
		if !isList {
			e.add("accounts", fmt.Sprintf("Expected a list of items but got type %q.", typeName(v)))
		} else {
			d.accounts, d.hasAccounts = list, true
		}
	}

	// per-org uniqueness among the endpoint's model
	if d.name != nil && o != nil && e["name"] == nil {
		if other := o.byName[s.nameKey(*d.name)]; other != nil && other != ex && (ep.owns(other) || ep.gateway) {
			e.add("name", s.msg(MsgUnique))
		}
	}
	if creating && d.id != "" && e["id"] == nil {
		if other := s.st.assets[d.id]; other != nil && (o == nil || other.org == o) {
			e.add("id", "Asset with this id already exists.")
		}
	}
	if len(e) > 0 {
		return nil, e
	}
	d.platform = ifNil(d.platform, effPlat)
	return d, nil
}

func ifNil(p, q *platform) *platform {
	if p != nil {
		return p
	}
	return q
}

func hasProto(ps []Protocol, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// parseLabel resolves one labels item: "k:v", {"name","value"}, a label
// UUID or {"id"}. code 404 = unknown label id; 400 = invalid.
func (s *Server) parseLabel(o *org, it any) (labelReq, int) {
	lookup := func(id string) (labelReq, int) {
		l := s.st.labels[id]
		if l == nil || (o != nil && l.org != o) {
			return labelReq{}, 404
		}
		return labelReq{l: l}, 0
	}
	switch x := it.(type) {
	case string:
		if k, v, ok := strings.Cut(x, ":"); ok {
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if k == "" || v == "" || strings.ContainsAny(k, ",") || strings.ContainsAny(v, ":,") {
				return labelReq{}, 400
			}
			return s.labelByName(o, k, v), 0
		}
		if _, err := uuid.Parse(x); err == nil {
			return lookup(x)
		}
		return labelReq{}, 400
	case map[string]any:
		if id, ok := x["id"]; ok {
			sid, _ := relatedID(id)
			return lookup(sid)
		}
		n, _ := x["name"].(string)
		v, _ := x["value"].(string)
		if n == "" || v == "" || strings.ContainsAny(n, ":,") || strings.ContainsAny(v, ":,") {
			return labelReq{}, 400
		}
		return s.labelByName(o, n, v), 0
	}
	return labelReq{}, 400
}

func (s *Server) labelByName(o *org, name, value string) labelReq {
	if o != nil {
		if l := o.labels[labelKey(name, value)]; l != nil {
			return labelReq{l: l}
		}
	}
	return labelReq{name: name, value: value}
}

// ------------------------------------------------------------- handlers

func (c *rctx) body() (any, bool) {
	var v any
	dec := json.NewDecoder(c.r.Body)
	if err := dec.Decode(&v); err != nil {
		c.detail(400, "JSON parse error - "+err.Error(), "parse_error")
		return nil, false
	}
	return v, true
}

// capError reports the Community Edition cap (spec §4.1).
func (s *Server) capError(c *rctx, ep *endpoint) string {
	k := c.knobs
	if k.Licensed {
		return ""
	}
	limit := k.cap()
	n := s.st.total
	if s.v47() { // 4.7 counts the endpoint's model in the current org
		n = 0
		if c.org != nil {
			n = c.org.catCount[ep.category]
		}
	}
	if n >= limit {
		return s.msg(MsgAssetCap, limit)
	}
	return ""
}

func (s *Server) hAssetCreate(ep *endpoint) handlerFunc {
	return func(c *rctx) {
		if ep.category == "" {
			c.errorMsg(400, s.msg(MsgCreateDirectly))
			return
		}
		body, ok := c.body()
		if !ok {
			return
		}
		switch v := body.(type) {
		case []any:
			s.createAssets(c, ep, v, true)
		case map[string]any:
			s.createAssets(c, ep, []any{v}, false)
		default:
			c.json(400, map[string]any{"non_field_errors": []string{"Invalid data. Expected a dictionary, but got " + typeName(body) + "."}})
		}
	}
}

func (s *Server) createAssets(c *rctx, ep *endpoint, items []any, bulk bool) {
	mode := mCreate
	if bulk {
		mode = mBulkCreate
	}
	s.mu.RLock()
	if msg := s.capError(c, ep); msg != "" {
		s.mu.RUnlock()
		c.errorMsg(400, msg)
		return
	}
	drafts := make([]*draft, len(items))
	errs := make([]any, len(items))
	bad, missingLabel := false, false
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			errs[i] = fieldErrs{"non_field_errors": []string{"Invalid data. Expected a dictionary, but got " + typeName(it) + "."}}
			bad = true
			continue
		}
		d, e := s.validate(ep, c.org, m, mode, nil)
		if e != nil {
			errs[i], bad = e, true
			continue
		}
		errs[i] = map[string]any{}
		drafts[i] = d
		missingLabel = missingLabel || d.missingLabel
	}
	s.mu.RUnlock()
	if bad {
		if bulk {
			c.json(400, errs)
		} else {
			c.json(400, errs[0])
		}
		return
	}
	if missingLabel {
		c.notFoundObj("Label")
		return
	}
	if !sleepCtx(c.r.Context(), c.knobs.PerItemCost*time.Duration(len(items))) {
		return
	}
	s.mu.Lock()
	status, out := s.commitCreate(c, ep, drafts)
	var reps []*assetJSON
	if status == 201 {
		for _, a := range out {
			reps = append(reps, s.assetRep(a, c.r, false))
		}
	}
	s.mu.Unlock()
	switch {
	case status != 201:
		// body written by commitCreate's caller below
	case bulk:
		c.json(201, reps)
		return
	default:
		c.json(201, reps[0])
		return
	}
	s.writeCommitError(c, status)
}

// commitErr carries a failure found at commit time.
type commitErr struct {
	status int
	body   any
	model  string
}

func (s *Server) writeCommitError(c *rctx, status int) {
	ce := c.commitErr
	if ce == nil {
		s.serverError(c.w, c.r)
		return
	}
	switch {
	case ce.status == 500:
		s.serverError(c.w, c.r)
	case ce.model != "":
		c.notFoundObj(ce.model)
	default:
		c.json(ce.status, ce.body)
	}
}

// commitCreate inserts all drafts or nothing. Call with s.mu held.
func (s *Server) commitCreate(c *rctx, ep *endpoint, drafts []*draft) (int, []*asset) {
	fail := func(status int, body any, model string) (int, []*asset) {
		c.commitErr = &commitErr{status, body, model}
		return status, nil
	}
	if c.org == nil {
		return fail(400, []string{s.msg(MsgRootSave)}, "")
	}
	o := c.org
	names := map[string]bool{}
	ids := map[string]bool{}
	for _, d := range drafts {
		nk := s.nameKey(*d.name)
		// the (org_id, name) constraint covers every asset type: a clash
		// with a non-host asset, a racing create or a duplicate inside the
		// batch fails at insert → 500 and the transaction rolls back.
		if names[nk] || o.byName[nk] != nil {
			return fail(500, nil, "")
		}
		names[nk] = true
		if d.id != "" {
			if ids[d.id] || s.st.assets[d.id] != nil {
				return fail(500, nil, "")
			}
			ids[d.id] = true
		}
		if !s.refsAlive(d) {
			return fail(500, nil, "")
		}
	}
	// accounts are checked before anything is written (one transaction)
	for _, d := range drafts {
		if st, body, model := s.checkAccounts(o, d.accounts, nil); st != 0 {
			return fail(st, body, model)
		}
	}
	now := s.now()
	out := make([]*asset, 0, len(drafts))
	nodeID := c.q.Get("node_id")
	if nodeID == "" {
		nodeID = c.q.Get("node")
	}
	for _, d := range drafts {
		a := &asset{id: d.id, name: *d.name, address: *d.address, org: o, platform: d.platform,
			category: d.platform.Category, typ: d.platform.Type, protocols: d.protocols, active: true,
			connectivity: "-", created: now, updated: now, createdBy: truncate(s.opts.CreatedBy, 30)}
		if a.id == "" {
			a.id = s.newID()
		}
		if d.comment != nil {
			a.comment = *d.comment
		}
		if d.active != nil {
			a.active = *d.active
		}
		if d.dbName != nil {
			a.dbName = *d.dbName
		}
		a.nodes = s.draftNodes(o, d, nodeID)
		a.labels = s.draftLabels(o, d)
		if d.zone != nil && d.platform.GatewayEnabled {
			a.zone = d.zone
		}
		s.insertAsset(a)
		s.addAccounts(a, d.accounts)
		s.counters.assetsCreated++
		if a.platform.PingEnabled {
			s.counters.ping++
		}
		if a.platform.GatherFacts {
			s.counters.gatherFacts++
		}
		out = append(out, a)
	}
	return 201, out
}

func (s *Server) refsAlive(d *draft) bool {
	for _, n := range d.nodes {
		if s.st.nodes[n.id] != n {
			return false
		}
	}
	for _, l := range d.labels {
		if l.l != nil && s.st.labels[l.l.id] != l.l {
			return false
		}
	}
	return d.zone == nil || s.st.zones[d.zone.id] == d.zone
}

func (s *Server) draftNodes(o *org, d *draft, nodeID string) []*node {
	if len(d.nodesDisplay) > 0 {
		var ns []*node
		for _, p := range d.nodesDisplay {
			n, _ := s.ensurePath(o, p)
			ns = append(ns, n)
		}
		return dedup(ns)
	}
	if len(d.nodes) > 0 {
		return dedup(d.nodes)
	}
	if nodeID != "" {
		if n := s.st.nodes[nodeID]; n != nil && n.org == o {
			return []*node{n}
		}
	}
	return []*node{o.root}
}

func (s *Server) draftLabels(o *org, d *draft) []*label {
	ls := make([]*label, 0, len(d.labels))
	for _, lr := range d.labels {
		if lr.l != nil {
			ls = append(ls, lr.l)
		} else {
			ls = append(ls, s.getOrCreateLabel(o, lr.name, lr.value))
		}
	}
	return ls
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// findAsset looks an asset up by id (or, on 4.10, by name) in the request's
// org (any org in the root org).
func (s *Server) findAsset(c *rctx, ep *endpoint, key string) *asset {
	a := s.st.assets[strings.ToLower(key)]
	if a == nil && !s.v47() {
		if _, err := uuid.Parse(key); err != nil {
			if _, err := strconv.Atoi(key); err != nil {
				if c.org != nil {
					a = c.org.byName[s.nameKey(key)]
				}
			}
		}
	}
	if a == nil || (c.org != nil && a.org != c.org) || !ep.owns(a) {
		return nil
	}
	return a
}

func (s *Server) hAssetDetail(ep *endpoint) handlerFunc {
	return func(c *rctx) {
		s.mu.RLock()
		a := s.findAsset(c, ep, c.args[0])
		var rep *assetJSON
		if a != nil {
			rep = s.assetRep(a, c.r, true)
		}
		s.mu.RUnlock()
		if rep == nil {
			c.notFoundObj(ep.model)
			return
		}
		c.writeRep(200, rep)
	}
}

func (s *Server) hAssetUpdate(ep *endpoint, partial bool) handlerFunc {
	return func(c *rctx) {
		body, ok := c.body()
		if !ok {
			return
		}
		m, isMap := body.(map[string]any)
		mode := mPut
		if partial {
			mode = mPatch
		}
		s.mu.RLock()
		a := s.findAsset(c, ep, c.args[0])
		if a == nil {
			s.mu.RUnlock()
			c.notFoundObj(ep.model)
			return
		}
		if !isMap {
			s.mu.RUnlock()
			c.json(400, map[string]any{"non_field_errors": []string{"Invalid data. Expected a dictionary, but got " + typeName(body) + "."}})
			return
		}
		d, e := s.validate(ep, a.org, m, mode, a)
		s.mu.RUnlock()
		if e != nil {
			c.json(400, e)
			return
		}
		if d.missingLabel {
			c.notFoundObj("Label")
			return
		}
		if !sleepCtx(c.r.Context(), c.knobs.PerItemCost) {
			return
		}
		s.mu.Lock()
		st := s.commitUpdate(c, []*draft{d}, mode)
		var rep *assetJSON
		if st == 200 {
			rep = s.assetRep(d.existing, c.r, false)
		}
		s.mu.Unlock()
		if st != 200 {
			s.writeCommitError(c, st)
			return
		}
		c.writeRep(200, rep)
	}
}

// commitUpdate applies validated updates, all or nothing. Call with s.mu held.
func (s *Server) commitUpdate(c *rctx, drafts []*draft, mode int) int {
	fail := func(status int, body any, model string) int {
		c.commitErr = &commitErr{status, body, model}
		return status
	}
	names := map[*org]map[string]*asset{}
	for _, d := range drafts {
		a := d.existing
		if s.st.assets[a.id] != a {
			return fail(404, nil, "Asset")
		}
		if !s.refsAlive(d) {
			return fail(500, nil, "")
		}
		if d.name != nil && *d.name != a.name {
			nk := s.nameKey(*d.name)
			if names[a.org] == nil {
				names[a.org] = map[string]*asset{}
			}
			if other := a.org.byName[nk]; (other != nil && other != a) || names[a.org][nk] != nil {
				return fail(500, nil, "")
			}
			names[a.org][nk] = a
		}
		if d.hasAccounts && !s.v47() {
			if st, body, model := s.checkAccounts(a.org, d.accounts, a); st != 0 {
				return fail(st, body, model)
			}
		}
	}
	now := s.now()
	nodeID := ""
	for _, d := range drafts {
		a := d.existing
		if d.name != nil && *d.name != a.name {
			s.renameAsset(a, *d.name)
		}
		if d.address != nil {
			a.address = *d.address
		}
		if d.comment != nil {
			a.comment = *d.comment
		}
		if d.dbName != nil {
			a.dbName = *d.dbName
		}
		if d.platform != nil && d.platform != a.platform {
			// keep the protocols, add what the new platform has
			ps := append([]Protocol{}, a.protocols...)
			for _, pr := range d.platform.Protocols {
				if !hasProto(ps, pr.Name) {
					ps = append(ps, Protocol{pr.Name, pr.Port})
				}
			}
			a.protocols = ps
			a.platform = d.platform
			a.typ = d.platform.Type
		}
		if d.hasProtocols {
			a.protocols = d.protocols
		}
		switch {
		case d.active != nil:
			a.active = *d.active
		case mode == mPut:
			a.active = true // the serializer default overwrites
		}
		if len(d.nodesDisplay) > 0 || d.hasNodes || mode == mPut {
			s.setNodes(a, s.draftNodes(a.org, d, nodeID))
		}
		if d.hasLabels {
			s.setLabels(a, s.draftLabels(a.org, d))
		}
		if d.hasZone {
			z := d.zone
			if z != nil && !a.platform.GatewayEnabled {
				z = nil
			}
			s.setZone(a, z)
		} else if a.zone != nil && !a.platform.GatewayEnabled {
			s.setZone(a, nil)
		}
		if d.hasAccounts && !s.v47() {
			s.upsertAccounts(a, d.accounts)
		}
		a.updated = now
		s.counters.assetsUpdated++
	}
	return 200
}

func (s *Server) hAssetDelete(ep *endpoint) handlerFunc {
	return func(c *rctx) {
		s.mu.Lock()
		a := s.findAsset(c, ep, c.args[0])
		if a != nil {
			s.removeAsset(a)
		}
		s.mu.Unlock()
		if a == nil {
			c.notFoundObj(ep.model)
			return
		}
		c.w.WriteHeader(204)
	}
}

func (s *Server) hAssetBulkUpdate(ep *endpoint, partial bool) handlerFunc {
	return func(c *rctx) {
		body, ok := c.body()
		if !ok {
			return
		}
		list, isList := body.([]any)
		if !isList {
			if ep.category == "" {
				s.serverError(c.w, c.r) // unguarded on the generic endpoint
				return
			}
			c.json(400, map[string]any{"non_field_errors": []string{"Expected a list of items but got type \"dict\"."}})
			return
		}
		mode := mPut
		if partial {
			mode = mPatch
		}
		s.mu.RLock()
		errs := make([]any, len(list))
		var drafts []*draft
		bad := false
		for i, it := range list {
			m, ok := it.(map[string]any)
			var id string
			if ok {
				id, _ = relatedID(m["id"])
				if _, has := m["id"]; !has {
					id, _ = relatedID(m["pk"])
					if _, has := m["pk"]; !has {
						id = ""
					}
				}
			}
			if id == "" {
				errs[i], bad = []string{"id or pk not in data"}, true
				continue
			}
			a := s.st.assets[strings.ToLower(id)]
			if a == nil || (c.org != nil && a.org != c.org) || !ep.owns(a) {
				errs[i], bad = []string{ep.model + " matching query does not exist."}, true
				continue
			}
			if ep.category == "" {
				// the generic endpoint skips items whose platform changes type
				if p, _ := s.resolvePlatform(m["platform"]); p != nil && p.Type != a.typ {
					errs[i] = map[string]any{}
					continue
				}
			}
			d, e := s.validate(ep, a.org, m, mode, a)
			if e != nil {
				errs[i], bad = e, true
				continue
			}
			if d.missingLabel {
				s.mu.RUnlock()
				c.notFoundObj("Label")
				return
			}
			errs[i] = map[string]any{}
			drafts = append(drafts, d)
		}
		s.mu.RUnlock()
		if bad {
			c.json(400, errs)
			return
		}
		if !sleepCtx(c.r.Context(), c.knobs.PerItemCost*time.Duration(len(list))) {
			return
		}
		s.mu.Lock()
		st := s.commitUpdate(c, drafts, mode)
		reps := make([]*assetJSON, 0, len(drafts))
		if st == 200 {
			for _, d := range drafts {
				reps = append(reps, s.assetRep(d.existing, c.r, false))
			}
		}
		s.mu.Unlock()
		if st != 200 {
			s.writeCommitError(c, st)
			return
		}
		c.json(200, reps)
	}
}

func (s *Server) hAssetBulkDelete(ep *endpoint) handlerFunc {
	return func(c *rctx) {
		s.mu.Lock()
		defer s.mu.Unlock()
		matched, errBody := s.filterAssets(c, ep, false)
		if errBody == "internal" {
			s.serverError(c.w, c.r)
			return
		}
		if errBody != nil {
			c.json(400, errBody)
			return
		}
		total := 0
		s.walkBase(c, ep, func(*asset) bool { total++; return true })
		if !(len(matched) == 1 || len(matched) < total || c.q.Has("spm")) {
			c.w.WriteHeader(400)
			return
		}
		for _, a := range matched {
			s.removeAsset(a)
		}
		c.w.WriteHeader(204)
	}
}

func (s *Server) hAssetTask(c *rctx) {
	s.mu.Lock()
	a := s.findAsset(c, &endpoint{model: "Asset"}, c.args[0])
	if a != nil {
		s.counters.ping++
	}
	s.mu.Unlock()
	if a == nil {
		c.notFoundObj("Asset")
		return
	}
	c.json(201, map[string]string{"task": s.newID()})
}

func (s *Server) hAssetsTask(c *rctx) {
	m, ok := c.mapBody()
	if !ok {
		return
	}
	ids, _ := m["assets"].([]any)
	s.mu.Lock()
	s.counters.ping += int64(len(ids))
	s.mu.Unlock()
	c.json(201, map[string]string{"task": s.newID()})
}

func (s *Server) hAssetPlatform(c *rctx) {
	s.mu.RLock()
	a := s.findAsset(c, &endpoint{model: "Asset"}, c.args[0])
	var m map[string]any
	if a != nil {
		m = s.platformJSON(a.platform, 0)
	}
	s.mu.RUnlock()
	if a == nil {
		c.notFoundObj("Asset")
		return
	}
	c.json(200, m)
}

// writeRep writes one representation, applying ?fields= and friends.
func (c *rctx) writeRep(status int, rep *assetJSON) {
	if f := c.fieldsFilter(); f != nil {
		c.json(status, f(rep))
		return
	}
	c.json(status, rep)
}
