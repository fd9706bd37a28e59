package asset

import "strings"

// State is the provider-neutral lifecycle state of an instance. The cloud's
// own word is kept beside it in Instance.Status.
type State string

const (
	// Running: the instance is up.
	Running State = "running"
	// Stopped: the instance exists but is not running (Aliyun Stopped; Huawei
	// SHUTOFF, SUSPENDED, PAUSED, SHELVED…). Stopped is not released: it is kept.
	Stopped State = "stopped"
	// Transitional: anything else (starting, stopping, building, resizing,
	// error, an unknown word). Such an instance is seen — never deleted — but
	// not mapped to a desired asset until it settles.
	Transitional State = "transitional"
)

// Valid reports whether s is one of the three states.
func (s State) Valid() bool { return s == Running || s == Stopped || s == Transitional }

// NormalizeState maps a cloud status word to a State. Matching ignores case
// and surrounding space; an empty or unknown word is Transitional, the safe
// choice. The provider is accepted so per-cloud words can diverge later;
// today the vocabularies do not overlap.
func NormalizeState(_ Provider, raw string) State {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "running", // Aliyun
		"active": // Huawei
		return Running
	case "stopped", // Aliyun
		"shutoff", "suspended", "paused", "shelved", "shelved_offloaded": // Huawei
		return Stopped
	}
	return Transitional
}
