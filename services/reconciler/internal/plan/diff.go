package plan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
)

// Pass is the latest usable pass of a scope as Diff needs it.
type Pass struct {
	ID        string
	Instances []asset.Instance
}

// ScopeInput is one configured scope of the cycle.
type ScopeInput struct {
	Scope events.Scope
	// Pass is the latest usable pass (VerifyPass said Usable), or nil when
	// the scope never had one. The same pass may be given in many cycles;
	// its absences are counted once.
	Pass *Pass
	// Rejected is the reason code of a newer pass that was not usable
	// (Verdict.Rejected), empty when Pass is the latest. While it is set,
	// creates and updates go on from Pass but nothing is deactivated for
	// absence or deleted.
	Rejected string
	State    ScopeState
	// Confirm is the plan id given to `confirm <plan>`, if any.
	Confirm string
}

// Input is everything one cycle decides from.
type Input struct {
	Now     time.Time
	RunID   string
	Trigger string // snake_case ("interval", "pass", "confirm"…), for the run record
	Policy  Policy
	// Scopes are the configured scopes. A mirror entry whose scope is not
	// among them is out of scope: orphaned, never deleted unless pruned.
	Scopes []ScopeInput
	// Mirror is every entry of the jumpserver_assets bucket (mirror.Store.All),
	// tombstones included. Diff never modifies it.
	Mirror  map[string]*mirror.Entry
	Orphans OrphanState
	// Prune lists the scopes of `prune --scope`: their assets are deleted if
	// the scope is not configured (any more).
	Prune []events.Scope
	// Adopting holds the identity keys with an adopt intent not applied
	// yet: no create is issued for them meanwhile, so an instance never
	// gets a second asset beside the one being adopted.
	Adopting map[string]bool
	// InFlight holds the intents earlier cycles issued whose effect has
	// not reached the mirror yet (identity key → what was issued). The same
	// intent is not issued again while the mirror's generation is below the
	// one in flight: the applier has it queued or is applying it. The caller
	// drops entries it no longer trusts (too old: a lost intent is issued
	// again).
	InFlight map[string]InFlight
}

// InFlight is an issued intent not yet seen applied.
type InFlight struct {
	Op          events.Op
	Generation  uint64
	Fingerprint uint64 // Fingerprint of the op and desired state
	// Identity and Name of a create: its name is held as a managed
	// asset's would be, so a later cycle (another scope with the same
	// instance name) does not rename it and queue the create again.
	Identity asset.ID
	Name     string
}

// Fingerprint identifies an intent's op, asset and desired state.
func Fingerprint(op events.Op, assetID uuid.UUID, d *events.Desired) uint64 {
	h := fnv.New64a()
	h.Write([]byte(op))
	h.Write(assetID[:])
	if d != nil {
		b, _ := json.Marshal(d)
		h.Write(b)
	}
	return h.Sum64()
}

// ConfirmResult reports a confirm.
type ConfirmResult struct {
	PlanID  string `json:"plan_id"`
	Deleted int    `json:"deleted"` // delete intents issued
	Dropped int    `json:"dropped"` // plan items listed again or no longer deletable
	// Refused is a snake_case reason when nothing was applied:
	// no_plan_held, plan_stale (another plan is held now) or no_usable_pass.
	Refused string `json:"refused,omitempty"`
}

// PruneResult reports one scope of a prune.
type PruneResult struct {
	Scope   events.Scope `json:"scope"`
	Deleted int          `json:"deleted"`
	Refused string       `json:"refused,omitempty"` // scope_active or no_delete
}

// ScopeResult is the outcome for one configured scope.
type ScopeResult struct {
	Scope   events.Scope
	State   ScopeState // persist this
	Held    *Plan      // the plan waiting for confirm, if any
	Run     events.RunScope
	Confirm *ConfirmResult
}

// Output is what one cycle decided.
type Output struct {
	Intents []events.Intent
	Alerts  []events.Alert
	Scopes  []ScopeResult // in the order of Input.Scopes
	Orphans OrphanState   // persist this
	Pruned  []PruneResult
	// Run is the opening run record: every configured scope plus removed
	// scopes that got intents, with the number of intents expected.
	Run       *events.RunRecord
	Decisions []Decision
}

// Diff decides one cycle. It is pure: the same input gives the same output,
// and the input is not modified. It fails only on an invalid policy or
// input (a duplicate scope, no time, a bad run id).
//
// Generations: an intent's generation is Now in nanoseconds, or the
// mirror's generation plus one if that is larger, so it is strictly newer
// than what the mirror holds and later decisions win. This assumes one
// reconciler deciding at a time (the service holds a lock) whose clock does
// not go back by more than a cycle; the applier drops anything not newer
// than the mirror (safety rule 6).
//
// An intent whose effect has not reached the mirror yet is issued again by
// the next cycle with a newer generation; the applier's writes are
// idempotent, so at worst a write is repeated.
func Diff(in Input) (Output, error) {
	p := &in.Policy
	if err := p.Validate(); err != nil {
		return Output{}, err
	}
	if in.Now.IsZero() {
		return Output{}, fmt.Errorf("%w: no time", ErrInvalidInput)
	}
	if !events.ValidToken(in.RunID) {
		return Output{}, fmt.Errorf("%w: run id %q", ErrInvalidInput, in.RunID)
	}
	d := &differ{
		in: &in, p: p, now: in.Now.UTC(), sc: newScopeCache(p),
		active: make(map[string]int, len(in.Scopes)), expected: map[string]int{},
	}
	if n := in.Now.UnixNano(); n > 0 {
		d.nowGen = uint64(n)
	}
	for i, s := range in.Scopes {
		k := ScopeKey(s.Scope)
		if _, dup := d.active[k]; dup {
			return Output{}, fmt.Errorf("%w: scope %s given twice", ErrInvalidInput, k)
		}
		if err := s.Scope.Validate(); err != nil {
			return Output{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
		d.active[k] = i
	}
	d.index()
	d.collectSeen()
	d.out.Scopes = make([]ScopeResult, len(in.Scopes))
	d.out.Orphans = OrphanState{Alerted: copyMap(in.Orphans.Alerted), Issued: copyMap(in.Orphans.Issued)}
	for i := range in.Scopes {
		d.scope(i)
	}
	d.assignCreates()
	pruned := d.prune()
	d.orphans(pruned)
	d.finish()
	return d.out, nil
}

type differ struct {
	in     *Input
	p      *Policy
	now    time.Time
	nowGen uint64
	sc     *scopeCache

	// One index for the mirror and the passes: every identity of either
	// has a slot with its entry (tombstones included) and where it was
	// listed. One map of 100k keys instead of three keeps Diff fast.
	idx     map[asset.ID]int32
	slots   []slot
	byScope map[string][]int32 // slots of live entries (not deleted) by scope key
	active  map[string]int     // configured scope key → index in Input.Scopes
	creates []create

	expected map[string]int // intents per scope key
	out      Output
}

type slot struct {
	e           *mirror.Entry
	scope, inst int32 // where it was listed; scope -1: not listed
}

func (d *differ) slotOf(id asset.ID) *slot {
	if i, ok := d.idx[id]; ok {
		return &d.slots[i]
	}
	return nil
}

func (d *differ) entry(id asset.ID) *mirror.Entry {
	if s := d.slotOf(id); s != nil {
		return s.e
	}
	return nil
}

func (d *differ) listed(id asset.ID) bool {
	s := d.slotOf(id)
	return s != nil && s.scope >= 0
}

type create struct {
	scope int
	inst  *asset.Instance
	m     mapped
	cause string
	prev  *mirror.Entry // tombstone, if any
}

func (d *differ) index() {
	n := len(d.in.Mirror) + len(d.in.Mirror)/16 + 64 // room for some new instances
	d.idx = make(map[asset.ID]int32, n)
	d.slots = make([]slot, 0, n)
	d.byScope = map[string][]int32{}
	for _, e := range d.in.Mirror {
		if e == nil || e.Identity.InstanceID == "" {
			continue
		}
		if i, dup := d.idx[e.Identity]; dup { // two keys, one identity: keep the newer
			if d.slots[i].e.Generation >= e.Generation {
				continue
			}
		}
		d.idx[e.Identity] = int32(len(d.slots))
		d.slots = append(d.slots, slot{e: e, scope: -1})
	}
	keys := map[scopeID]string{} // ScopeKey allocates: once per scope, not per entry
	for i := range d.slots {
		if e := d.slots[i].e; !e.Deleted {
			sid := scopeID{e.Scope.Provider, e.Scope.AccountID, e.Scope.Region}
			k, ok := keys[sid]
			if !ok {
				k = ScopeKey(e.Scope)
				keys[sid] = k
			}
			d.byScope[k] = append(d.byScope[k], int32(i))
		}
	}
}

// collectSeen records where every instance of every usable pass was listed.
// An instance in two passes (moving between accounts or regions) is decided
// by the scope of its mirror entry if that is one of them, else by the
// lower scope key.
func (d *differ) collectSeen() {
	for i, s := range d.in.Scopes {
		if s.Pass == nil {
			continue
		}
		for j := range s.Pass.Instances {
			id := s.Pass.Instances[j].ID()
			k, ok := d.idx[id]
			if !ok {
				k = int32(len(d.slots))
				d.idx[id] = k
				d.slots = append(d.slots, slot{scope: -1})
			}
			sl := &d.slots[k]
			if sl.scope >= 0 && (int(sl.scope) == i || !d.prefer(sl.e, i, int(sl.scope))) {
				continue
			}
			sl.scope, sl.inst = int32(i), int32(j)
		}
	}
}

func (d *differ) prefer(e *mirror.Entry, a, b int) bool {
	sa, sb := d.in.Scopes[a].Scope, d.in.Scopes[b].Scope
	if e != nil && !e.Deleted {
		if sameScope(e.Scope, sa) {
			return true
		}
		if sameScope(e.Scope, sb) {
			return false
		}
	}
	return ScopeKey(sa) < ScopeKey(sb)
}

func (d *differ) gen(e *mirror.Entry) uint64 {
	g := max(d.nowGen, 1)
	if e != nil && e.Generation >= g {
		g = e.Generation + 1
	}
	return g
}

func (d *differ) decide(dec Decision) { d.out.Decisions = append(d.out.Decisions, dec) }

func (d *differ) emit(op events.Op, assetID uuid.UUID, id asset.ID, gen uint64, desired *events.Desired,
	causes []string, scope events.Scope, passID, detail string,
) {
	if f, ok := d.in.InFlight[id.Key()]; ok && f.Op == op {
		e := d.in.Mirror[id.Key()]
		if (e == nil || e.Generation < f.Generation) && f.Fingerprint == Fingerprint(op, assetID, desired) {
			d.decide(Decision{Identity: id, Scope: scope, Op: op, Cause: CauseInFlight, Detail: causes[0]})
			return
		}
	}
	in := events.NewIntent(op, assetID, id, gen, desired, causes[0], d.in.RunID, scope, passID, d.now)
	d.out.Intents = append(d.out.Intents, *in)
	d.expected[ScopeKey(scope)]++
	dec := Decision{Identity: id, Scope: scope, Op: op, Cause: causes[0], Detail: detail}
	if len(causes) > 1 {
		dec.Causes = causes
	}
	d.decide(dec)
}

// scope decides one configured scope: seen instances, absences, confirm,
// budget and held plan.
func (d *differ) scope(i int) {
	si := &d.in.Scopes[i]
	p := d.p
	key := ScopeKey(si.Scope)
	st := si.State.clone()
	st.Scope = si.Scope
	if st.Absent == nil {
		st.Absent = map[string]Absence{}
	}
	if st.Deletions == nil {
		st.Deletions = map[string]time.Time{}
	}
	res := &d.out.Scopes[i]
	res.Scope = si.Scope
	pass := si.Pass
	passID := ""
	if pass != nil {
		passID = pass.ID
	}
	newPass := pass != nil && pass.ID != st.Counted
	destructive := pass != nil && si.Rejected == ""

	// Absence records of identities listed anywhere, or no longer managed
	// in this scope, end here. Those listed again remember it for the cause.
	reappeared := map[asset.ID]bool{}
	for k := range st.Absent {
		id, err := asset.ParseKey(k)
		e := d.entry(id)
		if err != nil || e == nil || e.Deleted || !sameScope(e.Scope, si.Scope) {
			delete(st.Absent, k)
			continue
		}
		if d.listed(id) {
			reappeared[id] = true
			delete(st.Absent, k)
		}
	}

	if pass != nil {
		for j := range pass.Instances {
			inst := &pass.Instances[j]
			id := inst.ID()
			sl := d.slotOf(id)
			if int(sl.scope) != i || int(sl.inst) != j {
				if int(sl.scope) != i {
					d.decide(Decision{Identity: id, Scope: si.Scope, Cause: CauseListedElsewhere,
						Detail: "decided in " + ScopeKey(d.in.Scopes[sl.scope].Scope)})
				}
				continue
			}
			d.seenInstance(i, inst, sl.e, passID, reappeared[id])
		}
	}

	// Absent identities of this scope.
	n := p.AbsentPasses
	var candidates []*mirror.Entry
	candCause := map[asset.ID]string{}
	if pass != nil {
		for _, at := range d.byScope[key] {
			sl := &d.slots[at]
			if sl.scope >= 0 {
				continue
			}
			e := sl.e
			id := e.Identity
			k := id.Key()
			a := st.Absent[k]
			if newPass && a.LastPass != pass.ID {
				a.Passes++
				a.LastPass = pass.ID
			}
			if a.Passes == 0 {
				continue // created after the pass it would be counted against
			}
			if a.Passes < n {
				st.Absent[k] = a
				d.decide(Decision{Identity: id, Scope: si.Scope, Cause: causeAbsentCount(a.Passes, n)})
				continue
			}
			cause := CauseAbsent(n)
			switch {
			case !destructive:
				d.decide(Decision{Identity: id, Scope: si.Scope, Cause: CauseLatestRejected, Detail: si.Rejected})
			case p.protected(e.State.Address):
				d.decide(Decision{Identity: id, Scope: si.Scope, Cause: CauseProtected, Detail: e.State.Address})
			default:
				if a.ReachedAt.IsZero() {
					a.ReachedAt = d.now
				}
				switch {
				case p.Grace == 0 && !p.NoDelete:
					candidates = append(candidates, e)
					candCause[id] = cause
				case e.State.IsActive && a.DeactivateGen != 0 && e.Generation >= a.DeactivateGen:
					d.decide(Decision{Identity: id, Scope: si.Scope, Cause: CauseHumanReactivated})
				case e.State.IsActive:
					g := d.gen(e)
					a.DeactivateGen = g
					des := d.desiredFromEntry(e)
					d.emit(events.OpDeactivate, assetIDOf(e, p), id, g, &des, []string{cause}, si.Scope, passID, "")
				case p.NoDelete:
					d.decide(Decision{Identity: id, Scope: si.Scope, Cause: CauseNoDelete})
				case d.now.Sub(a.ReachedAt) >= p.Grace:
					candidates = append(candidates, e)
					candCause[id] = CauseGraceElapsed
				default:
					d.decide(Decision{Identity: id, Scope: si.Scope, Cause: CauseGracePending,
						Detail: "delete after " + a.ReachedAt.Add(p.Grace).UTC().Format(time.RFC3339)})
				}
			}
			st.Absent[k] = a
		}
	}

	// The rolling window, then confirm, then the budget.
	for k, t := range st.Deletions {
		if d.now.Sub(t) >= Window {
			delete(st.Deletions, k)
		}
	}
	confirmed := map[asset.ID]bool{}
	if si.Confirm != "" {
		res.Confirm = d.confirm(si, &st, destructive, passID, confirmed)
	}
	if destructive {
		candidates = slices.DeleteFunc(candidates, func(e *mirror.Entry) bool { return confirmed[e.Identity] })
		d.budget(si, &st, candidates, candCause, passID)
	}

	if pass != nil {
		st.Counted = pass.ID
	}
	if len(st.Absent) == 0 {
		st.Absent = nil
	}
	if len(st.Deletions) == 0 {
		st.Deletions = nil
	}
	res.State = st
	res.Held = st.Held
	res.Run = events.RunScope{Scope: si.Scope, PassID: passID}
	if pass == nil {
		res.Run.Skipped = "no_usable_pass"
	}
	if st.Held != nil {
		res.Run.HeldDeletions = len(st.Held.Identities)
	}
}

// seenInstance decides a listed instance of scope i.
func (d *differ) seenInstance(i int, inst *asset.Instance, e *mirror.Entry, passID string, reappeared bool) {
	si := &d.in.Scopes[i]
	id := inst.ID()
	m, skip := d.sc.mapInstance(inst)
	if skip != "" {
		d.decide(Decision{Identity: id, Scope: si.Scope, Cause: skip})
		return
	}
	if e == nil || e.Deleted {
		if d.in.Adopting[id.Key()] {
			d.decide(Decision{Identity: id, Scope: si.Scope, Cause: CauseAdoptPending})
			return
		}
		cause := CauseNewInstance
		if e != nil {
			cause = CauseRecreated
		}
		d.creates = append(d.creates, create{scope: i, inst: inst, m: m, cause: cause, prev: e})
		return
	}
	var causes []string
	if !sameScope(e.Scope, si.Scope) {
		causes = append(causes, CauseRescoped)
	}
	if e.Orphaned {
		causes = append(causes, CauseScopeRestored)
	}
	if !sameAddr(e.State.Address, m.address) {
		causes = append(causes, CauseAddressChanged)
	}
	if e.State.Platform != m.os.Platform {
		causes = append(causes, CausePlatformChanged)
	}
	if !slices.Contains(e.State.Nodes, m.scope.nodePath) {
		causes = append(causes, CauseNodeMissing)
	}
	if c := labelCheck(e.State.Labels, m.scope.labels, d.sc.owners); c != "" {
		causes = append(causes, c)
	}
	if m.scope.zone != "" && e.State.Zone != m.scope.zone {
		causes = append(causes, CauseZoneChanged)
	}
	op, active := events.OpUpdate, e.State.IsActive
	switch {
	case e.State.IsActive && !m.active:
		op, active = events.OpDeactivate, false
		causes = append([]string{CauseStopped}, causes...)
	case !e.State.IsActive && m.active && e.DeactivatedBySync:
		op, active = events.OpActivate, true
		c := CauseRunning
		if reappeared {
			c = CauseReappeared
		}
		causes = append([]string{c}, causes...)
	case !e.State.IsActive && m.active:
		d.decide(Decision{Identity: id, Scope: si.Scope, Cause: CauseHumanDeactivated})
	}
	if len(causes) == 0 {
		return
	}
	name := e.State.Name
	if strings.TrimSpace(name) == "" {
		name = BaseName(inst)
	}
	des := d.sc.build(inst, m, name, false)
	des.IsActive = active
	if len(e.State.Protocols) > 0 { // set on create only: keep what the asset has
		des.Protocols = slices.Clone(e.State.Protocols)
	}
	d.emit(op, assetIDOf(e, d.p), id, d.gen(e), &des, causes, si.Scope, passID, "")
}

// takenNames are the names of managed assets the claims could collide
// with: their base names, the suffixed forms AssignNames tries and their
// counter forms. Reading only those spares a cycle with a few creates from
// indexing every name of the org; with a base name long enough to be cut,
// every name is read.
func (d *differ) takenNames(claims []NameClaim) map[string]asset.ID {
	want := make(map[string]bool, len(claims)*5)
	all := false
	for _, c := range claims {
		want[NameKey(c.Base)] = true
		for _, suf := range suffixes(c.Identity) {
			want[NameKey(c.Base+suf)] = true
		}
		all = all || utf8.RuneCountInString(c.Base) > MaxNameLen-maxSuffix
	}
	taken := map[string]asset.ID{}
	for i := range d.slots {
		e := d.slots[i].e
		if e == nil || e.Deleted || e.State.Name == "" {
			continue
		}
		k := NameKey(e.State.Name)
		if all || want[k] || want[strings.TrimRight(strings.TrimRight(k, "0123456789"), "-")] {
			taken[k] = e.Identity
		}
	}
	// In identity order, so that the result does not depend on the map's.
	var queued []InFlight
	for _, f := range d.in.InFlight {
		if f.Op == events.OpCreate && f.Name != "" {
			queued = append(queued, f)
		}
	}
	slices.SortFunc(queued, func(a, b InFlight) int { return cmpID(a.Identity, b.Identity) })
	for _, f := range queued {
		if k := NameKey(f.Name); all || want[k] || want[strings.TrimRight(strings.TrimRight(k, "0123456789"), "-")] {
			if _, held := taken[k]; !held {
				taken[k] = f.Identity
			}
		}
	}
	return taken
}

// assignCreates names the new assets of every scope together, so names are
// unique across the org whatever order scopes and instances come in.
func (d *differ) assignCreates() {
	if len(d.creates) == 0 {
		return
	}
	claims := make([]NameClaim, len(d.creates))
	for i, c := range d.creates {
		claims[i] = NameClaim{Identity: c.inst.ID(), Base: BaseName(c.inst)}
	}
	names := AssignNames(claims, d.takenNames(claims))
	for _, c := range d.creates {
		si := &d.in.Scopes[c.scope]
		id := c.inst.ID()
		des := d.sc.build(c.inst, c.m, names[id], true)
		detail := ""
		if base := BaseName(c.inst); names[id] != base {
			detail = "name " + strconv.Quote(base) + " taken: " + strconv.Quote(names[id])
		}
		d.emit(events.OpCreate, asset.AssetID(d.p.InstallID, d.p.OrgID, id.Provider, id.InstanceID), id,
			d.gen(c.prev), &des, []string{c.cause}, si.Scope, si.Pass.ID, detail)
	}
}

// confirm applies the held plan named by si.Confirm to what is still absent.
func (d *differ) confirm(si *ScopeInput, st *ScopeState, destructive bool, passID string, done map[asset.ID]bool) *ConfirmResult {
	cr := &ConfirmResult{PlanID: si.Confirm}
	switch {
	case st.Held == nil:
		cr.Refused = "no_plan_held"
		return cr
	case st.Held.ID != si.Confirm:
		cr.Refused = "plan_stale"
		return cr
	case !destructive:
		cr.Refused = "no_usable_pass"
		return cr
	}
	for _, id := range st.Held.Identities {
		e := d.entry(id)
		if e == nil || e.Deleted || d.listed(id) || !sameScope(e.Scope, si.Scope) || d.p.NoDelete || d.p.protected(e.State.Address) {
			cr.Dropped++
			d.decide(Decision{Identity: id, Scope: si.Scope, Cause: CausePlanItemDropped, Detail: si.Confirm})
			continue
		}
		d.emit(events.OpDelete, assetIDOf(e, d.p), id, d.gen(e), nil, []string{CausePlanConfirmed}, si.Scope, passID, si.Confirm)
		st.Deletions[id.Key()] = d.now
		done[id] = true
		cr.Deleted++
	}
	st.Held = nil
	return cr
}

// budget deletes the candidates if the scope's rolling window allows them
// all, else holds them all as one plan (alerted when the plan is new).
func (d *differ) budget(si *ScopeInput, st *ScopeState, cands []*mirror.Entry, cause map[asset.ID]string, passID string) {
	if len(cands) == 0 {
		st.Held = nil // nothing is waiting any more (listed again, protected…)
		return
	}
	slices.SortFunc(cands, func(a, b *mirror.Entry) int { return cmpID(a.Identity, b.Identity) })
	fresh := 0
	for _, e := range cands {
		if _, ok := st.Deletions[e.Identity.Key()]; !ok {
			fresh++
		}
	}
	key := ScopeKey(si.Scope)
	limit := d.p.Budget.Limit(len(d.byScope[key]))
	inWindow := len(st.Deletions)
	if inWindow+fresh <= limit {
		for _, e := range cands {
			k := e.Identity.Key()
			if _, ok := st.Deletions[k]; !ok {
				st.Deletions[k] = d.now
			}
			d.emit(events.OpDelete, assetIDOf(e, d.p), e.Identity, d.gen(e), nil, []string{cause[e.Identity]}, si.Scope, passID, "")
		}
		st.Held = nil
		return
	}
	ids := make([]asset.ID, len(cands))
	for i, e := range cands {
		ids[i] = e.Identity
	}
	plan := &Plan{ID: PlanID(si.Scope, ids), Scope: si.Scope, Identities: ids, Budget: limit, InWindow: inWindow, CreatedAt: d.now}
	if st.Held != nil && st.Held.ID == plan.ID {
		plan = st.Held // same plan: keep its first hold time, no new alert
	} else {
		scope := si.Scope
		msg := fmt.Sprintf("%d deletions in %s exceed the budget of %d per 24 h (%d already in the window); held until confirm %s",
			len(ids), key, limit, inWindow, plan.ID)
		d.out.Alerts = append(d.out.Alerts, *events.NewAlert(events.AlertDeletionsHeld, events.SeverityWarning, &scope, msg,
			plan.ID, d.p.Source, d.now, map[string]string{
				"plan": plan.ID, "deletions": strconv.Itoa(len(ids)), "budget": strconv.Itoa(limit), "in_window": strconv.Itoa(inWindow),
			}))
	}
	st.Held = plan
	for _, id := range ids {
		d.decide(Decision{Identity: id, Scope: si.Scope, Cause: CauseHeld, Detail: plan.ID})
	}
}

// prune deletes the live assets of the scopes given to prune --scope, if
// those scopes are not configured. It returns the identities it deleted.
func (d *differ) prune() map[asset.ID]bool {
	done := map[asset.ID]bool{}
	seenScope := map[string]bool{}
	for _, s := range d.in.Prune {
		key := ScopeKey(s)
		if seenScope[key] {
			continue
		}
		seenScope[key] = true
		pr := PruneResult{Scope: s}
		switch {
		case d.isActive(key):
			pr.Refused = "scope_active"
		case d.p.NoDelete:
			pr.Refused = "no_delete"
		}
		for _, e := range d.sortedEntries(key) {
			if d.listed(e.Identity) {
				continue // moved to a configured scope: decided there
			}
			if pr.Refused != "" {
				d.decide(Decision{Identity: e.Identity, Scope: e.Scope, Cause: CausePruneRefused, Detail: pr.Refused})
				continue
			}
			if d.p.protected(e.State.Address) {
				d.decide(Decision{Identity: e.Identity, Scope: e.Scope, Cause: CauseProtected, Detail: e.State.Address})
				continue
			}
			d.emit(events.OpDelete, assetIDOf(e, d.p), e.Identity, d.gen(e), nil, []string{CausePruned}, e.Scope, "", "")
			done[e.Identity] = true
			pr.Deleted++
		}
		d.out.Pruned = append(d.out.Pruned, pr)
	}
	return done
}

func (d *differ) isActive(key string) bool { _, ok := d.active[key]; return ok }

// orphans marks the assets of scopes that are not configured, once each,
// with one scope_orphaned alert per scope.
func (d *differ) orphans(pruned map[asset.ID]bool) {
	os := &d.out.Orphans
	for k := range os.Alerted {
		if d.isActive(k) || len(d.byScope[k]) == 0 {
			delete(os.Alerted, k)
		}
	}
	for k := range os.Issued {
		id, err := asset.ParseKey(k)
		e := d.entry(id)
		if err != nil || e == nil || e.Deleted || e.Orphaned || d.isActive(ScopeKey(e.Scope)) {
			delete(os.Issued, k)
		}
	}
	keys := make([]string, 0, len(d.byScope))
	for k := range d.byScope {
		if !d.isActive(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, key := range keys {
		out := 0
		var scope events.Scope
		for _, e := range d.sortedEntries(key) {
			id := e.Identity
			if d.listed(id) || pruned[id] {
				continue
			}
			out++
			scope = e.Scope
			if e.Orphaned {
				continue
			}
			k := id.Key()
			if g, ok := os.Issued[k]; ok && e.Generation < g {
				d.decide(Decision{Identity: id, Scope: e.Scope, Cause: CauseOrphanPending})
				continue
			}
			g := d.gen(e)
			if os.Issued == nil {
				os.Issued = map[string]uint64{}
			}
			os.Issued[k] = g
			d.emit(events.OpOrphan, assetIDOf(e, d.p), id, g, nil, []string{CauseScopeRemoved}, e.Scope, "", "")
		}
		if out > 0 && !os.Alerted[key] {
			if os.Alerted == nil {
				os.Alerted = map[string]bool{}
			}
			os.Alerted[key] = true
			msg := fmt.Sprintf("%d assets of %s are out of scope (region removed or account disabled): orphaned, kept; delete them with prune --scope", out, key)
			d.out.Alerts = append(d.out.Alerts, *events.NewAlert(events.AlertScopeOrphaned, events.SeverityWarning, &scope, msg,
				"scope_orphaned:"+key, d.p.Source, d.now, map[string]string{"assets": strconv.Itoa(out)}))
		}
	}
	if len(os.Alerted) == 0 {
		os.Alerted = nil
	}
	if len(os.Issued) == 0 {
		os.Issued = nil
	}
}

// finish sorts everything and builds the run record.
func (d *differ) finish() {
	slices.SortStableFunc(d.out.Intents, func(a, b events.Intent) int {
		return cmp.Or(strings.Compare(ScopeKey(a.Scope), ScopeKey(b.Scope)), cmpID(a.Identity, b.Identity))
	})
	slices.SortStableFunc(d.out.Decisions, func(a, b Decision) int {
		return cmp.Or(strings.Compare(ScopeKey(a.Scope), ScopeKey(b.Scope)), cmpID(a.Identity, b.Identity))
	})
	slices.SortStableFunc(d.out.Alerts, func(a, b events.Alert) int {
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.StateChangeID, b.StateChangeID))
	})
	runScopes := make([]events.RunScope, 0, len(d.out.Scopes))
	for i := range d.out.Scopes {
		r := &d.out.Scopes[i].Run
		r.ExpectedIntents = d.expected[ScopeKey(r.Scope)]
		runScopes = append(runScopes, *r)
	}
	var extra []events.RunScope
	for _, in := range d.out.Intents {
		k := ScopeKey(in.Scope)
		if d.isActive(k) {
			continue
		}
		if len(extra) == 0 || !sameScope(extra[len(extra)-1].Scope, in.Scope) {
			extra = append(extra, events.RunScope{Scope: in.Scope, ExpectedIntents: d.expected[k]})
		}
	}
	d.out.Run = events.NewRunOpen(d.in.RunID, d.now, d.in.Trigger, append(runScopes, extra...))
}

// desiredFromEntry is the desired state of an asset whose instance was not
// listed (deactivate): what JumpServer has, made inactive, in our node and
// with our labels.
func (d *differ) desiredFromEntry(e *mirror.Entry) events.Desired {
	f := d.sc.scope(e.Scope.Provider, e.Scope.AccountID, e.Scope.Region)
	var m *OSMapping
	for _, os := range []asset.OSType{asset.Linux, asset.Windows, asset.UnknownOS} {
		if mm, ok := d.sc.os[os]; ok && (m == nil || mm.Platform == e.State.Platform) {
			m = mm
		}
	}
	des := events.Desired{
		Name: e.State.Name, Address: e.State.Address, Platform: e.State.Platform,
		Protocols: slices.Clone(e.State.Protocols), NodePath: f.nodePath, Labels: slices.Clone(f.labels),
		Zone: e.State.Zone, IsActive: false,
	}
	if des.Name == "" {
		des.Name = e.Identity.InstanceID
	}
	if m != nil {
		if des.Platform == "" {
			des.Platform = m.Platform
		}
		if len(des.Protocols) == 0 {
			des.Protocols = slices.Clone(m.Protocols)
		}
		des.AccountTemplate = m.AccountTemplate
	}
	return des
}

// labelCheck reports whether the asset lacks one of our labels or carries
// one of our label names with another value. Labels not ours are ignored.
func labelCheck(have, want []events.Label, ours map[string]bool) string {
	for _, w := range want {
		if !slices.Contains(have, w) {
			for _, h := range have {
				if h.Name == w.Name && ours[h.Name] {
					return CauseLabelsChanged
				}
			}
			return CauseLabelsMissing
		}
	}
	return ""
}

func sameAddr(have string, want netip.Addr) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(have))
	return err == nil && a.Unmap() == want
}

func assetIDOf(e *mirror.Entry, p *Policy) uuid.UUID {
	if e.AssetID != uuid.Nil {
		return e.AssetID
	}
	return e.Identity.AssetID(p.InstallID, p.OrgID)
}

// sortedEntries are the live entries of a scope, by identity.
func (d *differ) sortedEntries(key string) []*mirror.Entry {
	out := make([]*mirror.Entry, len(d.byScope[key]))
	for i, k := range d.byScope[key] {
		out[i] = d.slots[k].e
	}
	slices.SortFunc(out, func(a, b *mirror.Entry) int { return cmpID(a.Identity, b.Identity) })
	return out
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	if len(m) == 0 {
		return nil
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
