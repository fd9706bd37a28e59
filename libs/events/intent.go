package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmssync/jmssync/libs/asset"
)

// Op is what an intent asks for.
type Op string

const (
	OpCreate     Op = "create"
	OpUpdate     Op = "update"     // patch owned fields
	OpActivate   Op = "activate"   // undo a deactivation jms-sync itself made
	OpDeactivate Op = "deactivate" // is_active=false: absent, or stopped when configured
	OpDelete     Op = "delete"
	OpOrphan     Op = "orphan" // out of scope: marked, never deleted without prune
	OpAdopt      Op = "adopt"  // take over an asset the Python tool created
)

// Ops lists every intent op.
func Ops() []Op {
	return []Op{OpCreate, OpUpdate, OpActivate, OpDeactivate, OpDelete, OpOrphan, OpAdopt}
}

// Valid reports whether o is a known op.
func (o Op) Valid() bool {
	for _, k := range Ops() {
		if o == k {
			return true
		}
	}
	return false
}

// Applied is the op's past tense, used in applied facts and their subjects.
func (o Op) Applied() AppliedOp {
	switch o {
	case OpCreate:
		return Created
	case OpUpdate:
		return Updated
	case OpActivate:
		return Activated
	case OpDeactivate:
		return Deactivated
	case OpDelete:
		return Deleted
	case OpOrphan:
		return Orphaned
	case OpAdopt:
		return Adopted
	}
	return ""
}

// needsDesired reports whether an op must carry the desired state.
func (o Op) needsDesired() bool { return o != OpDelete && o != OpOrphan }

// Protocol is one JumpServer asset protocol.
type Protocol struct {
	Name string `json:"name"` // ssh, rdp, sftp…
	Port int    `json:"port"`
}

// Label is one JumpServer label (name:value).
type Label struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Desired is the full state the reconciler wants a JumpServer asset to have.
// The applier decides per field what it may write (owned fields always,
// create-only fields on create, never the rest).
type Desired struct {
	Name      string     `json:"name"`
	Address   string     `json:"address"`
	Platform  string     `json:"platform"` // platform name, resolved by name
	Protocols []Protocol `json:"protocols"`
	NodePath  string     `json:"node_path"` // "/DEFAULT/阿里云/prod"
	Labels    []Label    `json:"labels,omitempty"`
	Zone      string     `json:"zone,omitempty"` // zone (domain before 4.10) name
	// AccountTemplate names the account template applied on create.
	AccountTemplate string `json:"account_template,omitempty"`
	Comment         string `json:"comment,omitempty"` // readable line, never identity
	IsActive        bool   `json:"is_active"`
}

// Intent asks the applier to bring one asset to a state. Intents of one
// asset carry increasing generations; the applier applies an intent only if
// its generation is newer than the mirror's.
type Intent struct {
	Schema     string    `json:"schema"`
	Op         Op        `json:"op"`
	AssetID    uuid.UUID `json:"asset_id"`
	Identity   asset.ID  `json:"identity"`
	Generation uint64    `json:"generation"`
	// Desired is required for every op but delete and orphan.
	Desired *Desired `json:"desired,omitempty"`
	// Cause says why, as a snake_case code ("new_instance", "address_changed",
	// "absent_2_passes", "scope_removed"…), for explain and notifications.
	Cause    string    `json:"cause"`
	RunID    string    `json:"run_id"`
	Scope    Scope     `json:"scope"`
	PassID   string    `json:"pass_id,omitempty"` // the pass the decision came from
	IssuedAt time.Time `json:"issued_at"`
	// ObservedAt is when that pass finished listing the cloud (its close
	// record's finished_at): the applier measures the lag from the cloud's
	// state to the JumpServer write with it. Absent when no pass is behind
	// the decision (or from a reconciler older than the field).
	ObservedAt time.Time `json:"observed_at,omitzero"`
}

// NewIntent builds an intent; desired may be nil for delete and orphan.
func NewIntent(op Op, assetID uuid.UUID, id asset.ID, generation uint64, desired *Desired,
	cause, runID string, scope Scope, passID string, issued time.Time,
) *Intent {
	return &Intent{
		Schema: SchemaIntent, Op: op, AssetID: assetID, Identity: id, Generation: generation,
		Desired: desired, Cause: cause, RunID: runID, Scope: scope, PassID: passID, IssuedAt: issued.UTC(),
	}
}

func (*Intent) SchemaID() string { return SchemaIntent }

// MsgID is "<asset key>:<generation>".
func (i *Intent) MsgID() string { return i.Identity.Key() + ":" + strconv.FormatUint(i.Generation, 10) }

func (i *Intent) Validate() error {
	p := problems{schema: SchemaIntent}
	p.schemaField(i.Schema)
	if !i.Op.Valid() {
		p.add("op", "unknown op %q", i.Op)
	}
	if i.AssetID == uuid.Nil {
		p.add("asset_id", "required")
	}
	p.nested("identity", i.Identity.Validate())
	if i.Generation == 0 {
		p.add("generation", "must be >= 1")
	}
	switch {
	case i.Desired != nil:
		p.desired("desired", i.Desired)
	case i.Op.needsDesired():
		p.add("desired", "required for op %s", i.Op)
	}
	if !codeRE.MatchString(i.Cause) {
		p.add("cause", "required: a snake_case code, not %q", i.Cause)
	}
	p.token("run_id", i.RunID)
	p.scope("scope", i.Scope)
	if i.Identity.Provider.Valid() && i.Scope.Provider.Valid() && i.Identity.Provider != i.Scope.Provider {
		p.add("identity.provider", "%s differs from scope.provider %s", i.Identity.Provider, i.Scope.Provider)
	}
	if i.PassID != "" {
		p.token("pass_id", i.PassID)
	}
	p.time("issued_at", i.IssuedAt)
	return p.err()
}

func (p *problems) desired(prefix string, d *Desired) {
	p.text(prefix+".name", d.Name, true)
	if len([]rune(d.Name)) > 128 {
		p.add(prefix+".name", "longer than 128 characters")
	}
	p.text(prefix+".address", d.Address, true)
	p.text(prefix+".platform", d.Platform, true)
	p.protocols(prefix+".protocols", d.Protocols, true)
	p.text(prefix+".node_path", d.NodePath, true)
	if d.NodePath != "" && !strings.HasPrefix(d.NodePath, "/") {
		p.add(prefix+".node_path", "must start with /, not %q", d.NodePath)
	}
	p.labels(prefix+".labels", d.Labels)
	p.text(prefix+".zone", d.Zone, false)
	p.text(prefix+".account_template", d.AccountTemplate, false)
	p.multiline(prefix+".comment", d.Comment, false)
}

func (p *problems) protocols(field string, ps []Protocol, required bool) {
	if required && len(ps) == 0 {
		p.add(field, "at least one protocol required")
	}
	for j, pr := range ps {
		f := fmt.Sprintf("%s[%d]", field, j)
		if !codeRE.MatchString(pr.Name) {
			p.add(f+".name", "a lower-case protocol name, not %q", pr.Name)
		}
		if pr.Port < 0 || pr.Port > 65535 {
			p.add(f+".port", "out of range: %d", pr.Port)
		}
	}
}

func (p *problems) labels(field string, ls []Label) {
	for j, l := range ls {
		f := fmt.Sprintf("%s[%d]", field, j)
		p.text(f+".name", l.Name, true)
		p.text(f+".value", l.Value, false)
	}
}
