package applier

import "errors"

// Dead-letter reasons (snake_case codes in the jmssync-dlq-reason header).
const (
	ReasonMalformed        = "malformed"         // not a decodable message
	ReasonUnknownSchema    = "unknown_schema"    // not an intent
	ReasonInvalid          = "invalid"           // an intent that breaks the contract
	ReasonAssetIDMismatch  = "asset_id_mismatch" // not the deterministic id of this install and org
	ReasonNotOwned         = "not_owned"         // the asset lacks jmssync:<install-id>: never touched
	ReasonAssetMissing     = "asset_missing"     // an update of an asset deleted by hand
	ReasonRejected         = "rejected"          // JumpServer refused the item (400 with field errors)
	ReasonNameConflict     = "name_conflict"     // no free name even after suffixing
	ReasonPlatformNotFound = "platform_not_found"
	ReasonZoneNotFound     = "zone_not_found"
	ReasonInvalidNodePath  = "invalid_node_path"
	ReasonMaxAttempts      = "max_attempts" // an item-specific server error that never cleared
)

// Pause reasons (applier_paused alerts, jmssync_state keys applier.paused.<reason>).
const (
	PauseBreaker  = "breaker"
	PauseAuth     = "auth"
	PauseTemplate = "account_template"
	PauseConfig   = "config"
)

var (
	// errAbandoned: a test hook simulated a crash; the batch is left unsettled.
	errAbandoned = errors.New("applier: batch abandoned (simulated crash)")
)
