package jumpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/jmssync/jmssync/libs/events"
)

const (
	hostsPath     = "/api/v1/assets/hosts/"
	assetsPath    = "/api/v1/assets/assets/"
	nodesPath     = "/api/v1/assets/nodes/"
	platformsPath = "/api/v1/assets/platforms/"
	templatesPath = "/api/v1/accounts/account-templates/"
	accountsPath  = "/api/v1/accounts/accounts/"
	orgCurrent    = "/api/v1/orgs/orgs/current/"
)

// idsPerRead bounds the ids of one ?ids= read (URL length).
const idsPerRead = 50

// safeSegment: path segments are ids only, so that the escaped path on the
// wire equals what JumpServer signs (doc.go, "Signing"). Names go in queries.
var safeSegment = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

func objectPath(base, id string) (string, error) {
	if !safeSegment.MatchString(id) {
		return "", &Error{Kind: KindValidation, Path: base, Message: fmt.Sprintf("%q is not an id", id)}
	}
	return base + strings.ToLower(id) + "/", nil
}

// ListStats describes a completed listing.
type ListStats struct {
	// Count is the server's count on the last page; Seen the distinct ids
	// delivered; Pages the requests made.
	Count, Seen, Pages int
	// Changed reports that the count moved while paging: rows may have been
	// skipped or repeated (repeats are removed). List again if it matters.
	Changed bool
}

type envelope struct {
	Count   int               `json:"count"`
	Next    *string           `json:"next"`
	Results []json.RawMessage `json:"results"`
}

// pages lists a collection with an explicit limit (a list without one is
// truncated to 200 rows on 4.10.8+), following offsets until the end.
func (c *Client) pages(ctx context.Context, path string, q url.Values, org string,
	fn func([]json.RawMessage) error,
) (ListStats, error) {
	var st ListStats
	limit := c.pageSize()
	offset := 0
	first := true
	for {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		qq.Set("limit", strconv.Itoa(limit))
		if offset > 0 {
			qq.Set("offset", strconv.Itoa(offset))
		}
		res, err := c.do(ctx, call{method: http.MethodGet, path: path, query: qq, org: org, retry: true}, nil)
		if err != nil {
			return st, err
		}
		st.Pages++
		var env envelope
		trimmed := strings.TrimSpace(string(res.body))
		if strings.HasPrefix(trimmed, "[") {
			// a server that ignored limit answered with everything
			if err := json.Unmarshal(res.body, &env.Results); err != nil {
				return st, &Error{Kind: KindUnavailable, Status: res.status, Method: http.MethodGet, Path: path,
					Message: "undecodable list: " + err.Error()}
			}
			env.Count = len(env.Results)
		} else if err := json.Unmarshal(res.body, &env); err != nil {
			return st, &Error{Kind: KindUnavailable, Status: res.status, Method: http.MethodGet, Path: path,
				Message: "undecodable page: " + err.Error()}
		}
		if !first && env.Count != st.Count {
			st.Changed = true
		}
		first = false
		st.Count = env.Count
		if len(env.Results) > 0 {
			if err := fn(env.Results); err != nil {
				return st, err
			}
		}
		offset += len(env.Results)
		if env.Next == nil || len(env.Results) == 0 || strings.HasPrefix(trimmed, "[") {
			return st, nil
		}
	}
}

// ListOptions narrows a host listing.
type ListOptions struct {
	// Labels: hosts carrying these labels (AND across names, OR within one).
	Labels []events.Label
	// NodeID: hosts in this node or below. The node is checked to exist
	// first: JumpServer silently ignores an unknown node and lists the org.
	NodeID string
	// IDs: only these hosts.
	IDs []string
	// Name: exact name.
	Name string
	// Search: case-insensitive substring of name, address or comment.
	Search string
	// Fields to fetch; default HostFields. AllFields fetches everything.
	Fields    []string
	AllFields bool
}

// HostFields are the fields a listing fetches by default: what State and
// the ownership checks need.
func (c *Client) HostFields() []string {
	return []string{"id", "name", "address", "platform", "protocols", "nodes", "nodes_display", "labels",
		c.version().zoneField(), "is_active", "comment", "org_id", "category"}
}

func (c *Client) listQuery(ctx context.Context, o ListOptions) (url.Values, error) {
	q := url.Values{}
	if !o.AllFields {
		f := o.Fields
		if len(f) == 0 {
			f = c.HostFields()
		}
		q.Set("fields", strings.Join(f, ","))
	}
	if len(o.Labels) > 0 {
		parts := make([]string, len(o.Labels))
		for i, l := range o.Labels {
			if err := checkLabel(l); err != nil {
				return nil, err
			}
			parts[i] = l.Name + ":" + l.Value
		}
		q.Set("labels", strings.Join(parts, ","))
	}
	if o.NodeID != "" {
		if _, err := c.GetNode(ctx, o.NodeID); err != nil {
			return nil, fmt.Errorf("list hosts under node %s: %w", o.NodeID, err)
		}
		q.Set("node_id", o.NodeID)
	}
	if len(o.IDs) > 0 {
		for _, id := range o.IDs {
			if !safeSegment.MatchString(id) {
				return nil, &Error{Kind: KindValidation, Message: fmt.Sprintf("%q is not an id", id)}
			}
		}
		q.Set("ids", strings.Join(o.IDs, ","))
	}
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	if o.Search != "" {
		q.Set("search", o.Search)
	}
	return q, nil
}

// ListHosts pages through the org's hosts with limit at the server's cap and
// fields= trimming each row, calling fn once per page (ids de-duplicated).
func (c *Client) ListHosts(ctx context.Context, o ListOptions, fn func([]Host) error) (ListStats, error) {
	return c.listAssets(ctx, hostsPath, o, fn)
}

// ListAssets is ListHosts over every asset category (databases, devices…),
// e.g. to check a name against all asset types.
func (c *Client) ListAssets(ctx context.Context, o ListOptions, fn func([]Host) error) (ListStats, error) {
	return c.listAssets(ctx, assetsPath, o, fn)
}

func (c *Client) listAssets(ctx context.Context, path string, o ListOptions, fn func([]Host) error) (ListStats, error) {
	q, err := c.listQuery(ctx, o)
	if err != nil {
		return ListStats{}, err
	}
	seen := map[string]bool{}
	st, err := c.pages(ctx, path, q, "", func(rows []json.RawMessage) error {
		hosts := make([]Host, 0, len(rows))
		for _, r := range rows {
			var h Host
			if err := json.Unmarshal(r, &h); err != nil {
				return &Error{Kind: KindUnavailable, Method: http.MethodGet, Path: path, Message: "undecodable host: " + err.Error()}
			}
			if seen[h.ID] {
				continue
			}
			seen[h.ID] = true
			hosts = append(hosts, h)
		}
		if len(hosts) == 0 {
			return nil
		}
		return fn(hosts)
	})
	st.Seen = len(seen)
	return st, err
}

// GetHost reads one host. A missing host is an *Error of KindNotFound
// (errors.Is(err, ErrNotFound)), never (nil, nil).
func (c *Client) GetHost(ctx context.Context, id string) (*Host, error) {
	p, err := objectPath(hostsPath, id)
	if err != nil {
		return nil, err
	}
	var h Host
	q := url.Values{"fields": {strings.Join(c.HostFields(), ",")}}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: p, query: q, retry: true}, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// GetHosts reads hosts by id (missing ids are simply absent from the map).
func (c *Client) GetHosts(ctx context.Context, ids []string) (map[string]*Host, error) {
	out := make(map[string]*Host, len(ids))
	for start := 0; start < len(ids); start += idsPerRead {
		chunk := ids[start:min(len(ids), start+idsPerRead)]
		_, err := c.ListHosts(ctx, ListOptions{IDs: chunk}, func(hs []Host) error {
			for i := range hs {
				h := hs[i]
				out[strings.ToLower(h.ID)] = &h
			}
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// AssetCount is how many assets count toward the Community Edition cap.
type AssetCount struct {
	Count int
	// AllOrgs: Count spans every org (4.10, read through the root org). When
	// false it is the current org only: on 4.7 that is exactly what the cap
	// counts (hosts of the org); on 4.10 it is a lower bound (the key may
	// not read the root org).
	AllOrgs bool
	// Cap is Config.AssetCap (-1: licensed, no cap).
	Cap int
}

// Room is how many assets may still be created (-1: unlimited).
func (a AssetCount) Room() int {
	if a.Cap < 0 {
		return -1
	}
	return max(0, a.Cap-a.Count)
}

// CountAllAssets counts what the Community Edition cap counts: on 4.10 every
// asset of every org (a read with X-JMS-ORG set to the root org, which spans
// all orgs); on 4.7 the hosts of the current org.
func (c *Client) CountAllAssets(ctx context.Context) (AssetCount, error) {
	out := AssetCount{Cap: c.cfg.AssetCap}
	count := func(path, org string) (int, error) {
		var env envelope
		q := url.Values{"limit": {"1"}, "fields": {"id"}}
		if _, err := c.do(ctx, call{method: http.MethodGet, path: path, query: q, org: org, retry: true}, &env); err != nil {
			return 0, err
		}
		return env.Count, nil
	}
	if c.version() == V47 {
		n, err := count(hostsPath, "")
		out.Count = n
		return out, err
	}
	n, err := count(assetsPath, RootOrgID)
	if err == nil {
		out.Count, out.AllOrgs = n, true
		return out, nil
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusForbidden {
		return out, err
	}
	// the key may not read the root org: count the current org (a lower bound)
	n, err = count(assetsPath, "")
	out.Count = n
	return out, err
}
