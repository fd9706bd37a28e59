package applier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/natsx"
)

// kvParallel bounds concurrent KV and publish round trips of one batch.
const kvParallel = 16

type action int

const (
	actNone   action = iota
	actDelete        // DELETE the host
	actGone          // a delete whose host is already gone (an earlier attempt)
	actPatch         // PATCH owned fields (possibly nothing to change)
	actCreate        // POST with the deterministic id
	actMark          // mirror only (orphan)
)

// item is one intent of a batch.
type item struct {
	msg     jetstream.Msg
	md      *jetstream.MsgMetadata
	in      *events.Intent
	key     string
	base    *zerolog.Logger // the applier's; see logger
	logOnce sync.Once
	log     zerolog.Logger
	st      settled

	lockRev uint64
	entry   *mirror.Entry // the mirror entry before, nil if none
	rev     uint64        // its revision (0: none)
	assetID string

	host   *jumpserver.Host // the asset before the write, nil if absent
	act    action
	patch  jumpserver.HostPatch
	create jumpserver.HostCreate

	nodeID      string // our node for this apply (resolved from the desired node path)
	setInactive bool   // this intent made the asset inactive
	renamed     bool

	// results
	done       bool             // written (or nothing to write): finish it
	after      *jumpserver.Host // the asset after the write
	factOp     events.AppliedOp
	republish  bool // the mirror already holds this generation: publish its fact again
	superseded bool
}

// logger is the item's logger, made when first used: a batch holds
// thousands of items and logs about few of them, and a logger per item
// made up front held megabytes.
func (it *item) logger() *zerolog.Logger {
	it.logOnce.Do(func() {
		c := it.base.With().Str("subject", it.msg.Subject())
		if it.md != nil {
			c = c.Uint64("stream_seq", it.md.Sequence.Stream).Uint64("deliveries", it.md.NumDelivered)
		}
		if it.in != nil {
			c = c.Str("asset_key", it.key).Str("op", string(it.in.Op)).Uint64("generation", it.in.Generation)
		}
		it.log = c.Logger()
	})
	return &it.log
}

func (it *item) opName() string {
	if it.in == nil {
		return "unknown"
	}
	return string(it.in.Op)
}

func (it *item) pending() bool { return !it.st.isDone() }

func live(items []*item) []*item {
	var out []*item
	for _, it := range items {
		if it.pending() {
			out = append(out, it)
		}
	}
	return out
}

// handle applies one fetched batch. It returns errAbandoned when a test hook
// simulated a crash (nothing more is settled or unlocked).
func (a *Applier) handle(ctx context.Context, msgs []jetstream.Msg) error {
	a.workMu.RLock()
	defer a.workMu.RUnlock()

	items := a.decode(ctx, msgs)
	if len(items) == 0 {
		return nil
	}

	abandoned := false
	a.lock(ctx, items)
	// The heartbeat starts once the locks are taken and stops before they
	// are released: it renews them (it.lockRev is its own meanwhile).
	stop := a.heartbeat(items)
	defer func() {
		stop()
		if !abandoned {
			a.unlock(items)
		}
	}()
	hook := func(h func() error) bool {
		if h != nil && h() != nil {
			abandoned = true
		}
		return abandoned
	}

	a.readMirror(ctx, live(items))
	a.readHosts(ctx, live(items))
	a.plan(ctx, live(items))

	if hook(a.hooks.beforeWrite) {
		return errAbandoned
	}
	a.deletes(ctx, live(items))
	// Patches and creates touch disjoint items and share the client's
	// worker pool: sending them side by side saves a round of requests.
	// The patch list is taken first: a create that finds its asset
	// existing turns into a patch of its own meanwhile.
	var toPatch []*item
	pending := live(items)
	for _, it := range pending {
		if it.act == actPatch {
			toPatch = append(toPatch, it)
		}
	}
	var writes sync.WaitGroup
	writes.Go(func() { a.patches(ctx, toPatch) })
	a.creates(ctx, pending)
	writes.Wait()
	a.readBack(ctx, live(items))
	if hook(a.hooks.afterWrite) {
		return errAbandoned
	}

	toFinish := live(items)
	parallel(kvParallel, toFinish, func(it *item) { a.writeMirror(ctx, it) })
	if hook(a.hooks.afterMirror) {
		return errAbandoned
	}
	var published []*item
	for _, it := range live(items) {
		if it.done || it.republish {
			published = append(published, it)
		}
	}
	a.publishFacts(ctx, published)
	if hook(a.hooks.afterFact) {
		return errAbandoned
	}
	parallel(kvParallel, live(items), func(it *item) {
		switch {
		case it.republish && !it.done:
			a.ack(ctx, it, "republished")
		case it.done:
			a.ack(ctx, it, string(it.factOp))
		default: // nothing decided it: a bug; let it come back
			a.retry(ctx, it, backoff(it.md.NumDelivered), errors.New("no outcome"), "retry")
		}
	})
	return nil
}

// heartbeat keeps the batch's messages from being redelivered (every
// AckWait/3) and its per-asset locks from expiring (every LockTTL/3) while
// it runs: a batch slowed by JumpServer must not lose its locks to another
// applier halfway through its writes.
func (a *Applier) heartbeat(items []*item) (stop func()) {
	ackEvery, lockEvery := a.cfg.AckWait/3, a.cfg.LockTTL/3
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		acks, locks := time.NewTicker(ackEvery), time.NewTicker(lockEvery)
		defer acks.Stop()
		defer locks.Stop()
		for {
			select {
			case <-done:
				return
			case <-acks.C:
				for _, it := range items {
					if it.pending() {
						_ = it.msg.InProgress()
					}
				}
			case <-locks.C:
				a.renewLocks(items)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// decode reads every message; bad input is dead-lettered, and of several
// intents of one asset only the newest generation is kept (the others are
// acked as superseded: the newest carries the outcome).
func (a *Applier) decode(ctx context.Context, msgs []jetstream.Msg) []*item {
	byKey := map[string]*item{}
	var out []*item
	for _, msg := range msgs {
		md, err := msg.Metadata()
		if err != nil {
			a.log.Error().Err(err).Str("subject", msg.Subject()).Msg("message without metadata")
			continue
		}
		it := &item{msg: msg, md: md, base: &a.log}
		in, err := events.DecodeAs[*events.Intent](msg.Data())
		if err != nil {
			reason := ReasonInvalid
			switch {
			case errors.Is(err, events.ErrMalformed):
				reason = ReasonMalformed
			case errors.Is(err, events.ErrUnknownSchema):
				reason = ReasonUnknownSchema
			}
			a.poison(ctx, it, reason, err)
			continue
		}
		it.in, it.key = in, in.Identity.Key()
		it.assetID = in.AssetID.String()
		if in.Op == events.OpCreate {
			if want := in.Identity.AssetID(a.cfg.InstallID, a.client.Info().Org.ID); want != in.AssetID {
				a.poison(ctx, it, ReasonAssetIDMismatch, fmt.Errorf("asset id %s is not %s, the id of %s for install %q and org %s",
					in.AssetID, want, in.Identity, a.cfg.InstallID, a.client.Info().Org.ID))
				continue
			}
		}
		if prev, ok := byKey[it.key]; ok {
			older := it
			if in.Generation > prev.in.Generation {
				older, byKey[it.key] = prev, it
				out[slices.Index(out, prev)] = it
			}
			older.superseded = true
			a.ack(ctx, older, "superseded")
			continue
		}
		byKey[it.key] = it
		out = append(out, it)
	}
	return out
}

// lockValue is the value of a per-asset lock. Expiry rests on Expires and
// compare-and-set, never on the key's TTL timing (the TTL only cleans up).
type lockValue struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// lockRecord is this applier's lock value, valid a LockTTL from now.
func (a *Applier) lockRecord(now time.Time) []byte {
	b, _ := json.Marshal(lockValue{Owner: a.instance, Expires: now.Add(a.cfg.LockTTL)})
	return b
}

// lock takes every item's per-asset lock; an item locked by another live
// applier is retried shortly (never dead-lettered). A lock past its Expires
// (its applier died) is taken over by compare-and-set.
func (a *Applier) lock(ctx context.Context, items []*item) {
	parallel(kvParallel, items, func(it *item) {
		key := lockPrefix + it.key
		now := a.now().UTC()
		b := a.lockRecord(now)
		rev, err := a.stateKV.Create(ctx, key, b, jetstream.KeyTTL(a.cfg.LockTTL+time.Minute))
		if errors.Is(err, jetstream.ErrKeyExists) {
			var cur jetstream.KeyValueEntry
			if cur, err = a.stateKV.Get(ctx, key); err == nil {
				var v lockValue
				if json.Unmarshal(cur.Value(), &v) != nil || !now.Before(v.Expires) {
					rev, err = a.stateKV.Update(ctx, key, b, cur.Revision())
				} else {
					err = jetstream.ErrKeyExists
				}
			} else if errors.Is(err, jetstream.ErrKeyNotFound) {
				rev, err = a.stateKV.Create(ctx, key, b, jetstream.KeyTTL(a.cfg.LockTTL+time.Minute))
			}
		}
		switch {
		case err == nil:
			it.lockRev = rev
		case errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err):
			a.retry(ctx, it, time.Second, errors.New("asset locked by another applier"), "locked")
		default:
			a.fail(ctx, it, fmt.Errorf("lock %s: %w", it.key, err))
		}
	})
}

// renewLocks moves the Expires of every pending item's lock a LockTTL
// ahead, by compare-and-set on the revision the batch holds. A lock that
// cannot be renewed (taken over, or gone) is no longer the batch's: it is
// not released at the end either, and the mirror's compare-and-set still
// keeps an older write from overwriting a newer one.
func (a *Applier) renewLocks(items []*item) {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.LockTTL/3)
	defer cancel()
	var held []*item
	for _, it := range items {
		if it.lockRev != 0 && it.pending() {
			held = append(held, it)
		}
	}
	b := a.lockRecord(a.now().UTC())
	parallel(kvParallel, held, func(it *item) {
		rev, err := a.stateKV.Update(ctx, lockPrefix+it.key, b, it.lockRev)
		if err != nil {
			if isWrongSequence(err) {
				it.lockRev = 0
			}
			it.logger().Warn().Err(err).Msg("per-asset lock not renewed")
			return
		}
		it.lockRev = rev
	})
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func (a *Applier) unlock(items []*item) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var held []*item
	for _, it := range items {
		if it.lockRev != 0 {
			held = append(held, it)
		}
	}
	parallel(kvParallel, held, func(it *item) {
		err := a.stateKV.Purge(ctx, lockPrefix+it.key, jetstream.LastRevision(it.lockRev), jetstream.PurgeTTL(a.cfg.LockTTL))
		if err != nil {
			it.logger().Warn().Err(err).Msg("unlock failed; the lock expires after its TTL")
		}
	})
}

// readMirror reads every item's mirror entry and drops stale intents.
func (a *Applier) readMirror(ctx context.Context, items []*item) {
	parallel(kvParallel, items, func(it *item) {
		e, rev, err := a.mirror.Get(ctx, it.in.Identity)
		switch {
		case errors.Is(err, mirror.ErrNotFound):
			return
		case err != nil:
			a.fail(ctx, it, err)
			return
		}
		it.entry, it.rev = e, rev
		switch {
		case e.Generation > it.in.Generation:
			a.ack(ctx, it, "stale") // a newer intent was applied: no write, no fact
		case e.Generation == it.in.Generation:
			it.republish = true // applied before a crash: the fact again, then ack
		default:
			if e.AssetID != uuid.Nil && it.in.Op != events.OpCreate && it.in.Op != events.OpAdopt {
				it.assetID = e.AssetID.String()
			}
			if it.in.Op == events.OpCreate && !e.Deleted && e.AssetID != uuid.Nil && e.AssetID != it.in.AssetID {
				it.in.AssetID, it.assetID = e.AssetID, e.AssetID.String() // adopted meanwhile: converge that asset
			}
		}
	})
}

// readHosts reads the current assets of every item that touches an existing
// asset (creates of an asset the mirror does not know rely on the id).
func (a *Applier) readHosts(ctx context.Context, items []*item) {
	var need []*item
	var ids []string
	for _, it := range items {
		if it.republish {
			continue
		}
		if it.in.Op == events.OpCreate && (it.entry == nil || it.entry.Deleted) {
			continue
		}
		need = append(need, it)
		ids = append(ids, it.assetID)
	}
	if len(need) == 0 {
		return
	}
	found, err := a.getHosts(ctx, ids)
	if err != nil {
		for _, it := range need {
			a.fail(ctx, it, fmt.Errorf("read assets: %w", err))
		}
		return
	}
	for _, it := range need {
		it.host = found[strings.ToLower(it.assetID)]
	}
}

// getHosts reads assets by id, chunks of 50 ids (the client's ?ids= size)
// Concurrency at a time.
func (a *Applier) getHosts(ctx context.Context, ids []string) (map[string]*jumpserver.Host, error) {
	const chunk = 50
	var chunks [][]string
	for i := 0; i < len(ids); i += chunk {
		chunks = append(chunks, ids[i:min(len(ids), i+chunk)])
	}
	out := make(map[string]*jumpserver.Host, len(ids))
	var mu sync.Mutex
	var firstErr error
	parallel(a.cfg.JumpServer.Concurrency, chunks, func(c []string) {
		found, err := a.client.GetHosts(ctx, c)
		mu.Lock()
		defer mu.Unlock()
		for k, v := range found {
			out[k] = v
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	})
	return out, firstErr
}

func (a *Applier) owned(h *jumpserver.Host) bool { return h.HasLabel(LabelPrefix, a.cfg.InstallID) }

// plan decides each item's write and resolves the names it needs.
func (a *Applier) plan(ctx context.Context, items []*item) {
	for _, it := range items {
		if it.republish {
			continue
		}
		in := it.in
		switch in.Op {
		case events.OpDelete:
			switch {
			case it.host == nil && it.entry != nil:
				it.act = actGone
			case it.host == nil:
				a.ack(ctx, it, "absent") // never known, not there: nothing to do
			case !a.owned(it.host):
				a.poison(ctx, it, ReasonNotOwned, a.notOwned(it))
			default:
				it.act = actDelete
			}
		case events.OpOrphan:
			switch {
			case it.host == nil:
				a.missing(ctx, it)
			case !a.owned(it.host):
				a.poison(ctx, it, ReasonNotOwned, a.notOwned(it))
			default:
				it.act = actMark
			}
		case events.OpCreate:
			if it.host != nil {
				if !a.owned(it.host) {
					a.poison(ctx, it, ReasonNotOwned, a.notOwned(it))
					continue
				}
				a.planPatch(ctx, it) // the asset exists: converge it, never create twice
				continue
			}
			a.planCreate(ctx, it)
		default: // update, activate, deactivate, adopt
			switch {
			case it.host == nil:
				a.missing(ctx, it)
			case in.Op == events.OpAdopt && a.adoptRefused(ctx, it):
			case in.Op != events.OpAdopt && !a.owned(it.host):
				a.poison(ctx, it, ReasonNotOwned, a.notOwned(it))
			default:
				a.planPatch(ctx, it)
			}
		}
	}
}

func (a *Applier) notOwned(it *item) error {
	return fmt.Errorf("asset %s does not carry the label %s:%s; jms-sync never touches it", it.assetID, LabelPrefix, a.cfg.InstallID)
}

// missing ends an intent whose asset was deleted by hand: the mirror entry
// becomes a tombstone (so the reconciler re-creates it), the intent a dead
// letter "asset_missing".
//
// With no mirror entry at all, the asset may be on its way (its create is
// being applied by another applier): the intent is retried a few times
// before it is dead-lettered.
func (a *Applier) missing(ctx context.Context, it *item) {
	if it.entry == nil && it.md.NumDelivered < missingAttempts {
		a.retry(ctx, it, backoff(it.md.NumDelivered), fmt.Errorf("asset %s not found (yet)", it.assetID), "retry")
		return
	}
	if it.entry != nil && !it.entry.Deleted {
		e := *it.entry
		e.Deleted, e.UpdatedAt = true, a.now().UTC()
		if _, err := a.mirror.Put(ctx, &e, it.rev); err != nil && !errors.Is(err, mirror.ErrConflict) {
			a.fail(ctx, it, err)
			return
		}
	}
	a.poison(ctx, it, ReasonAssetMissing, fmt.Errorf("asset %s no longer exists in JumpServer (deleted by hand?)", it.assetID))
}

// missingAttempts bounds the deliveries of an intent waiting for its asset.
const missingAttempts = 5

// refs are the JumpServer objects a desired state names.
type refs struct {
	platform jumpserver.Platform
	nodeID   string
	zoneID   string // "" when no zone, or the platform drops it
	zone     string // the zone name JumpServer will keep
	template string // account template id (creates)
}

func (a *Applier) resolve(ctx context.Context, d *events.Desired, create bool) (refs, error) {
	var r refs
	var err error
	if r.platform, err = a.client.Platform(ctx, d.Platform); err != nil {
		return r, err
	}
	path, err := a.nodePath(d.NodePath)
	if err != nil {
		return r, err
	}
	n, err := a.client.EnsureNodePath(ctx, path)
	if err != nil {
		return r, err
	}
	r.nodeID = n.ID
	if r.zone = jumpserver.EffectiveZone(r.platform, d.Zone); r.zone != "" {
		z, err := a.client.Zone(ctx, r.zone)
		if err != nil {
			return r, err
		}
		r.zoneID = z.ID
	}
	if create && d.AccountTemplate != "" {
		t, err := a.client.AccountTemplate(ctx, d.AccountTemplate)
		if err != nil {
			return r, err
		}
		r.template = t.ID
	}
	return r, nil
}

// errBadPath marks a node path that does not start with the org root.
var errBadPath = errors.New("node path")

// nodePath puts the org's root node value into a desired node path. The
// reconciler does not know the root's spelling: its first segment is taken
// as the root when it equals the root's value case-insensitively ("/DEFAULT/…"
// on a "Default" install) or is the placeholder "{root}". Any other first
// segment is refused (JumpServer would create a child of the root).
func (a *Applier) nodePath(p string) (string, error) {
	root := a.client.Info().RootNode.Value
	segs := strings.Split(strings.Trim(strings.TrimSpace(p), "/"), "/")
	if !strings.HasPrefix(strings.TrimSpace(p), "/") || len(segs) == 0 ||
		(segs[0] != "{root}" && !strings.EqualFold(strings.TrimSpace(segs[0]), root)) {
		return "", fmt.Errorf("%w %q does not start with the org root /%s (or /{root})", errBadPath, p, root)
	}
	segs[0] = root
	return "/" + strings.Join(segs, "/"), nil
}

func (a *Applier) resolveFailed(ctx context.Context, it *item, err error) {
	if errors.Is(err, errBadPath) || (jumpserver.KindOf(err) == jumpserver.KindValidation && strings.Contains(err.Error(), "node path")) {
		a.poison(ctx, it, ReasonInvalidNodePath, err)
		return
	}
	a.fail(ctx, it, err)
}

// ours is the desired label set, with the ownership label always in it.
func (a *Applier) ours(d *events.Desired) []events.Label {
	ls := slices.Clone(d.Labels)
	own := events.Label{Name: LabelPrefix, Value: a.cfg.InstallID}
	if !slices.Contains(ls, own) {
		ls = append(ls, own)
	}
	return jumpserver.MergeLabels(nil, ls, "")
}

// planPatch computes the PATCH of owned fields: address, our labels (merged
// with the operator's), membership in our node (other nodes kept), zone (as
// the platform keeps it), platform, and is_active only for deactivate and
// activate intents or when jms-sync itself deactivated the asset. Name,
// protocols, accounts, operator labels, extra nodes and custom ports are
// never sent.
func (a *Applier) planPatch(ctx context.Context, it *item) {
	d, h := it.in.Desired, it.host
	r, err := a.resolve(ctx, d, false)
	if err != nil {
		a.resolveFailed(ctx, it, err)
		return
	}
	p := jumpserver.HostPatch{ID: h.ID}
	if addr := strings.TrimSpace(d.Address); addr != "" && addr != h.Address {
		p.Address = &addr
	}
	if merged := jumpserver.MergeLabels(h.LabelPairs(), a.ours(d), LabelPrefix); !jumpserver.LabelsEqual(merged, h.LabelPairs()) {
		p.Labels = &merged
	}
	it.nodeID = r.nodeID
	var previous []string // the node we put it in before, if it changed
	if it.entry != nil && it.entry.NodeID != "" {
		previous = append(previous, it.entry.NodeID)
	}
	if nodes := jumpserver.MergeNodes(h.NodeIDs(), r.nodeID, previous...); !jumpserver.SameIDs(nodes, h.NodeIDs()) {
		p.NodeIDs = &nodes
	}
	if h.Platform.ID != r.platform.ID {
		id := r.platform.ID
		p.PlatformID = &id
	}
	cur := ""
	if h.Zone != nil {
		cur = h.Zone.Name
	}
	if r.zone != "" && r.zone != cur {
		p.ZoneID = &r.zoneID
	}
	bySync := it.entry != nil && it.entry.DeactivatedBySync
	switch it.in.Op {
	case events.OpDeactivate:
		if h.IsActive {
			f := false
			p.IsActive, it.setInactive = &f, true
		}
	case events.OpActivate:
		if !h.IsActive && bySync {
			t := true
			p.IsActive = &t
		}
	default:
		if bySync && h.IsActive != d.IsActive {
			v := d.IsActive
			p.IsActive, it.setInactive = &v, !v
		}
	}
	it.patch, it.act = p, actPatch
	it.factOp = it.in.Op.Applied()
	if it.in.Op == events.OpCreate {
		it.factOp = events.Updated // it existed already
	}
}

func (a *Applier) planCreate(ctx context.Context, it *item) {
	d := it.in.Desired
	r, err := a.resolve(ctx, d, true)
	if err != nil {
		if errors.Is(err, jumpserver.ErrTemplateNotFound) {
			a.pmu.Lock()
			a.missingTpl[d.AccountTemplate] = true
			a.pmu.Unlock()
		}
		a.resolveFailed(ctx, it, err)
		return
	}
	active := d.IsActive
	it.create = jumpserver.HostCreate{
		ID: it.assetID, Name: d.Name, Address: d.Address, PlatformID: r.platform.ID,
		Protocols: slices.Clone(d.Protocols), NodeIDs: []string{r.nodeID}, Labels: a.ours(d),
		ZoneID: r.zoneID, Comment: d.Comment, IsActive: &active,
	}
	if r.template != "" {
		it.create.AccountTemplateIDs = []string{r.template}
	}
	it.nodeID = r.nodeID
	it.setInactive = !active
	it.act, it.factOp = actCreate, events.Created
}

// deletes run first (they make room under the cap), Concurrency at a time.
func (a *Applier) deletes(ctx context.Context, items []*item) {
	var del []*item
	for _, it := range items {
		switch it.act {
		case actGone:
			it.done, it.factOp = true, events.Deleted
		case actDelete:
			del = append(del, it)
		case actMark:
			it.done, it.after, it.factOp = true, it.host, events.Orphaned
		}
	}
	parallel(a.cfg.JumpServer.Concurrency, del, func(it *item) {
		if _, err := a.client.DeleteHost(ctx, it.assetID); err != nil {
			a.fail(ctx, it, err)
			return
		}
		a.names.remove(it.host.Name, it.assetID)
		it.done, it.factOp = true, events.Deleted
	})
}

// patches sends every non-empty PATCH in bulk.
func (a *Applier) patches(ctx context.Context, items []*item) {
	var todo []*item
	var ps []jumpserver.HostPatch
	for _, it := range items {
		if it.act != actPatch {
			continue
		}
		todo = append(todo, it)
		ps = append(ps, it.patch)
	}
	a.sendPatches(ctx, todo, ps)
}

func (a *Applier) sendPatches(ctx context.Context, todo []*item, ps []jumpserver.HostPatch) {
	if len(todo) == 0 {
		return
	}
	res := a.client.PatchHosts(ctx, ps)
	for i, r := range res {
		it := todo[i]
		switch r.Status {
		case jumpserver.ItemUnchanged:
			it.done, it.after = true, it.host
		case jumpserver.ItemUpdated:
			it.done, it.after = true, r.Host
		default:
			if jumpserver.KindOf(r.Err) == jumpserver.KindNotFound && it.in.Op != events.OpCreate {
				a.missing(ctx, it)
				continue
			}
			a.fail(ctx, it, r.Err)
		}
	}
}

// creates fits the creates to the room under the cap, names them (free
// across every asset of the org and within the batch) and sends them in
// bulk. A create whose id is taken reads the asset: ours (an earlier
// attempt) is converged, never created twice; anything else is not touched.
func (a *Applier) creates(ctx context.Context, items []*item) {
	var todo []*item
	for _, it := range items {
		if it.act == actCreate {
			todo = append(todo, it)
		}
	}
	if len(todo) == 0 {
		return
	}
	var cleared *jumpserver.AssetCount // the count to report when the cap clears
	if a.cfg.JumpServer.Licensed {
		a.setCap(ctx, false, jumpserver.AssetCount{Cap: -1})
	} else {
		// Batches run side by side: the count and the creates fitted to it
		// must not interleave with another batch's, or both fill the room.
		a.capMu.Lock()
		defer a.capMu.Unlock()
		n, err := a.client.CountAllAssets(ctx)
		if err != nil {
			for _, it := range todo {
				a.fail(ctx, it, fmt.Errorf("count assets: %w", err))
			}
			return
		}
		room := n.Room()
		if room >= 0 && room < len(todo) {
			wait := todo[room:]
			todo = todo[:room]
			a.setCap(ctx, true, n)
			for _, it := range wait {
				a.retry(ctx, it, a.cfg.CapRetry, fmt.Errorf("no room under the asset cap (%d of %d)", n.Count, n.Cap), "cap")
			}
		} else {
			// The count leaves room. If JumpServer refused creates before,
			// the cap clears once one goes through (sendCreates), not on a
			// count that may miss what the server counts (another cap,
			// other orgs), which would alert cleared-reached on every retry.
			cleared = &n
		}
	}
	if !a.sendCreates(ctx, todo, false) && cleared != nil {
		a.setCap(ctx, false, *cleared)
	}
}

// sendCreates creates todo in bulk; it reports whether JumpServer refused
// any at its asset cap (then flagged with the cap it named: capRefused).
func (a *Applier) sendCreates(ctx context.Context, todo []*item, second bool) (capRefused bool) {
	taken := map[string]bool{}
	var send []*item
	var hcs []jumpserver.HostCreate
	for _, it := range todo {
		name := a.names.pick(it.in.Desired.Name, it.in.Identity, it.assetID, taken)
		if name != it.in.Desired.Name && a.legacyTwin(ctx, it) {
			continue
		}
		if name == "" {
			a.poison(ctx, it, ReasonNameConflict, fmt.Errorf("no free name for %q", it.in.Desired.Name))
			continue
		}
		if name != it.in.Desired.Name {
			it.logger().Info().Str("wanted", it.in.Desired.Name).Str("name", name).Msg("name taken; suffixed")
		}
		it.create.Name = name
		send = append(send, it)
		hcs = append(hcs, it.create)
	}
	if len(send) == 0 {
		return false
	}
	res := a.client.CreateHosts(ctx, hcs)
	var again, converge []*item
	for i, r := range res {
		it := send[i]
		switch r.Status {
		case jumpserver.ItemCreated:
			if r.AccountsErr != nil { // 4.7: the host exists, its accounts not yet
				a.fail(ctx, it, r.AccountsErr)
				continue
			}
			it.done, it.after = true, r.Host
			a.names.add(it.create.Name, it.assetID)
		case jumpserver.ItemAlreadyExists:
			converge = append(converge, it)
			it.host = r.Host
		default:
			if isNameClash(r.Err) && !second {
				it.logger().Warn().Err(r.Err).Str("reason", ReasonNameConflict).Msg("name held by another asset; retrying with a suffix")
				a.names.add(it.create.Name, "!held")
				it.renamed = true
				again = append(again, it)
				continue
			}
			if errors.Is(r.Err, jumpserver.ErrCap) && !capRefused {
				capRefused = true
				a.capRefused(ctx, r.Err) // before fail, which would flag the configured cap
			}
			a.fail(ctx, it, r.Err)
		}
	}
	if len(again) > 0 && a.sendCreates(ctx, again, true) {
		capRefused = true
	}
	a.convergeExisting(ctx, converge)
	return capRefused
}

// convergeExisting handles creates whose id was taken: the asset is read,
// checked to be ours, and its owned fields patched to the desired state.
// The fact stays "created": the id is ours, so an earlier attempt created it.
func (a *Applier) convergeExisting(ctx context.Context, items []*item) {
	var unread []string
	for _, it := range items {
		if it.host == nil {
			unread = append(unread, it.assetID)
		}
	}
	if len(unread) > 0 {
		found, err := a.client.GetHosts(ctx, unread)
		for _, it := range items {
			if it.host == nil {
				it.host = found[strings.ToLower(it.assetID)]
				if it.host == nil {
					if err == nil {
						err = fmt.Errorf("asset %s: id taken but the asset cannot be read", it.assetID)
					}
					a.fail(ctx, it, err)
				}
			}
		}
	}
	var todo []*item
	var ps []jumpserver.HostPatch
	for _, it := range items {
		if !it.pending() {
			continue
		}
		if !a.owned(it.host) {
			a.poison(ctx, it, ReasonNotOwned, a.notOwned(it))
			continue
		}
		a.names.add(it.host.Name, it.assetID)
		if a.client.Info().Version == jumpserver.V47 && len(it.create.AccountTemplateIDs) > 0 {
			if err := a.client.EnsureAccounts(ctx, it.assetID, it.create.AccountTemplateIDs); err != nil {
				a.fail(ctx, it, err)
				continue
			}
		}
		a.planPatch(ctx, it)
		if !it.pending() {
			continue
		}
		it.factOp = events.Created
		todo = append(todo, it)
		ps = append(ps, it.patch)
	}
	a.sendPatches(ctx, todo, ps)
}

// isNameClash reports a create refused because its name is taken: by
// another asset type (the client's bisected 500) or by a host (400).
func isNameClash(err error) bool {
	var e *jumpserver.Error
	if !errors.As(err, &e) || errors.Is(err, jumpserver.ErrAlreadyExists) {
		return false
	}
	switch e.Kind {
	case jumpserver.KindConflict:
		return len(e.Fields["name"]) > 0
	case jumpserver.KindValidation:
		if len(e.Fields) != 1 {
			return false
		}
		for _, m := range e.Fields["name"] {
			if strings.Contains(strings.ToLower(m), "unique") || strings.Contains(strings.ToLower(m), "exist") {
				return true
			}
		}
	}
	return false
}

// readBack reads the assets a write answered without a representation.
func (a *Applier) readBack(ctx context.Context, items []*item) {
	var need []*item
	var ids []string
	for _, it := range items {
		if it.done && it.after == nil && it.factOp != events.Deleted {
			need = append(need, it)
			ids = append(ids, it.assetID)
		}
	}
	if len(need) == 0 {
		return
	}
	found, err := a.getHosts(ctx, ids)
	for _, it := range need {
		if h := found[strings.ToLower(it.assetID)]; h != nil {
			it.after = h
			continue
		}
		if err == nil {
			err = fmt.Errorf("asset %s: written but not found when read back", it.assetID)
		}
		it.done = false
		a.fail(ctx, it, err)
	}
}

// writeMirror stores the item's result with compare-and-set. A conflict is
// re-read: a rebuild's write (same generation) is overwritten; an entry at
// this generation or newer means another applier finished the intent, whose
// fact is then published again.
func (a *Applier) writeMirror(ctx context.Context, it *item) {
	if it.republish || !it.done {
		return
	}
	now := a.now().UTC()
	e := &mirror.Entry{
		AssetID: it.in.AssetID, Identity: it.in.Identity, Scope: it.in.Scope, Generation: it.in.Generation,
		Orphaned: it.in.Op == events.OpOrphan, UpdatedAt: now, NodeID: it.nodeID,
	}
	if e.NodeID == "" && it.entry != nil {
		e.NodeID = it.entry.NodeID
	}
	if it.entry != nil && it.in.Op != events.OpCreate && it.in.Op != events.OpAdopt {
		e.AssetID = it.entry.AssetID
	}
	if it.factOp == events.Deleted {
		e.Deleted = true
		if it.host != nil {
			e.State = jumpserver.State(*it.host)
		} else if it.entry != nil {
			e.State = it.entry.State
		}
	} else {
		e.State = jumpserver.State(*it.after)
		switch {
		case e.State.IsActive:
		case it.setInactive:
			e.DeactivatedBySync, e.DeactivatedAt = true, now
		case it.entry != nil && it.entry.DeactivatedBySync:
			e.DeactivatedBySync, e.DeactivatedAt = true, it.entry.DeactivatedAt
		}
	}
	rev := it.rev
	if it.entry == nil {
		rev = 0
	}
	for range 5 {
		_, err := a.mirror.Put(ctx, e, rev)
		if err == nil {
			return
		}
		if !errors.Is(err, mirror.ErrConflict) {
			it.done = false
			a.fail(ctx, it, err)
			return
		}
		cur, crev, gerr := a.mirror.Get(ctx, it.in.Identity)
		switch {
		case errors.Is(gerr, mirror.ErrNotFound):
			rev = 0
		case gerr != nil:
			it.done = false
			a.fail(ctx, it, gerr)
			return
		case cur.Generation > it.in.Generation:
			it.done = false
			a.ack(ctx, it, "stale")
			return
		case cur.Generation == it.in.Generation:
			it.done, it.republish = false, true
			it.logger().Info().Msg("another applier finished this intent; its fact is published again")
			return
		default:
			rev = crev
		}
	}
	it.done = false
	a.fail(ctx, it, fmt.Errorf("mirror %s: %w", it.key, mirror.ErrConflict))
}

// publishFacts sends the items' applied facts, each validated against its
// schema, pipelined and in item order, factChunk at a time (encoded in
// parallel; a whole batch's facts encoded at once held megabytes). An item
// whose fact cannot be built fails alone; when a chunk fails, every item of
// it is retried (the mirror holds their generation, so the retry publishes
// the fact again, and the stored ones are dropped as duplicates).
func (a *Applier) publishFacts(ctx context.Context, items []*item) {
	for start := 0; start < len(items); start += factChunk {
		a.publishFactChunk(ctx, items[start:min(len(items), start+factChunk)])
	}
}

// factChunk is how many facts publishFacts encodes and sends at a time.
const factChunk = 1000

func (a *Applier) publishFactChunk(ctx context.Context, items []*item) {
	msgs := make([]natsx.Outgoing, len(items))
	errs := make([]error, len(items))
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	parallel(kvParallel, idx, func(i int) {
		it := items[i]
		var f *events.AppliedFact
		var err error
		if it.republish && !it.done {
			f, err = a.factAgain(ctx, it)
		} else {
			f = a.fact(it)
		}
		if err == nil {
			msgs[i], err = a.encodeFact(f)
		}
		errs[i] = err
	})
	var send []natsx.Outgoing
	var sent []*item
	for i, it := range items {
		if errs[i] != nil {
			it.done, it.republish = false, false
			a.fail(ctx, it, errs[i])
			continue
		}
		send = append(send, msgs[i])
		sent = append(sent, it)
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), factBatchTimeout)
	defer cancel()
	if err := natsx.PublishBatch(pctx, a.js, send, 0); err != nil {
		for _, it := range sent {
			it.done, it.republish = false, false
			a.fail(ctx, it, err)
		}
	}
}

// factBatchTimeout bounds the publication of one batch's facts.
const factBatchTimeout = 30 * time.Second

func (a *Applier) fact(it *item) *events.AppliedFact {
	// before: the mirror's state (what JumpServer returned at the last
	// apply or rebuild), which survives a crash after the write; the asset
	// as read now when the mirror has none.
	var before, after *events.AssetState
	switch {
	case it.factOp == events.Created:
	case it.entry != nil && !it.entry.Deleted:
		s := it.entry.State
		before = &s
	case it.host != nil:
		s := jumpserver.State(*it.host)
		before = &s
	case it.entry != nil:
		s := it.entry.State
		before = &s
	}
	if it.factOp != events.Deleted && it.after != nil {
		s := jumpserver.State(*it.after)
		after = &s
	}
	f := events.NewAppliedFact(it.in, before, after, a.now(), a.jsRef())
	f.Op = it.factOp
	return f
}

// factAgain rebuilds the fact of an intent the mirror already holds: the
// after state is the entry's, the before state the previous entry in the
// key's history.
func (a *Applier) factAgain(ctx context.Context, it *item) (*events.AppliedFact, error) {
	cur, _, err := a.mirror.Get(ctx, it.in.Identity)
	if err != nil {
		return nil, err
	}
	prev := a.previousEntry(ctx, it.key, cur.Generation)
	op := it.in.Op.Applied()
	if it.in.Op == events.OpCreate && prev != nil && !prev.Deleted {
		op = events.Updated
	}
	var before, after *events.AssetState
	if op != events.Deleted {
		s := cur.State
		after = &s
	}
	if op != events.Created {
		switch {
		case prev != nil:
			s := prev.State
			before = &s
		default:
			s := cur.State
			before = &s
		}
	}
	f := events.NewAppliedFact(it.in, before, after, cur.UpdatedAt, a.jsRef())
	f.Op = op
	f.AssetID = cur.AssetID
	return f, nil
}

func (a *Applier) previousEntry(ctx context.Context, key string, gen uint64) *mirror.Entry {
	hist, err := a.assetsKV.History(ctx, key)
	if err != nil {
		return nil
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Operation() != jetstream.KeyValuePut {
			continue
		}
		var e mirror.Entry
		if json.Unmarshal(hist[i].Value(), &e) == nil && e.Generation < gen {
			return &e
		}
	}
	return nil
}
