package jumpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Start checks the credentials and the org, detects the version, discovers
// the org's root node and loads the platforms. Call it before anything
// else, and again to refresh (e.g. after a global error cleared).
//
// An org that does not exist is refused with KindConfig / ErrUnknownOrg:
// Community Edition would silently have served the Default org.
func (c *Client) Start(ctx context.Context) (Info, error) {
	// 1. credentials and org
	var org Org
	if _, err := c.do(ctx, call{method: http.MethodGet, path: orgCurrent, retry: true}, &org); err != nil {
		return Info{}, fmt.Errorf("check org: %w", err)
	}
	if !strings.EqualFold(org.ID, c.cfg.OrgID) {
		return Info{}, &Error{Kind: KindConfig, Method: http.MethodGet, Path: orgCurrent, Err: ErrUnknownOrg,
			Message: fmt.Sprintf("org %s does not exist: the server answered in org %s (%q); "+
				"Community Edition maps an unknown org to Default", c.cfg.OrgID, org.ID, org.Name)}
	}

	// 2. version: zones exist from 4.10 on, domains before
	v, err := c.detectVersion(ctx)
	if err != nil {
		return Info{}, err
	}
	c.mu.Lock()
	c.info.Version = v // pageSize and field names follow from here on
	c.mu.Unlock()

	// 3. the org's root node
	root, err := c.findRootNode(ctx)
	if err != nil {
		return Info{}, err
	}

	// 4. platforms (global)
	plats, err := c.loadPlatforms(ctx, url.Values{})
	if err != nil {
		return Info{}, fmt.Errorf("load platforms: %w", err)
	}

	info := Info{Version: v, Org: org, RootNode: root, PageSize: v.PageCap(), Platforms: len(plats)}
	if c.cfg.PageSize > 0 && c.cfg.PageSize < info.PageSize {
		info.PageSize = c.cfg.PageSize
	}
	c.mu.Lock()
	c.info = info
	c.platforms = map[string]Platform{}
	for _, p := range plats {
		c.platforms[p.Name] = p
	}
	c.templates = map[string]AccountTemplate{}
	c.zones = map[string]Zone{}
	c.started = true
	c.mu.Unlock()

	c.nodeMu.Lock()
	c.nodes = map[string]Node{}
	c.nodeMu.Unlock()

	c.log.Info().Str("version", string(v)).Str("org", org.Name).Str("root_node", root.Value).
		Int("platforms", len(plats)).Msg("jumpserver client started")
	return info, nil
}

// detectVersion probes /assets/zones/ (4.10+) and /assets/domains/ (≤4.9).
// An unknown route answers 404 {"error":"Not found"}; a list route never
// answers 404 otherwise.
func (c *Client) detectVersion(ctx context.Context) (Version, error) {
	probe := func(v Version) (bool, error) {
		q := url.Values{"limit": {"1"}}
		_, err := c.do(ctx, call{method: http.MethodGet, path: v.zonePath(), query: q, retry: true}, nil)
		switch {
		case err == nil:
			return true, nil
		case KindOf(err) == KindNotFound:
			return false, nil
		}
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusForbidden {
			return true, nil // the route exists; the key may not list zones
		}
		return false, err
	}
	for _, v := range []Version{V410, V47} {
		ok, err := probe(v)
		if err != nil {
			return "", fmt.Errorf("detect version: %w", err)
		}
		if ok {
			return v, nil
		}
	}
	return "", &Error{Kind: KindConfig, Err: ErrConfig,
		Message: "neither /api/v1/assets/zones/ nor /api/v1/assets/domains/ exists: not a JumpServer v4 API"}
}

// findRootNode finds the org's root node: the node whose key has no colon
// (Default org "1", other orgs "2", "3"…). Nodes are ordered by
// (parent_key, value), so the root comes first.
func (c *Client) findRootNode(ctx context.Context) (Node, error) {
	var root *Node
	errFound := errors.New("found")
	_, err := c.pages(ctx, nodesPath, url.Values{}, "", func(rows []json.RawMessage) error {
		for _, r := range rows {
			var n Node
			if err := json.Unmarshal(r, &n); err != nil {
				return &Error{Kind: KindUnavailable, Path: nodesPath, Message: "undecodable node: " + err.Error()}
			}
			if n.isRoot() {
				root = &n
				return errFound
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return Node{}, fmt.Errorf("find root node: %w", err)
	}
	if root == nil {
		return Node{}, &Error{Kind: KindConfig, Path: nodesPath, Err: ErrConfig, Message: "the org has no root node"}
	}
	return *root, nil
}

func (c *Client) loadPlatforms(ctx context.Context, q url.Values) ([]Platform, error) {
	var out []Platform
	_, err := c.pages(ctx, platformsPath, q, "", func(rows []json.RawMessage) error {
		for _, r := range rows {
			var p Platform
			if err := json.Unmarshal(r, &p); err != nil {
				return &Error{Kind: KindUnavailable, Path: platformsPath, Message: "undecodable platform: " + err.Error()}
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// Platform resolves a platform by name (cached; a miss is re-read once).
// The error names the missing platform and matches ErrPlatformNotFound.
func (c *Client) Platform(ctx context.Context, name string) (Platform, error) {
	if _, err := c.startedInfo(); err != nil {
		return Platform{}, err
	}
	c.mu.RLock()
	p, ok := c.platforms[name]
	c.mu.RUnlock()
	if ok {
		return p, nil
	}
	ps, err := c.loadPlatforms(ctx, url.Values{"name": {name}})
	if err != nil {
		return Platform{}, fmt.Errorf("platform %q: %w", name, err)
	}
	for _, p := range ps {
		if p.Name == name {
			c.mu.Lock()
			c.platforms[name] = p
			c.mu.Unlock()
			return p, nil
		}
	}
	return Platform{}, &Error{Kind: KindNotFound, Path: platformsPath, Err: ErrPlatformNotFound,
		Message: fmt.Sprintf("platform %q does not exist", name)}
}

// AccountTemplate resolves an account template of the org by name (cached).
// A missing template matches ErrTemplateNotFound and is global (IsGlobal).
func (c *Client) AccountTemplate(ctx context.Context, name string) (AccountTemplate, error) {
	c.mu.RLock()
	t, ok := c.templates[name]
	c.mu.RUnlock()
	if ok {
		return t, nil
	}
	var found *AccountTemplate
	_, err := c.pages(ctx, templatesPath, url.Values{"name": {name}}, "", func(rows []json.RawMessage) error {
		for _, r := range rows {
			var t AccountTemplate
			if err := json.Unmarshal(r, &t); err != nil {
				return &Error{Kind: KindUnavailable, Path: templatesPath, Message: "undecodable template: " + err.Error()}
			}
			if t.Name == name {
				found = &t
			}
		}
		return nil
	})
	if err != nil {
		return AccountTemplate{}, fmt.Errorf("account template %q: %w", name, err)
	}
	if found == nil {
		return AccountTemplate{}, &Error{Kind: KindNotFound, Path: templatesPath, Err: ErrTemplateNotFound,
			Message: fmt.Sprintf("account template %q does not exist in org %s", name, c.cfg.OrgID)}
	}
	c.mu.Lock()
	c.templates[name] = *found
	c.mu.Unlock()
	return *found, nil
}

func (c *Client) forgetTemplates() {
	c.mu.Lock()
	c.templates = map[string]AccountTemplate{}
	c.mu.Unlock()
}

// Zone resolves a zone (a domain on 4.7) of the org by name (cached). It
// never creates one; see EnsureZone.
func (c *Client) Zone(ctx context.Context, name string) (Zone, error) {
	info, err := c.startedInfo()
	if err != nil {
		return Zone{}, err
	}
	c.mu.RLock()
	z, ok := c.zones[name]
	c.mu.RUnlock()
	if ok {
		return z, nil
	}
	path := info.Version.zonePath()
	var found *Zone
	_, err = c.pages(ctx, path, url.Values{"name": {name}}, "", func(rows []json.RawMessage) error {
		for _, r := range rows {
			var z Zone
			if err := json.Unmarshal(r, &z); err != nil {
				return &Error{Kind: KindUnavailable, Path: path, Message: "undecodable zone: " + err.Error()}
			}
			if z.Name == name {
				found = &z
			}
		}
		return nil
	})
	if err != nil {
		return Zone{}, fmt.Errorf("zone %q: %w", name, err)
	}
	if found == nil {
		return Zone{}, &Error{Kind: KindNotFound, Path: path, Err: ErrZoneNotFound,
			Message: fmt.Sprintf("%s %q does not exist", info.Version.zoneField(), name)}
	}
	c.mu.Lock()
	c.zones[name] = *found
	c.mu.Unlock()
	return *found, nil
}

// EnsureZone returns the zone (domain on 4.7) named name, creating it when
// it does not exist. A concurrent creator's win is read back.
func (c *Client) EnsureZone(ctx context.Context, name string) (Zone, error) {
	z, err := c.Zone(ctx, name)
	if err == nil || !errors.Is(err, ErrZoneNotFound) {
		return z, err
	}
	info, _ := c.startedInfo()
	var created Zone
	_, err = c.do(ctx, call{method: http.MethodPost, path: info.Version.zonePath(),
		body: map[string]any{"name": name, "comment": ""}}, &created)
	if err != nil {
		if KindOf(err) == KindValidation {
			if z, rerr := c.Zone(ctx, name); rerr == nil {
				return z, nil // created meanwhile by someone else
			}
		}
		return Zone{}, fmt.Errorf("create %s %q: %w", info.Version.zoneField(), name, err)
	}
	c.mu.Lock()
	c.zones[name] = created
	c.mu.Unlock()
	return created, nil
}
