package jumpserver

import (
	"encoding/json"
	"strconv"

	"github.com/jmssync/jmssync/libs/events"
)

// Version is the API generation the client detected.
type Version string

const (
	// V47 is JumpServer ≤ 4.9 (tested as 4.7): /assets/domains/, asset field
	// "domain", lists capped at 10000, bulk create does not take accounts,
	// the asset cap counts hosts of the current org.
	V47 Version = "4.7"
	// V410 is JumpServer 4.10+: /assets/zones/, asset field "zone", lists
	// capped at 1000, the asset cap counts every asset of every org.
	V410 Version = "4.10"
)

// PageCap is the largest limit the server honours for a version.
func (v Version) PageCap() int {
	if v == V47 {
		return 10000
	}
	return 1000
}

// zoneField is the asset field and list filter naming the zone.
func (v Version) zoneField() string {
	if v == V47 {
		return "domain"
	}
	return "zone"
}

func (v Version) zonePath() string {
	if v == V47 {
		return "/api/v1/assets/domains/"
	}
	return "/api/v1/assets/zones/"
}

// Ref is a related object as JumpServer renders it: {"id","name"}.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// PlatformRef is a host's platform: {"id","name"} (4.10 adds "type").
type PlatformRef struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// LabelRef is a label attached to an asset.
type LabelRef struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Host is an asset as JumpServer returned it (the fields jms-sync reads).
type Host struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Address   string            `json:"address"`
	Platform  PlatformRef       `json:"platform"`
	Protocols []events.Protocol `json:"protocols"`
	Nodes     []Ref             `json:"nodes"`
	// NodePaths are the full node paths ("/DEFAULT/阿里云/prod"), from
	// nodes_display, in the order of Nodes.
	NodePaths []string   `json:"nodes_display"`
	Labels    []LabelRef `json:"labels"`
	// Zone is the zone (4.10) or domain (4.7); nil when unset.
	Zone     *Ref   `json:"-"`
	IsActive bool   `json:"is_active"`
	Comment  string `json:"comment"`
	Category string `json:"-"`
	OrgID    string `json:"org_id"`
}

// UnmarshalJSON accepts both "zone" and "domain", and labeled choices.
func (h *Host) UnmarshalJSON(b []byte) error {
	type plain Host
	var aux struct {
		plain
		Zone     *Ref            `json:"zone"`
		Domain   *Ref            `json:"domain"`
		Category json.RawMessage `json:"category"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*h = Host(aux.plain)
	h.Zone = aux.Zone
	if h.Zone == nil {
		h.Zone = aux.Domain
	}
	h.Category = choiceValue(aux.Category)
	return nil
}

// NodeIDs returns the ids of the host's nodes.
func (h *Host) NodeIDs() []string {
	out := make([]string, len(h.Nodes))
	for i, n := range h.Nodes {
		out[i] = n.ID
	}
	return out
}

// LabelPairs returns the host's labels as name/value pairs.
func (h *Host) LabelPairs() []events.Label {
	out := make([]events.Label, len(h.Labels))
	for i, l := range h.Labels {
		out[i] = events.Label{Name: l.Name, Value: l.Value}
	}
	return out
}

// HasLabel reports whether the host carries name:value (the ownership check
// to repeat on what JumpServer returned before an update or delete).
func (h *Host) HasLabel(name, value string) bool {
	for _, l := range h.Labels {
		if l.Name == name && l.Value == value {
			return true
		}
	}
	return false
}

// choiceValue reads a labeled choice ({"value","label"}) or a plain string.
func choiceValue(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var c struct {
		Value string `json:"value"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.Value
}

// Platform is a JumpServer platform (global, resolved by name).
type Platform struct {
	ID        int                `json:"id"`
	Name      string             `json:"name"`
	Category  string             `json:"-"`
	Type      string             `json:"-"`
	Protocols []PlatformProtocol `json:"protocols"`
	// GatewayEnabled (domain_enabled on 4.7): when false JumpServer silently
	// nulls an asset's zone.
	GatewayEnabled bool `json:"-"`
}

// PlatformProtocol is one protocol a platform offers.
type PlatformProtocol struct {
	Name     string `json:"name"`
	Port     int    `json:"port"`
	Primary  bool   `json:"primary"`
	Required bool   `json:"required"`
	Default  bool   `json:"default"`
}

// UnmarshalJSON reads labeled choices and both gateway flag names.
func (p *Platform) UnmarshalJSON(b []byte) error {
	type plain Platform
	var aux struct {
		plain
		Category       json.RawMessage `json:"category"`
		Type           json.RawMessage `json:"type"`
		GatewayEnabled *bool           `json:"gateway_enabled"`
		DomainEnabled  *bool           `json:"domain_enabled"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*p = Platform(aux.plain)
	p.Category, p.Type = choiceValue(aux.Category), choiceValue(aux.Type)
	switch {
	case aux.GatewayEnabled != nil:
		p.GatewayEnabled = *aux.GatewayEnabled
	case aux.DomainEnabled != nil:
		p.GatewayEnabled = *aux.DomainEnabled
	}
	return nil
}

// Node is an asset tree node.
type Node struct {
	ID        string `json:"id"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	FullValue string `json:"full_value"`
}

// parentKey is the key of the node's parent ("" for an org root).
func (n Node) parentKey() string {
	for i := len(n.Key) - 1; i >= 0; i-- {
		if n.Key[i] == ':' {
			return n.Key[:i]
		}
	}
	return ""
}

func (n Node) isRoot() bool {
	if n.Key == "" {
		return false
	}
	_, err := strconv.Atoi(n.Key)
	return err == nil
}

// Zone is a zone (4.10) or domain (4.7).
type Zone struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AccountTemplate is an account template (secrets are never read).
type AccountTemplate struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Username   string `json:"username"`
	SecretType string `json:"-"`
}

// UnmarshalJSON reads the labeled secret_type.
func (t *AccountTemplate) UnmarshalJSON(b []byte) error {
	type plain AccountTemplate
	var aux struct {
		plain
		SecretType json.RawMessage `json:"secret_type"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*t = AccountTemplate(aux.plain)
	t.SecretType = choiceValue(aux.SecretType)
	return nil
}

// Org is the organisation the client works in.
type Org struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	IsDefault bool   `json:"is_default"`
	IsRoot    bool   `json:"is_root"`
}

// Info is what Start found out.
type Info struct {
	Version  Version
	Org      Org
	RootNode Node
	// PageSize is the list page size in use (the version's cap unless
	// Config.PageSize is smaller).
	PageSize  int
	Platforms int
}
