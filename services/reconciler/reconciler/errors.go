package reconciler

import "errors"

var (
	// ErrMirrorNotReady: the applier has not rebuilt the mirror yet
	// (key applier.mirror.ready absent); no cycle decides before it is.
	ErrMirrorNotReady = errors.New("reconciler: mirror not rebuilt yet")
	// ErrStateConflict: a state key changed between read and write (another
	// reconciler, or an operator command); the work is redone from a fresh read.
	ErrStateConflict = errors.New("reconciler: state changed concurrently")
	// ErrPassUnavailable: the chunks of a verified pass are no longer in the
	// SNAPSHOTS stream (or do not match its digest any more).
	ErrPassUnavailable = errors.New("reconciler: pass chunks unavailable")
)
