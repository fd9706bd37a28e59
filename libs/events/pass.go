package events

import (
	"regexp"
	"time"
)

// PassStatus is the outcome of a pass as the collector saw it.
type PassStatus string

const (
	// PassComplete: every page of every listing succeeded. The reconciler
	// still verifies counts, digest, identity and plausibility before it lets
	// the pass delete anything.
	PassComplete PassStatus = "complete"
	// PassFailed: the listing did not finish; Reason says why. A failed pass
	// never deletes.
	PassFailed PassStatus = "failed"
)

// Reasons a collector gives for a failed pass (PassClose.Reason). Other
// snake_case codes may be added without a schema change.
const (
	ReasonAPIError        = "api_error"
	ReasonThrottled       = "throttled"
	ReasonTimeout         = "timeout"
	ReasonAuth            = "auth"             // credentials rejected
	ReasonPermission      = "permission"       // list or dry-run probe denied
	ReasonChurn           = "churn"            // the listing changed under offset paging
	ReasonLeaseLost       = "lease_lost"       // the region lease moved during the pass
	ReasonPublish         = "publish"          // a chunk could not be published
	ReasonCanceled        = "canceled"         // shutdown during the pass
	ReasonIdentityUnknown = "identity_unknown" // the account identity could not be read
)

// Probe names and outcomes (PassClose.Probes).
const (
	ProbeListPermission = "list_permission"
	ProbeDryRun         = "dry_run"

	ProbeOK          = "ok"
	ProbeDenied      = "denied"
	ProbeError       = "error"
	ProbeSkipped     = "skipped"
	ProbeUnsupported = "unsupported"
)

// Probe is the result of one check a collector made besides listing, such as
// a DryRun call proving the key may list instances.
type Probe struct {
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

// PassClose ends a pass: it says whether the listing was complete and what
// the reconciler must find in the chunks (count of chunks and instances, the
// digest of the instances) before trusting it.
type PassClose struct {
	Schema        string     `json:"schema"`
	PassID        string     `json:"pass_id"`
	Scope         Scope      `json:"scope"`
	Status        PassStatus `json:"status"`
	Reason        string     `json:"reason,omitempty"` // a snake_case code (Reason…); required when failed
	Detail        string     `json:"detail,omitempty"` // human text, never a secret
	ChunkCount    int        `json:"chunk_count"`
	InstanceCount int        `json:"instance_count"`
	// Digest is asset.Digest of every instance of the pass (lower-case hex
	// SHA-256); required when complete.
	Digest string `json:"digest,omitempty"`
	// AccountIdentity is the cloud account the credentials belong to as the
	// cloud reported it (Aliyun account id, Huawei domain id); required when
	// complete. A change between passes fails verification.
	AccountIdentity string `json:"account_identity,omitempty"`
	// FencingToken is the revision of the region lease the collector held; a
	// pass with a lower token than one already accepted is stale.
	FencingToken uint64    `json:"fencing_token"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
	Collector    string    `json:"collector"` // replica id
	Probes       []Probe   `json:"probes,omitempty"`
}

// NewPassComplete builds the close record of a complete pass. The caller sets
// Scope-independent extras (Probes, AccountIdentity if learnt later…) as needed.
func NewPassComplete(passID string, scope Scope, chunks, instances int, digest, accountIdentity string,
	fencing uint64, started, finished time.Time, collector string,
) *PassClose {
	return &PassClose{
		Schema: SchemaPassClose, PassID: passID, Scope: scope, Status: PassComplete,
		ChunkCount: chunks, InstanceCount: instances, Digest: digest, AccountIdentity: accountIdentity,
		FencingToken: fencing, StartedAt: started.UTC(), FinishedAt: finished.UTC(), Collector: collector,
	}
}

// NewPassFailed builds the close record of a failed pass. chunks counts the
// chunks already published, so the reconciler can discard them.
func NewPassFailed(passID string, scope Scope, reason, detail string, chunks int,
	fencing uint64, started, finished time.Time, collector string,
) *PassClose {
	return &PassClose{
		Schema: SchemaPassClose, PassID: passID, Scope: scope, Status: PassFailed, Reason: reason, Detail: detail,
		ChunkCount: chunks, FencingToken: fencing, StartedAt: started.UTC(), FinishedAt: finished.UTC(), Collector: collector,
	}
}

func (*PassClose) SchemaID() string { return SchemaPassClose }

// MsgID is "<pass id>.close".
func (c *PassClose) MsgID() string { return c.PassID + ".close" }

var (
	digestRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	codeRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

func (c *PassClose) Validate() error {
	p := problems{schema: SchemaPassClose}
	p.schemaField(c.Schema)
	p.token("pass_id", c.PassID)
	p.scope("scope", c.Scope)
	switch c.Status {
	case PassComplete:
		if !digestRE.MatchString(c.Digest) {
			p.add("digest", "required when complete: 64 lower-case hex digits, not %q", c.Digest)
		}
		p.text("account_identity", c.AccountIdentity, true)
		if c.Reason != "" {
			p.add("reason", "must be empty when complete")
		}
	case PassFailed:
		if !codeRE.MatchString(c.Reason) {
			p.add("reason", "required when failed: a snake_case code, not %q", c.Reason)
		}
		if c.Digest != "" && !digestRE.MatchString(c.Digest) {
			p.add("digest", "64 lower-case hex digits, not %q", c.Digest)
		}
		p.text("account_identity", c.AccountIdentity, false)
	default:
		p.add("status", "must be complete or failed, not %q", c.Status)
	}
	p.multiline("detail", c.Detail, false)
	if c.ChunkCount < 0 {
		p.add("chunk_count", "must be >= 0")
	}
	if c.InstanceCount < 0 {
		p.add("instance_count", "must be >= 0")
	}
	if c.Status == PassComplete && c.InstanceCount > 0 && c.ChunkCount == 0 {
		p.add("chunk_count", "must be > 0 when instance_count is %d", c.InstanceCount)
	}
	p.time("started_at", c.StartedAt)
	p.time("finished_at", c.FinishedAt)
	if !c.StartedAt.IsZero() && c.FinishedAt.Before(c.StartedAt) {
		p.add("finished_at", "before started_at")
	}
	p.text("collector", c.Collector, true)
	for i, pr := range c.Probes {
		if !codeRE.MatchString(pr.Name) {
			p.add("probes["+itoa(i)+"].name", "a snake_case name, not %q", pr.Name)
		}
		switch pr.Outcome {
		case ProbeOK, ProbeDenied, ProbeError, ProbeSkipped, ProbeUnsupported:
		default:
			p.add("probes["+itoa(i)+"].outcome", "must be ok, denied, error, skipped or unsupported, not %q", pr.Outcome)
		}
		p.text("probes["+itoa(i)+"].detail", pr.Detail, false)
	}
	return p.err()
}
