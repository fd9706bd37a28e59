package collector

import "errors"

var (
	// ErrLeaseLost: the region lease moved to another replica (or could not
	// be renewed before it expired) while this replica held it.
	ErrLeaseLost = errors.New("collector: region lease lost")
	// ErrLeaseHeld: another replica holds the region lease; no pass was run.
	ErrLeaseHeld = errors.New("collector: region lease held by another replica")
	// ErrInvalidTarget: a target is unusable (bad scope, wrong provider, no
	// source, a duplicate).
	ErrInvalidTarget = errors.New("collector: invalid target")
	// ErrClosePublish: the close record of a pass could not be stored; the
	// pass does not exist for the reconciler and the next cycle makes a new one.
	ErrClosePublish = errors.New("collector: close record not published")
)

// Reasons the runner itself gives for a failed pass, besides the events.Reason*
// codes a Source reports.
const (
	// ReasonScopeMismatch: an instance of the listing names another
	// provider, account or region than the scope it was listed for.
	ReasonScopeMismatch = "scope_mismatch"
	// ReasonInvalidInstance: an instance of the listing is not valid
	// (asset.Instance.Validate) or too large for one chunk.
	ReasonInvalidInstance = "invalid_instance"
)

// errPassTimeout is the cancel cause of a pass that ran out of PassTimeout.
var errPassTimeout = errors.New("collector: pass timeout")

// ErrPassRunning: a pass of the scope is already running in this process.
var ErrPassRunning = errors.New("collector: a pass of this scope is already running")
