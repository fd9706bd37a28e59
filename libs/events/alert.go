package events

import (
	"strings"
	"time"
)

// AlertKind names what an alert is about; it is the <kind> token of
// jmssync.alert.<kind>. New kinds may be added without a schema change.
type AlertKind string

const (
	AlertPassFailed     AlertKind = "pass_failed"
	AlertPassSuspicious AlertKind = "pass_suspicious" // verified but implausible: emptied, shrunk, identity changed
	AlertDeletionsHeld  AlertKind = "deletions_held"  // a deletion plan waits for confirm
	AlertApplierPaused  AlertKind = "applier_paused"  // breaker open, auth failure, missing template…
	AlertApplierResumed AlertKind = "applier_resumed"
	AlertScopeOrphaned  AlertKind = "scope_orphaned"
	AlertCapReached     AlertKind = "cap_reached" // Community Edition asset cap: creates paused
	AlertCapCleared     AlertKind = "cap_cleared"
	AlertDeadLettered   AlertKind = "dead_lettered"
)

// Severity of an alert.
type Severity string

const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Alert reports a change of state an operator should know about. Producers
// publish one per state change; StateChangeID identifies the change so
// redelivery and restarts do not notify twice. Alerts never carry secrets:
// Validate rejects detail keys that name one.
type Alert struct {
	Schema   string    `json:"schema"`
	Kind     AlertKind `json:"kind"`
	Severity Severity  `json:"severity"`
	Scope    *Scope    `json:"scope,omitempty"` // absent for global alerts
	Message  string    `json:"message"`
	// Details are short facts for the card ("plan": "…", "deletions": "37").
	Details       map[string]string `json:"details,omitempty"`
	StateChangeID string            `json:"state_change_id"`
	Source        string            `json:"source"` // the producing service
	RaisedAt      time.Time         `json:"raised_at"`
}

// NewAlert builds an alert; scope may be nil.
func NewAlert(kind AlertKind, sev Severity, scope *Scope, message, stateChangeID, source string,
	raised time.Time, details map[string]string,
) *Alert {
	return &Alert{
		Schema: SchemaAlert, Kind: kind, Severity: sev, Scope: scope, Message: message, Details: details,
		StateChangeID: stateChangeID, Source: source, RaisedAt: raised.UTC(),
	}
}

func (*Alert) SchemaID() string { return SchemaAlert }

// MsgID is "<kind>:<state change id>".
func (a *Alert) MsgID() string { return string(a.Kind) + ":" + a.StateChangeID }

// secretWords are fragments of detail keys that would name a secret.
var secretWords = []string{"password", "passwd", "secret", "credential", "access_key", "accesskey",
	"private_key", "privatekey", "api_key", "apikey", "auth_token", "access_token", "authorization",
	"signature", "bearer", "cookie", "session"}

// SecretKey reports whether a map key looks like it would hold a secret.
func SecretKey(key string) bool {
	k := strings.ToLower(strings.ReplaceAll(key, "-", "_"))
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func (a *Alert) Validate() error {
	p := problems{schema: SchemaAlert}
	p.schemaField(a.Schema)
	if !codeRE.MatchString(string(a.Kind)) {
		p.add("kind", "required: a snake_case code, not %q", a.Kind)
	}
	switch a.Severity {
	case SeverityInfo, SeverityWarning, SeverityCritical:
	default:
		p.add("severity", "must be info, warning or critical, not %q", a.Severity)
	}
	if a.Scope != nil {
		p.scope("scope", *a.Scope)
	}
	p.multiline("message", a.Message, true)
	for k, v := range a.Details {
		switch {
		case !codeRE.MatchString(k):
			p.add("details", "key %q is not a snake_case name", k)
		case SecretKey(k):
			p.add("details."+k, "looks like a secret; secrets never go in alerts")
		}
		p.multiline("details."+k, v, false)
	}
	p.text("state_change_id", a.StateChangeID, true)
	p.text("source", a.Source, true)
	p.time("raised_at", a.RaisedAt)
	return p.err()
}
