package plan

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
)

// Reasons an adoption candidate is left alone.
const (
	AdoptNotSeen     = "not_seen"         // no usable pass of a configured scope lists the instance
	AdoptAmbiguous   = "ambiguous"        // several listed instances, or several assets, for one id
	AdoptManaged     = "identity_managed" // the instance already has a managed asset (mirror entry)
	AdoptOwned       = "already_owned"    // the asset carries our ownership label or is in the mirror
	AdoptNotDesired  = "not_desired"      // listed but mapped to no asset (Detail: the skip reason)
	AdoptBadAssetID  = "invalid_asset_id" // the asset id is not a UUID
	CauseAdoptLegacy = "legacy_asset"     // intent cause: an asset the Python jms-sync made
	// CauseAdoptPending: a create waits while an adopt intent for the same
	// instance is not applied yet (the adopted asset becomes its asset).
	CauseAdoptPending = "adopt_pending"
)

// AdoptCandidate is a JumpServer host whose comment names an instance the
// Python jms-sync way, as JumpServer returned it.
type AdoptCandidate struct {
	AssetID    string            `json:"asset_id"`
	Name       string            `json:"name"`
	Address    string            `json:"address"`
	Platform   string            `json:"platform"`
	Protocols  []events.Protocol `json:"protocols,omitempty"`
	Nodes      []string          `json:"nodes,omitempty"` // node paths
	Labels     []events.Label    `json:"labels,omitempty"`
	Zone       string            `json:"zone,omitempty"`
	IsActive   bool              `json:"is_active"`
	InstanceID string            `json:"instance_id"` // LegacyInstanceID of the comment
	// Owned: the asset carries our ownership label already.
	Owned bool `json:"owned,omitempty"`
}

// FieldChange is one owned field an adoption changes ("" From: not set).
type FieldChange struct {
	Field string `json:"field"` // address, platform, node, labels, zone
	From  string `json:"from,omitempty"`
	To    string `json:"to"`
}

// AdoptItem is the outcome for one candidate.
type AdoptItem struct {
	AssetID    string `json:"asset_id"`
	Name       string `json:"name"`
	InstanceID string `json:"instance_id"`
	// Adopt is true when an adopt intent is (or, dry, would be) issued.
	Adopt  bool   `json:"adopt"`
	Reason string `json:"reason,omitempty"` // why not
	Detail string `json:"detail,omitempty"`

	Identity *asset.ID       `json:"identity,omitempty"`
	Scope    *events.Scope   `json:"scope,omitempty"`
	PassID   string          `json:"pass_id,omitempty"`
	Desired  *events.Desired `json:"desired,omitempty"`
	Changes  []FieldChange   `json:"changes,omitempty"`
}

// AdoptResult is what adopt decided.
type AdoptResult struct {
	DryRun bool        `json:"dry_run"`
	Items  []AdoptItem `json:"items"`
	// NoPass lists the configured scopes without a usable pass: their
	// instances cannot be matched yet.
	NoPass  []events.Scope `json:"no_pass,omitempty"`
	Adopted int            `json:"adopted"` // intents issued (dry: that would be)
}

// AdoptOutput is the decision and the intents to publish.
type AdoptOutput struct {
	Result  AdoptResult
	Intents []events.Intent
	Run     *events.RunRecord // nil without intents
}

// Adopt matches the candidates against the instances of the usable passes
// of in.Scopes and the mirror. It is pure, like Diff. A candidate is
// adopted when exactly one listed instance has its instance id, no other
// candidate claims it, the instance is desired, and neither the instance
// nor the asset is managed yet. Its desired state is an update's: the
// asset keeps its name and protocols (set on create only), is_active is
// left as it is.
func Adopt(in Input, cands []AdoptCandidate, dry bool) (AdoptOutput, error) {
	p := &in.Policy
	if err := p.Validate(); err != nil {
		return AdoptOutput{}, err
	}
	if in.Now.IsZero() || !events.ValidToken(in.RunID) {
		return AdoptOutput{}, fmt.Errorf("%w: time and run id required", ErrInvalidInput)
	}
	sc := newScopeCache(p)
	now := in.Now.UTC()
	nowGen := max(uint64(max(in.Now.UnixNano(), 0)), 1)

	type seen struct {
		scope int
		inst  *asset.Instance
	}
	// Every listed identity once (the lower scope key wins a tie, as
	// collectSeen does without a mirror entry), then by instance id.
	byIdentity := map[asset.ID]seen{}
	out := AdoptOutput{Result: AdoptResult{DryRun: dry, Items: []AdoptItem{}}}
	for i := range in.Scopes {
		s := &in.Scopes[i]
		if s.Pass == nil {
			out.Result.NoPass = append(out.Result.NoPass, s.Scope)
			continue
		}
		for j := range s.Pass.Instances {
			inst := &s.Pass.Instances[j]
			id := inst.ID()
			if prev, ok := byIdentity[id]; ok && ScopeKey(in.Scopes[prev.scope].Scope) <= ScopeKey(s.Scope) {
				continue
			}
			byIdentity[id] = seen{scope: i, inst: inst}
		}
	}
	byInstance := map[string][]asset.ID{}
	for id := range byIdentity {
		byInstance[id.InstanceID] = append(byInstance[id.InstanceID], id)
	}
	live := map[asset.ID]*mirror.Entry{}
	byAsset := map[string]*mirror.Entry{}
	for _, e := range in.Mirror {
		if e == nil || e.Deleted {
			continue
		}
		live[e.Identity] = e
		byAsset[strings.ToLower(e.AssetID.String())] = e
	}
	tomb := func(id asset.ID) *mirror.Entry {
		for _, e := range in.Mirror {
			if e != nil && e.Identity == id {
				return e
			}
		}
		return nil
	}
	claims := map[string][]string{}
	for _, c := range cands {
		if !c.Owned {
			claims[c.InstanceID] = append(claims[c.InstanceID], c.Name)
		}
	}

	sorted := slices.Clone(cands)
	slices.SortFunc(sorted, func(a, b AdoptCandidate) int {
		return cmp.Or(cmp.Compare(a.InstanceID, b.InstanceID), cmp.Compare(a.Name, b.Name), cmp.Compare(a.AssetID, b.AssetID))
	})
	expected := map[string]int{}
	for _, c := range sorted {
		it := AdoptItem{AssetID: c.AssetID, Name: c.Name, InstanceID: c.InstanceID}
		aid, perr := uuid.Parse(c.AssetID)
		ids := byInstance[c.InstanceID]
		switch {
		case c.Owned:
			it.Reason = AdoptOwned
		case byAsset[strings.ToLower(c.AssetID)] != nil:
			it.Reason, it.Detail = AdoptOwned, "in the mirror as "+byAsset[strings.ToLower(c.AssetID)].Identity.Key()
		case perr != nil:
			it.Reason, it.Detail = AdoptBadAssetID, c.AssetID
		case len(claims[c.InstanceID]) > 1:
			it.Reason = AdoptAmbiguous
			it.Detail = fmt.Sprintf("%d assets name this instance: %s", len(claims[c.InstanceID]), strings.Join(claims[c.InstanceID], ", "))
		case len(ids) == 0:
			it.Reason = AdoptNotSeen
		case len(ids) > 1:
			slices.SortFunc(ids, cmpID)
			keys := make([]string, len(ids))
			for i, id := range ids {
				keys[i] = id.Key()
			}
			it.Reason, it.Detail = AdoptAmbiguous, "listed as "+strings.Join(keys, ", ")
		}
		if it.Reason != "" {
			out.Result.Items = append(out.Result.Items, it)
			continue
		}
		id := ids[0]
		sn := byIdentity[id]
		si := &in.Scopes[sn.scope]
		it.Identity, it.Scope, it.PassID = &id, &si.Scope, si.Pass.ID
		if e := live[id]; e != nil {
			it.Reason = AdoptManaged
			it.Detail = fmt.Sprintf("asset %s %q", e.AssetID, e.State.Name)
			out.Result.Items = append(out.Result.Items, it)
			continue
		}
		m, skip := sc.mapInstance(sn.inst)
		if skip != "" {
			it.Reason, it.Detail = AdoptNotDesired, skip
			out.Result.Items = append(out.Result.Items, it)
			continue
		}
		name := strings.TrimSpace(c.Name)
		if name == "" {
			name = BaseName(sn.inst)
		}
		des := sc.build(sn.inst, m, name, false)
		des.IsActive = c.IsActive // a human's (de)activation is kept
		if len(c.Protocols) > 0 {
			des.Protocols = slices.Clone(c.Protocols)
		}
		it.Adopt, it.Desired = true, &des
		it.Changes = adoptChanges(c, &des, m.address)
		gen := nowGen
		if e := tomb(id); e != nil && e.Generation >= gen {
			gen = e.Generation + 1
		}
		out.Intents = append(out.Intents, *events.NewIntent(events.OpAdopt, aid, id, gen, &des, CauseAdoptLegacy,
			in.RunID, si.Scope, si.Pass.ID, now))
		expected[ScopeKey(si.Scope)]++
		out.Result.Adopted++
		out.Result.Items = append(out.Result.Items, it)
	}
	if len(out.Intents) > 0 {
		var scopes []events.RunScope
		for i := range in.Scopes {
			s := &in.Scopes[i]
			if n := expected[ScopeKey(s.Scope)]; n > 0 {
				scopes = append(scopes, events.RunScope{Scope: s.Scope, PassID: s.Pass.ID, ExpectedIntents: n})
			}
		}
		out.Run = events.NewRunOpen(in.RunID, now, "adopt", scopes)
	}
	return out, nil
}

// adoptChanges lists the owned fields the adopt intent changes, as the
// applier's PATCH will (labels merged, our node added, other nodes kept).
func adoptChanges(c AdoptCandidate, d *events.Desired, addr netip.Addr) []FieldChange {
	var out []FieldChange
	if a, err := netip.ParseAddr(strings.TrimSpace(c.Address)); err != nil || a.Unmap() != addr {
		out = append(out, FieldChange{Field: "address", From: c.Address, To: d.Address})
	}
	if c.Platform != d.Platform {
		out = append(out, FieldChange{Field: "platform", From: c.Platform, To: d.Platform})
	}
	if !slices.Contains(c.Nodes, d.NodePath) {
		out = append(out, FieldChange{Field: "node", From: strings.Join(c.Nodes, ", "), To: "+ " + d.NodePath})
	}
	var add []string
	for _, l := range d.Labels {
		if !slices.Contains(c.Labels, l) {
			add = append(add, l.Name+":"+l.Value)
		}
	}
	if len(add) > 0 {
		out = append(out, FieldChange{Field: "labels", To: "+ " + strings.Join(add, ", ")})
	}
	if d.Zone != "" && d.Zone != c.Zone {
		out = append(out, FieldChange{Field: "zone", From: c.Zone, To: d.Zone})
	}
	return out
}

// AdoptPendingTTL bounds how long creates wait for an adopt intent that
// never reached the mirror (dead-lettered: the asset was deleted by hand).
const AdoptPendingTTL = 24 * time.Hour
