package events

import "github.com/jmssync/jmssync/libs/asset"

// Scope is one (provider, cloud account, region): the unit a collector lists
// and the reconciler decides for. AccountID is the configured account's
// stable id; AccountName its display name (any language), never used as a key.
type Scope struct {
	Provider    asset.Provider `json:"provider"`
	AccountID   string         `json:"account_id"`
	AccountName string         `json:"account_name,omitempty"`
	Region      string         `json:"region"`
}

// String is "provider/account-id/region", for logs.
func (s Scope) String() string { return string(s.Provider) + "/" + s.AccountID + "/" + s.Region }

// Contains reports whether an instance belongs to the scope.
func (s Scope) Contains(in *asset.Instance) bool {
	return in.Provider == s.Provider && in.AccountID == s.AccountID && in.Region == s.Region
}

func (p *problems) scope(prefix string, s Scope) {
	if !s.Provider.Valid() {
		p.add(prefix+".provider", "unknown provider %q", s.Provider)
	}
	p.text(prefix+".account_id", s.AccountID, true)
	if len(s.AccountID) > 128 {
		p.add(prefix+".account_id", "longer than 128 bytes")
	}
	p.text(prefix+".account_name", s.AccountName, false)
	p.text(prefix+".region", s.Region, true)
	if len(s.Region) > 64 {
		p.add(prefix+".region", "longer than 64 bytes")
	}
}

// Validate checks the scope on its own.
func (s Scope) Validate() error {
	p := problems{schema: "scope"}
	p.scope("scope", s)
	return p.err()
}
