package jumpserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Bulk writes follow safety rule 7:
//   - a 400 naming items drops them (each gets its field errors) and resends
//     the rest;
//   - a 500 (or a 400 naming nobody) is bisected, siblings sent one after
//     the other so that a single bad item never looks like an outage to the
//     breaker; a single item's 500 is that item's own error;
//   - a timeout or dropped response is followed by a read by id before
//     anything is resent: what is there was created, never twice.
//   - auth, the asset cap, a missing account template and an open breaker
//     stop the whole call (global conditions): nothing more is sent.

// globalStop remembers the first global failure of a bulk call.
type globalStop struct {
	mu  sync.Mutex
	err error
}

func (g *globalStop) get() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *globalStop) set(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
}

type bulkItem struct {
	idx       int
	id        string
	name      string
	body      map[string]any
	templates []string // 4.7: accounts created after the host
}

// CreateHosts creates hosts in batches of Config.BatchSize (bulk POST with
// client-chosen ids), running up to Config.Concurrency batches at once. The
// results are at the input's indexes. Items that fail local checks (a bad
// id, a duplicate id or name inside the call…) are reported without being
// sent.
func (c *Client) CreateHosts(ctx context.Context, hosts []HostCreate) []ItemResult {
	res := make([]ItemResult, len(hosts))
	info, err := c.startedInfo()
	if err != nil {
		for i, h := range hosts {
			res[i] = failed(strings.ToLower(h.ID), err)
		}
		return res
	}
	ids, names := map[string]int{}, map[string]int{}
	var items []*bulkItem
	for i, h := range hosts {
		id := strings.ToLower(h.ID)
		res[i].ID = id
		body, err := createBody(h, info.Version)
		if err != nil {
			res[i] = failed(id, err)
			continue
		}
		name := strings.ToLower(body["name"].(string)) // MySQL compares names case-insensitively
		if j, dup := ids[id]; dup {
			res[i] = failed(id, itemErr(KindValidation, "", map[string][]string{"id": {fmt.Sprintf("duplicate of item %d", j)}}))
			continue
		}
		if j, dup := names[name]; dup {
			res[i] = failed(id, itemErr(KindConflict, "", map[string][]string{"name": {fmt.Sprintf("duplicate of item %d", j)}}))
			continue
		}
		ids[id], names[name] = i, i
		it := &bulkItem{idx: i, id: id, name: body["name"].(string), body: body}
		if info.Version == V47 {
			it.templates = h.AccountTemplateIDs
		}
		items = append(items, it)
	}
	c.runBatches(ctx, items, func(batch []*bulkItem, g *globalStop) { c.bisect(ctx, batch, res, g, c.createGroup) })
	return res
}

// PatchHosts updates hosts with bulk PATCH (ids in the items), in batches,
// with the same rules as CreateHosts. A PATCH sets absolute values, so a
// batch whose response was lost is simply resent.
func (c *Client) PatchHosts(ctx context.Context, patches []HostPatch) []ItemResult {
	res := make([]ItemResult, len(patches))
	v := c.version()
	seen := map[string]int{}
	var items []*bulkItem
	for i, p := range patches {
		id := strings.ToLower(p.ID)
		res[i].ID = id
		if p.empty() {
			res[i].Status = ItemUnchanged
			continue
		}
		body, err := patchBody(p, v)
		if err != nil {
			res[i] = failed(id, err)
			continue
		}
		if j, dup := seen[id]; dup {
			res[i] = failed(id, &Error{Kind: KindValidation, Method: http.MethodPatch, Path: hostsPath,
				Fields: map[string][]string{"id": {fmt.Sprintf("duplicate of item %d", j)}}})
			continue
		}
		seen[id] = i
		items = append(items, &bulkItem{idx: i, id: id, body: body})
	}
	c.runBatches(ctx, items, func(batch []*bulkItem, g *globalStop) { c.bisect(ctx, batch, res, g, c.patchGroup) })
	return res
}

// minSplit is the smallest batch batchSize cuts to spread items over the
// workers: below it a request's fixed cost outweighs the parallelism.
const minSplit = 25

// batchSize spreads n items evenly over rounds of the workers: JumpServer
// spends time per item, so 9,779 creates on 8 workers with batches of at
// most 1000 finish in two rounds of 612 rather than eight requests of 1000
// and two stragglers of 890 that double the wall time.
func batchSize(n, limit, workers int) int {
	if limit <= 0 {
		return 1
	}
	if n <= 0 {
		return limit
	}
	workers = max(1, workers)
	rounds := (n + workers*limit - 1) / (workers * limit)
	size := (n + workers*rounds - 1) / (workers * rounds)
	return min(limit, max(size, min(minSplit, limit)))
}

// runBatches cuts items into batches and runs them, Concurrency at a time.
func (c *Client) runBatches(ctx context.Context, items []*bulkItem, run func([]*bulkItem, *globalStop)) {
	g := &globalStop{}
	var batches [][]*bulkItem
	size := batchSize(len(items), c.cfg.BatchSize, c.cfg.Concurrency)
	for start := 0; start < len(items); start += size {
		batches = append(batches, items[start:min(len(items), start+size)])
	}
	work := make(chan []*bulkItem)
	var wg sync.WaitGroup
	for range min(c.cfg.Concurrency, len(batches)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				run(b, g)
			}
		}()
	}
	for _, b := range batches {
		work <- b
	}
	close(work)
	wg.Wait()
}

// groupFunc sends one group and resolves what it can; it returns the items
// that must be bisected (a 500, or a 400 that names no item).
type groupFunc func(ctx context.Context, pending []*bulkItem, res []ItemResult, g *globalStop) []*bulkItem

// bisect runs a batch level by level: every group of a level is sent before
// any half of the next, so that siblings' successes keep the breaker's
// consecutive-failure count low when one item is bad.
func (c *Client) bisect(ctx context.Context, batch []*bulkItem, res []ItemResult, g *globalStop, send groupFunc) {
	level := [][]*bulkItem{batch}
	for len(level) > 0 {
		var next [][]*bulkItem
		for _, grp := range level {
			back := send(ctx, grp, res, g)
			if len(back) > 1 {
				mid := len(back) / 2
				next = append(next, back[:mid], back[mid:])
			}
		}
		level = next
	}
}

func failAll(items []*bulkItem, res []ItemResult, err error) {
	for _, it := range items {
		res[it.idx] = failed(it.id, err)
	}
}

func bodies(items []*bulkItem) []map[string]any {
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i] = it.body
	}
	return out
}

func itemIDs(items []*bulkItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.id
	}
	return out
}

// perItemErrors reads a bulk 400 body: an array with one entry per item,
// {} for the items that passed. It reports false when the body is not that.
func perItemErrors(raw any, n int) ([]any, bool) {
	list, ok := raw.([]any)
	if !ok || len(list) != n {
		return nil, false
	}
	for _, it := range list {
		switch it.(type) {
		case map[string]any, []any:
		default:
			return nil, false
		}
	}
	return list, true
}

func isEmptyItem(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// isCapBody: the asset cap is a view-level check answering 400
// {"error":"…"} on a create (spec §4.1); field errors never look like that.
func isCapBody(raw any) bool {
	m, ok := raw.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	_, ok = m["error"].(string)
	return ok
}

// CapLimit is the asset cap JumpServer's refusal names ("The number of
// assets exceeds the limit of 5000": the last number of its message), so
// a report shows the cap the server enforced rather than the configured
// one. ok is false when err is not a cap refusal or names no number.
func CapLimit(err error) (limit int, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindCap {
		return 0, false
	}
	msg := e.Message
	end := strings.LastIndexFunc(msg, unicode.IsDigit)
	if end < 0 {
		return 0, false
	}
	start := strings.LastIndexFunc(msg[:end+1], func(r rune) bool { return !unicode.IsDigit(r) }) + 1
	n, cerr := strconv.Atoi(msg[start : end+1])
	if cerr != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

func capError(e *Error) *Error {
	return &Error{Kind: KindCap, Status: e.Status, Method: e.Method, Path: e.Path, Message: e.Message, Err: ErrCap}
}

// globalFailure reports whether e stops the whole bulk call.
func globalFailure(e *Error) bool {
	return e.Kind == KindAuth || e.Kind == KindConfig || errors.Is(e, ErrBreakerOpen)
}

func (c *Client) createGroup(ctx context.Context, pending []*bulkItem, res []ItemResult, g *globalStop) []*bulkItem {
	unknown := 0
	for len(pending) > 0 {
		if err := g.get(); err != nil {
			failAll(pending, res, err)
			return nil
		}
		var created []Host
		_, err := c.do(ctx, call{method: http.MethodPost, path: hostsPath, body: bodies(pending)}, &created)
		if err == nil {
			c.markCreated(ctx, pending, created, res)
			return nil
		}
		var e *Error
		if !errors.As(err, &e) { // the caller's context ended
			failAll(pending, res, err)
			return nil
		}
		switch {
		case globalFailure(e):
			g.set(e)
			failAll(pending, res, e)
			return nil
		case e.Kind == KindValidation && isCapBody(e.raw):
			ce := capError(e)
			g.set(ce)
			failAll(pending, res, ce)
			return nil
		case e.Kind == KindValidation:
			list, ok := perItemErrors(e.raw, len(pending))
			if !ok {
				return bisectOrFail(pending, res, e)
			}
			var keep, exists []*bulkItem
			for i, it := range pending {
				if isEmptyItem(list[i]) {
					keep = append(keep, it)
					continue
				}
				fields := flattenFields(list[i])
				if _, taken := fields["id"]; taken {
					exists = append(exists, it)
					continue
				}
				res[it.idx] = failed(it.id, &Error{Kind: KindValidation, Status: e.Status, Method: e.Method,
					Path: e.Path, Fields: fields})
			}
			c.markExisting(ctx, exists, res)
			if len(keep) == len(pending) { // nobody named: find the culprit
				return bisectOrFail(pending, res, e)
			}
			pending = keep
		case e.Kind == KindNotFound:
			// an unknown account template (the lookup is not guarded): global
			for _, it := range pending {
				if _, has := it.body["accounts"]; has {
					c.forgetTemplates()
					te := &Error{Kind: KindNotFound, Status: e.Status, Method: e.Method, Path: e.Path,
						Message: e.Message, Err: ErrTemplateNotFound}
					g.set(te)
					failAll(pending, res, te)
					return nil
				}
			}
			return bisectOrFail(pending, res, e)
		case e.Kind == KindInternal:
			if len(pending) == 1 {
				c.resolveSingle(ctx, pending[0], e, res)
				return nil
			}
			return pending
		case e.Kind == KindUnavailable && unknown < c.cfg.Retries+1:
			// a timeout, a dropped connection, a 502/503/504: the outcome is
			// unknown (a 504 may have committed). Read by id before resending.
			unknown++
			found, rerr := c.GetHosts(ctx, itemIDs(pending))
			if rerr != nil {
				failAll(pending, res, e)
				return nil
			}
			var missing []*bulkItem
			var hosts []Host
			for _, it := range pending {
				if h, ok := found[it.id]; ok {
					hosts = append(hosts, *h)
				} else {
					missing = append(missing, it)
				}
			}
			if len(hosts) > 0 {
				c.markCreated(ctx, without(pending, missing), hosts, res)
			}
			pending = missing
			if len(pending) > 0 {
				if err := sleepCtx(ctx, c.cfg.RetryBackoff); err != nil {
					failAll(pending, res, err)
					return nil
				}
			}
		default: // throttled after waiting, unavailable, exhausted retries
			failAll(pending, res, e)
			return nil
		}
	}
	return nil
}

// without returns items not in drop.
func without(items, drop []*bulkItem) []*bulkItem {
	skip := map[*bulkItem]bool{}
	for _, d := range drop {
		skip[d] = true
	}
	var out []*bulkItem
	for _, it := range items {
		if !skip[it] {
			out = append(out, it)
		}
	}
	return out
}

func bisectOrFail(pending []*bulkItem, res []ItemResult, e *Error) []*bulkItem {
	if len(pending) == 1 {
		it := pending[0]
		res[it.idx] = failed(it.id, e)
		return nil
	}
	return pending
}

// markCreated records created hosts (matched by id), then creates the 4.7
// accounts. An item the answer lacks is looked up by id.
func (c *Client) markCreated(ctx context.Context, items []*bulkItem, hosts []Host, res []ItemResult) {
	if len(items) == 0 {
		return
	}
	byID := make(map[string]*Host, len(hosts))
	for i := range hosts {
		byID[strings.ToLower(hosts[i].ID)] = &hosts[i]
	}
	var lost []*bulkItem
	for _, it := range items {
		if h, ok := byID[it.id]; ok {
			res[it.idx] = ItemResult{ID: it.id, Status: ItemCreated, Host: h}
		} else {
			lost = append(lost, it)
		}
	}
	if len(lost) > 0 {
		found, err := c.GetHosts(ctx, itemIDs(lost))
		for _, it := range lost {
			if h, ok := found[it.id]; ok {
				res[it.idx] = ItemResult{ID: it.id, Status: ItemCreated, Host: h}
			} else if err != nil {
				res[it.idx] = failed(it.id, err)
			} else {
				res[it.idx] = failed(it.id, itemErr(KindInternal, "created, but absent from the answer and from a read by id", nil))
			}
		}
	}
	for _, it := range items {
		if len(it.templates) > 0 && res[it.idx].Status == ItemCreated {
			res[it.idx].AccountsErr = c.EnsureAccounts(ctx, it.id, it.templates)
		}
	}
}

// markExisting records items whose id was taken, with the asset read back.
func (c *Client) markExisting(ctx context.Context, items []*bulkItem, res []ItemResult) {
	if len(items) == 0 {
		return
	}
	found, _ := c.GetHosts(ctx, itemIDs(items)) // best effort: the caller reads it anyway
	for _, it := range items {
		res[it.idx] = ItemResult{ID: it.id, Status: ItemAlreadyExists, Host: found[it.id],
			Err: &Error{Kind: KindConflict, Status: http.StatusBadRequest, Method: http.MethodPost, Path: hostsPath,
				Message: "id " + it.id + " is taken", Err: ErrAlreadyExists}}
	}
}

// resolveSingle explains one item's 500: it may have been created after
// all, or its name may be held by an asset of another type (the validator
// only checks hosts; the database then fails the insert).
func (c *Client) resolveSingle(ctx context.Context, it *bulkItem, e *Error, res []ItemResult) {
	if found, err := c.GetHosts(ctx, []string{it.id}); err == nil {
		if h, ok := found[it.id]; ok {
			res[it.idx] = ItemResult{ID: it.id, Status: ItemCreated, Host: h}
			return
		}
	}
	var holder *Host
	_, err := c.ListAssets(ctx, ListOptions{Name: it.name, Fields: []string{"id", "name", "category"}}, func(hs []Host) error {
		for i := range hs {
			if !strings.EqualFold(hs[i].ID, it.id) && holder == nil {
				holder = &hs[i]
			}
		}
		return nil
	})
	if err == nil && holder != nil {
		res[it.idx] = failed(it.id, &Error{Kind: KindConflict, Status: e.Status, Method: e.Method, Path: e.Path,
			Fields: map[string][]string{"name": {fmt.Sprintf("%q is held by %s asset %s", it.name, holder.Category, holder.ID)}}})
		return
	}
	res[it.idx] = failed(it.id, e)
}

func (c *Client) patchGroup(ctx context.Context, pending []*bulkItem, res []ItemResult, g *globalStop) []*bulkItem {
	tries := 0
	for len(pending) > 0 {
		if err := g.get(); err != nil {
			failAll(pending, res, err)
			return nil
		}
		var updated []Host
		_, err := c.do(ctx, call{method: http.MethodPatch, path: hostsPath, body: bodies(pending)}, &updated)
		if err == nil {
			byID := make(map[string]*Host, len(updated))
			for i := range updated {
				byID[strings.ToLower(updated[i].ID)] = &updated[i]
			}
			for _, it := range pending {
				res[it.idx] = ItemResult{ID: it.id, Status: ItemUpdated, Host: byID[it.id]}
			}
			return nil
		}
		var e *Error
		if !errors.As(err, &e) {
			failAll(pending, res, err)
			return nil
		}
		switch {
		case globalFailure(e):
			g.set(e)
			failAll(pending, res, e)
			return nil
		case e.Kind == KindValidation:
			list, ok := perItemErrors(e.raw, len(pending))
			if !ok {
				return bisectOrFail(pending, res, e)
			}
			var keep []*bulkItem
			for i, it := range pending {
				switch x := list[i].(type) {
				case map[string]any:
					if len(x) == 0 {
						keep = append(keep, it)
						continue
					}
					res[it.idx] = failed(it.id, &Error{Kind: KindValidation, Status: e.Status, Method: e.Method,
						Path: e.Path, Fields: flattenFields(x)})
				case []any:
					if len(x) == 0 {
						keep = append(keep, it)
						continue
					}
					// ["Host matching query does not exist."]: we always send ids
					res[it.idx] = failed(it.id, &Error{Kind: KindNotFound, Status: e.Status, Method: e.Method,
						Path: e.Path, Message: detailOf(x)})
				}
			}
			if len(keep) == len(pending) {
				return bisectOrFail(pending, res, e)
			}
			pending = keep
		case e.Kind == KindInternal, e.Kind == KindNotFound:
			return bisectOrFail(pending, res, e)
		case e.Kind == KindUnavailable && tries < c.cfg.Retries:
			tries++
			if err := sleepCtx(ctx, c.cfg.RetryBackoff); err != nil {
				failAll(pending, res, err)
				return nil
			}
		default:
			failAll(pending, res, e)
			return nil
		}
	}
	return nil
}
