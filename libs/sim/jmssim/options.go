package jmssim

import (
	"time"
)

// Versions the simulator can behave as.
const (
	V47  = "4.7"
	V410 = "4.10"
)

// Built-in organisation ids (spec §1.5).
const (
	RootOrgID    = "00000000-0000-0000-0000-000000000000"
	DefaultOrgID = "00000000-0000-0000-0000-000000000002"
	SystemOrgID  = "00000000-0000-0000-0000-000000000004"
)

// Credentials a zero Options gets, so that tests can sign requests without
// configuring anything.
const (
	DefaultKeyID    = "6d6b1a52-5b1e-4c55-9f0a-3c2b8e4f0001"
	DefaultSecret   = "jmssim-default-secret-0123456789abcd" // 36 characters, like random_string(36)
	DefaultUsername = "admin"
	DefaultPassword = "admin"
	// DefaultPrivateToken is accepted as "Authorization: Token <key>".
	DefaultPrivateToken = "jmssim-private-token-0123456789abcdef01"
)

// DefaultAssetCap is the Community Edition cap (spec §4.1).
const DefaultAssetCap = 5000

// RealThrottleUser is JumpServer 4.10.17+'s default per-user rate (per minute).
// The simulator does not throttle unless Knobs.ThrottlePerMinute is set.
const RealThrottleUser = 4096

// AccessKey is an access key for HTTP Signature authentication.
type AccessKey struct {
	ID     string `json:"id"`     // the KeyID; a UUID
	Secret string `json:"secret"` // the HMAC secret
	// User names the principal; throttling budgets are per user.
	User string `json:"user,omitempty"`
	// ReadOnly keys get 403 on every write (RBAC without add/change/delete).
	ReadOnly bool `json:"read_only,omitempty"`
	// Inactive keys are refused with 401 "Invalid signature.".
	Inactive bool `json:"inactive,omitempty"`
	// IPGroup restricts the caller's address (IPs or CIDRs); empty allows all.
	IPGroup []string `json:"ip_group,omitempty"`
}

// User can obtain a Bearer token with POST /api/v1/authentication/auth/.
type User struct {
	Username string `json:"username"`
	Password string `json:"password"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// PrivateToken is accepted as "Authorization: Token <Key>".
type PrivateToken struct {
	Key      string `json:"key"`
	User     string `json:"user"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// Org is an extra organisation (besides the built-in Default, root and
// System orgs).
type Org struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Window is an outage interval on the simulator's clock. A zero Until means
// "until further notice".
type Window struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// Knobs are the run-time adjustable behaviours. They can be changed while
// the simulator serves (Server.SetKnobs, Server.UpdateKnobs, PUT /_sim/knobs).
type Knobs struct {
	// Latency is added to every API request while it holds a worker.
	Latency time.Duration `json:"latency"`
	// PerItemCost is added per item of a bulk create or bulk update (and once
	// for a single create/update), between validation and commit — so two
	// concurrent creates of one name can both pass validation and the second
	// gets the 500 a database unique constraint gives.
	PerItemCost time.Duration `json:"per_item_cost"`
	// Workers caps concurrent API requests, like a fixed pool of server
	// workers; excess requests wait. 0 = unlimited.
	Workers int `json:"workers"`
	// ErrorRate is the probability that an API request is answered with an
	// injected 500 {"error":"Server internal error"} before anything happens.
	ErrorRate float64 `json:"error_rate"`
	// Outage answers every API request with 503 while true.
	Outage bool `json:"outage"`
	// Outages are outage windows on the simulator's clock.
	Outages []Window `json:"outages,omitempty"`
	// ThrottlePerMinute is the per-user request budget over a sliding minute
	// (DRF SimpleRateThrottle); beyond it requests get 429 with Retry-After.
	// 0 = no throttling (JumpServer ≤4.10.14 and 4.7 do not throttle).
	ThrottlePerMinute int `json:"throttle_per_minute"`
	// DropRate is the probability that a successful write's response is
	// dropped after the write committed; DropNextWrites drops the next N.
	DropRate       float64 `json:"drop_rate"`
	DropNextWrites int     `json:"drop_next_writes"`
	// DropAction is what a dropped response does: "hang" (default: the
	// connection stays silent until the client gives up, i.e. the client
	// times out) or "close" (the connection is closed without a response).
	DropAction string `json:"drop_action,omitempty"`
	// AssetCap is the Community Edition asset cap; 0 means DefaultAssetCap.
	AssetCap int `json:"asset_cap"`
	// Licensed removes the cap (an Enterprise licence).
	Licensed bool `json:"licensed"`
}

// Options configure a simulator. The zero value is a 4.10 Community
// Edition with a "DEFAULT" root node, the default credentials and no faults.
type Options struct {
	Knobs

	// Version is "4.10" (default) or "4.7".
	Version string
	// RootNodeName is the Default org's name and root node value: "DEFAULT"
	// (installs created on v4, the default) or "Default" (upgraded installs).
	RootNodeName string
	// CaseInsensitiveNames makes asset names unique case-insensitively, as
	// with MySQL's default collation (PostgreSQL is case-sensitive).
	CaseInsensitiveNames bool
	// AccessKeys replace the default key (DefaultKeyID/DefaultSecret).
	AccessKeys []AccessKey
	// Users replace the default user (admin/admin) for Bearer tokens.
	Users []User
	// PrivateTokens replace the default private token.
	PrivateTokens []PrivateToken
	// Orgs are created in addition to the built-in ones; their root node
	// keys are "2", "3"… in order.
	Orgs []Org
	// PlatformIDs overrides platform ids by name (to test id drift, e.g.
	// {"Linux": 32}). Unlisted platforms keep their fresh-install ids unless
	// they collide, in which case they are moved past the highest id.
	PlatformIDs map[string]int
	// NoInternalErrors answers the inferred-500 signature cases (signed
	// content-type, missing signed header, non-UUID keyId, bad base64,
	// unsupported algorithm, missing required signed headers) with 401
	// "Invalid signature." instead of 500.
	NoInternalErrors bool
	// ParentSiblingQuirk rejects a child node whose value equals a sibling
	// of its parent (jumpserver#6075), on POST /nodes/{id}/children/.
	ParentSiblingQuirk bool
	// Messages overrides message texts by key (see messages.go), e.g. to
	// emulate another locale. Clients must not depend on texts.
	Messages map[string]string
	// Clock returns the current time; default time.Now. Timestamps,
	// throttling windows, outage windows and token expiry use it. Sleeps for
	// latency use real time.
	Clock func() time.Time
	// Seed seeds the RNG used for generated ids, error injection and drops.
	// 0 means 1.
	Seed uint64
	// LogSize is how many recent requests the request log keeps (default 2000).
	LogSize int
	// CreatedBy is the acting user's display name in created_by.
	CreatedBy string
}

func (o Options) withDefaults() Options {
	if o.Version != V47 {
		o.Version = V410
	}
	if o.RootNodeName == "" {
		o.RootNodeName = "DEFAULT"
	}
	if len(o.AccessKeys) == 0 {
		o.AccessKeys = []AccessKey{{ID: DefaultKeyID, Secret: DefaultSecret, User: DefaultUsername}}
	}
	for i := range o.AccessKeys {
		if o.AccessKeys[i].User == "" {
			o.AccessKeys[i].User = DefaultUsername
		}
	}
	if len(o.Users) == 0 {
		o.Users = []User{{Username: DefaultUsername, Password: DefaultPassword}}
	}
	if len(o.PrivateTokens) == 0 {
		o.PrivateTokens = []PrivateToken{{Key: DefaultPrivateToken, User: DefaultUsername}}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.LogSize <= 0 {
		o.LogSize = 2000
	}
	if o.CreatedBy == "" {
		o.CreatedBy = "Administrator"
	}
	return o
}

func (k Knobs) cap() int {
	if k.AssetCap <= 0 {
		return DefaultAssetCap
	}
	return k.AssetCap
}
