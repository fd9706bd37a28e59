package events

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmssync/jmssync/libs/asset"
)

// AppliedOp is what happened to an asset, in the past tense. It is the
// <op> token of the public subject jmssync.asset.<op>.<provider>.<account-id>.<region>.
type AppliedOp string

const (
	Created     AppliedOp = "created"
	Updated     AppliedOp = "updated"
	Activated   AppliedOp = "activated"
	Deactivated AppliedOp = "deactivated"
	Deleted     AppliedOp = "deleted"
	Orphaned    AppliedOp = "orphaned"
	Adopted     AppliedOp = "adopted"
)

// AppliedOps lists every applied op. Subscribers must accept ops not in
// this list (new ones are an additive change).
func AppliedOps() []AppliedOp {
	return []AppliedOp{Created, Updated, Activated, Deactivated, Deleted, Orphaned, Adopted}
}

// Valid reports whether o is a known applied op.
func (o AppliedOp) Valid() bool {
	for _, k := range AppliedOps() {
		if o == k {
			return true
		}
	}
	return false
}

// AssetState is an asset's jms-sync-relevant fields as JumpServer returned
// them (normalised), before or after a change.
type AssetState struct {
	Name      string     `json:"name"`
	Address   string     `json:"address"`
	Platform  string     `json:"platform"`
	Protocols []Protocol `json:"protocols,omitempty"`
	Nodes     []string   `json:"nodes,omitempty"` // node paths
	Labels    []Label    `json:"labels,omitempty"`
	Zone      string     `json:"zone,omitempty"`
	IsActive  bool       `json:"is_active"`
	Comment   string     `json:"comment,omitempty"`
}

// JumpServerRef says which JumpServer and organisation a fact is about.
type JumpServerRef struct {
	URL     string `json:"url"` // base URL, never with credentials
	OrgID   string `json:"org_id"`
	OrgName string `json:"org_name,omitempty"`
}

// AppliedFact is the public contract: one change jms-sync made to a
// JumpServer asset, published after the write succeeded and the mirror was
// updated. Redelivery may publish the same fact twice (same MsgID).
type AppliedFact struct {
	Schema    string         `json:"schema"`
	Op        AppliedOp      `json:"op"`
	AssetID   uuid.UUID      `json:"asset_id"`
	Identity  asset.ID       `json:"identity"`
	Provider  asset.Provider `json:"provider"`
	AccountID string         `json:"account_id"`
	Region    string         `json:"region"`
	// Before is null for created; After is null for deleted.
	Before           *AssetState   `json:"before"`
	After            *AssetState   `json:"after"`
	AppliedAt        time.Time     `json:"applied_at"`
	RunID            string        `json:"run_id"`
	IntentGeneration uint64        `json:"intent_generation"`
	JumpServer       JumpServerRef `json:"jumpserver"`
}

// NewAppliedFact builds the fact of an applied intent.
func NewAppliedFact(in *Intent, before, after *AssetState, applied time.Time, js JumpServerRef) *AppliedFact {
	return &AppliedFact{
		Schema: SchemaAssetApplied, Op: in.Op.Applied(), AssetID: in.AssetID, Identity: in.Identity,
		Provider: in.Identity.Provider, AccountID: in.Scope.AccountID, Region: in.Scope.Region,
		Before: before, After: after, AppliedAt: applied.UTC(), RunID: in.RunID,
		IntentGeneration: in.Generation, JumpServer: js,
	}
}

func (*AppliedFact) SchemaID() string { return SchemaAssetApplied }

// MsgID is "<asset id>:<generation>:<op>".
func (f *AppliedFact) MsgID() string {
	return f.AssetID.String() + ":" + strconv.FormatUint(f.IntentGeneration, 10) + ":" + string(f.Op)
}

func (f *AppliedFact) Validate() error {
	p := problems{schema: SchemaAssetApplied}
	p.schemaField(f.Schema)
	if !f.Op.Valid() {
		p.add("op", "unknown op %q", f.Op)
	}
	if f.AssetID == uuid.Nil {
		p.add("asset_id", "required")
	}
	p.nested("identity", f.Identity.Validate())
	if !f.Provider.Valid() {
		p.add("provider", "unknown provider %q", f.Provider)
	} else if f.Identity.Provider != f.Provider {
		p.add("provider", "%s differs from identity.provider %s", f.Provider, f.Identity.Provider)
	}
	p.text("account_id", f.AccountID, true)
	p.text("region", f.Region, true)
	if f.Op == Created && f.Before != nil {
		p.add("before", "must be null for created")
	} else if f.Op != Created && f.Before == nil {
		p.add("before", "required for %s", f.Op)
	}
	if f.Op == Deleted && f.After != nil {
		p.add("after", "must be null for deleted")
	} else if f.Op != Deleted && f.After == nil {
		p.add("after", "required for %s", f.Op)
	}
	p.assetState("before", f.Before)
	p.assetState("after", f.After)
	p.time("applied_at", f.AppliedAt)
	p.token("run_id", f.RunID)
	if f.IntentGeneration == 0 {
		p.add("intent_generation", "must be >= 1")
	}
	if u, err := url.Parse(f.JumpServer.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("jumpserver.url", "an http(s) URL required, not %q", f.JumpServer.URL)
	} else if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(f.JumpServer.URL, "?") {
		p.add("jumpserver.url", "must carry no credentials, query or fragment")
	}
	p.text("jumpserver.org_id", f.JumpServer.OrgID, true)
	p.text("jumpserver.org_name", f.JumpServer.OrgName, false)
	return p.err()
}

func (p *problems) assetState(field string, s *AssetState) {
	if s == nil {
		return
	}
	p.text(field+".name", s.Name, true)
	p.text(field+".address", s.Address, true)
	p.text(field+".platform", s.Platform, true)
	p.protocols(field+".protocols", s.Protocols, false)
	for i, n := range s.Nodes {
		p.text(field+".nodes["+itoa(i)+"]", n, true)
	}
	p.labels(field+".labels", s.Labels)
	p.text(field+".zone", s.Zone, false)
	p.multiline(field+".comment", s.Comment, false)
}
