package jumpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// GetNode reads one node of the org by id.
func (c *Client) GetNode(ctx context.Context, id string) (Node, error) {
	p, err := objectPath(nodesPath, id)
	if err != nil {
		return Node{}, err
	}
	var n Node
	_, err = c.do(ctx, call{method: http.MethodGet, path: p, retry: true}, &n)
	return n, err
}

// SplitNodePath checks a node path against the org's root node value and
// returns the segments below the root. The first segment must name the root
// (compared case-insensitively, so "/Default/…" fits a "DEFAULT" root):
// JumpServer would otherwise create "/DEFAULT/Default/…".
func SplitNodePath(path, rootValue string) ([]string, error) {
	bad := func(format string, a ...any) error {
		return &Error{Kind: KindValidation, Path: nodesPath,
			Message: fmt.Sprintf("node path %q: ", path) + fmt.Sprintf(format, a...)}
	}
	if !strings.HasPrefix(path, "/") {
		return nil, bad("must start with /")
	}
	raw := strings.Split(strings.Trim(path, "/"), "/")
	if len(raw) == 0 || !strings.EqualFold(strings.TrimSpace(raw[0]), rootValue) {
		return nil, bad("must start with the org's root node /%s", rootValue)
	}
	segs := make([]string, 0, len(raw)-1)
	for _, s := range raw[1:] {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			return nil, bad("empty segment")
		case utf8.RuneCountInString(s) > 128:
			return nil, bad("segment %q is longer than 128 characters", s)
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// EnsureNodePath returns the node at path ("/DEFAULT/阿里云/prod"), creating
// missing segments one by one under their parent. It is idempotent and
// serialised inside the client; a concurrent creator elsewhere (another
// process) makes the server refuse the duplicate with 400, after which the
// node is read back. Results are cached; ForgetNodes drops the cache.
func (c *Client) EnsureNodePath(ctx context.Context, path string) (Node, error) {
	info, err := c.startedInfo()
	if err != nil {
		return Node{}, err
	}
	root := info.RootNode
	segs, err := SplitNodePath(path, root.Value)
	if err != nil {
		return Node{}, err
	}
	c.nodeMu.Lock()
	defer c.nodeMu.Unlock()
	parent := root
	sub := "/" + root.Value
	for _, seg := range segs {
		sub += "/" + seg
		if n, ok := c.nodes[sub]; ok {
			parent = n
			continue
		}
		n, err := c.ensureChild(ctx, parent, seg, sub)
		if err != nil {
			return Node{}, fmt.Errorf("ensure node path %q: %w", path, err)
		}
		c.nodes[sub] = n
		parent = n
	}
	return parent, nil
}

// ForgetNodes drops the node cache (e.g. after an operator deleted a node).
func (c *Client) ForgetNodes() {
	c.nodeMu.Lock()
	c.nodes = map[string]Node{}
	c.nodeMu.Unlock()
}

func (c *Client) ensureChild(ctx context.Context, parent Node, value, fullPath string) (Node, error) {
	if n, ok, err := c.findChild(ctx, parent, value); err != nil || ok {
		return n, err
	}
	p, err := objectPath(nodesPath, parent.ID)
	if err != nil {
		return Node{}, err
	}
	var n Node
	_, err = c.do(ctx, call{method: http.MethodPost, path: p + "children/", body: map[string]string{"value": value}}, &n)
	if err == nil {
		return n, nil
	}
	if KindOf(err) != KindValidation {
		return Node{}, err
	}
	// 400: a concurrent creator won (read it back), or the parent-sibling
	// quirk (jumpserver#6075) refused the name: the full_value route is a
	// get-or-create without that check.
	if n, ok, rerr := c.findChild(ctx, parent, value); rerr == nil && ok {
		return n, nil
	}
	var leaf Node
	if _, ferr := c.do(ctx, call{method: http.MethodPost, path: nodesPath,
		body: map[string]string{"full_value": fullPath}}, &leaf); ferr != nil {
		return Node{}, fmt.Errorf("%w (and by full_value: %w)", err, ferr)
	}
	if leaf.FullValue != fullPath || leaf.parentKey() != parent.Key {
		return Node{}, &Error{Kind: KindConflict, Path: nodesPath,
			Message: fmt.Sprintf("created %q under key %s, wanted %q under %s", leaf.FullValue, leaf.parentKey(),
				fullPath, parent.Key)}
	}
	return leaf, nil
}

// findChild looks for parent's child named value (exact value filter, then
// the parent matched by key).
func (c *Client) findChild(ctx context.Context, parent Node, value string) (Node, bool, error) {
	var found *Node
	_, err := c.pages(ctx, nodesPath, url.Values{"value": {value}}, "", func(rows []json.RawMessage) error {
		for _, r := range rows {
			var n Node
			if err := json.Unmarshal(r, &n); err != nil {
				return &Error{Kind: KindUnavailable, Path: nodesPath, Message: "undecodable node: " + err.Error()}
			}
			if n.Value == value && n.parentKey() == parent.Key && found == nil {
				found = &n
			}
		}
		return nil
	})
	if err != nil || found == nil {
		return Node{}, false, err
	}
	return *found, true, nil
}
