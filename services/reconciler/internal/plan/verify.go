package plan

import (
	"fmt"
	"strconv"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// Reasons a pass is not usable (Verdict.Reason). A failed close keeps the
// collector's own reason code (events.Reason…).
const (
	ReasonAlreadyVerified = "already_verified"   // the same pass again (redelivery)
	ReasonStaleToken      = "stale_token"        // fencing token below the accepted one
	ReasonOutOfOrder      = "out_of_order"       // started before the accepted pass
	ReasonScopeMismatch   = "scope_mismatch"     // close or an instance of another scope
	ReasonChunksMissing   = "chunks_missing"     // chunks received differ from chunk_count
	ReasonCountMismatch   = "count_mismatch"     // instances differ from instance_count
	ReasonDigestMismatch  = "digest_mismatch"    // digest of the instances differs
	ReasonDuplicate       = "duplicate_instance" // one instance id listed twice
	ReasonNoIdentity      = "identity_unknown"   // complete but no account identity
	ReasonIdentityChanged = "identity_changed"   // another cloud account than before
	ReasonEmptied         = "emptied"            // a populated scope listed none
	ReasonShrunk          = "shrunk"             // lost more than the shrink threshold
	ReasonMalformedClose  = "malformed_close"    // the close record does not validate
)

// Verdict is the outcome of VerifyPass.
type Verdict struct {
	// Usable: the pass may be decided from (and may delete). Its stats are
	// recorded in State.Verified.
	Usable bool
	// Ignored: a stale, out-of-order or repeated pass. Nothing changes, no
	// alert, and the latest usable pass stays the latest.
	Ignored bool
	// Reason is a snake_case code when not usable.
	Reason string
	// Alert is raised when a failed or suspicious condition starts or
	// changes; nil otherwise (once per state change).
	Alert *events.Alert
	// State is the scope state to persist (prev, updated).
	State ScopeState
}

// Rejected is the reason to give Diff for the scope's latest pass: empty
// when usable or ignored, else the reason code (destructive decisions wait).
func (v Verdict) Rejected() string {
	if v.Usable || v.Ignored {
		return ""
	}
	return v.Reason
}

// VerifyPass decides whether a closed pass may be trusted. instances are the
// instances of its chunks (any order), chunksReceived the number of distinct
// chunks received. prev is the scope's persisted state.
//
// Order of checks: ordering first (a stale or repeated pass is ignored
// silently, whatever its status), then the collector's status, then
// completeness (chunks, count, scope, duplicates, digest, identity present),
// then plausibility against the last usable pass (same account identity,
// not emptied, not shrunk beyond the threshold) unless an operator asked to
// rebaseline. A failed or suspicious pass is neither seen nor absent: it
// changes nothing but Trouble.
func VerifyPass(p *Policy, close *events.PassClose, instances []asset.Instance, chunksReceived int, prev ScopeState) Verdict {
	st := prev.clone()
	if st.Scope == (events.Scope{}) {
		st.Scope = close.Scope
	}
	v := Verdict{State: st}
	if last := prev.Verified; last != nil {
		switch {
		case close.PassID == last.PassID:
			return ignored(v, ReasonAlreadyVerified)
		case close.FencingToken < last.FencingToken:
			return ignored(v, ReasonStaleToken)
		case close.StartedAt.Before(last.StartedAt),
			close.StartedAt.Equal(last.StartedAt) && close.FinishedAt.Before(last.FinishedAt):
			return ignored(v, ReasonOutOfOrder)
		}
	}
	if err := close.Validate(); err != nil {
		return fail(p, v, close, events.AlertPassFailed, ReasonMalformedClose, err.Error())
	}
	if !sameScope(close.Scope, st.Scope) {
		return fail(p, v, close, events.AlertPassFailed, ReasonScopeMismatch, "close for "+close.Scope.String())
	}
	if close.Status != events.PassComplete {
		return fail(p, v, close, events.AlertPassFailed, close.Reason, close.Detail)
	}
	if chunksReceived != close.ChunkCount {
		return fail(p, v, close, events.AlertPassFailed, ReasonChunksMissing,
			fmt.Sprintf("received %d of %d chunks", chunksReceived, close.ChunkCount))
	}
	if len(instances) != close.InstanceCount {
		return fail(p, v, close, events.AlertPassFailed, ReasonCountMismatch,
			fmt.Sprintf("received %d of %d instances", len(instances), close.InstanceCount))
	}
	ids := make(map[string]struct{}, len(instances))
	for i := range instances {
		in := &instances[i]
		if !close.Scope.Contains(in) {
			return fail(p, v, close, events.AlertPassFailed, ReasonScopeMismatch, "instance "+in.InstanceID+" of another scope")
		}
		if _, dup := ids[in.InstanceID]; dup {
			return fail(p, v, close, events.AlertPassFailed, ReasonDuplicate, "instance "+in.InstanceID+" listed twice")
		}
		ids[in.InstanceID] = struct{}{}
	}
	digest, err := asset.Digest(instances)
	if err != nil || digest != close.Digest {
		return fail(p, v, close, events.AlertPassFailed, ReasonDigestMismatch, "digest of the received instances differs")
	}
	if close.AccountIdentity == "" {
		return fail(p, v, close, events.AlertPassFailed, ReasonNoIdentity, "no account identity")
	}
	if last := prev.Verified; last != nil && !prev.Rebaseline {
		n, was := close.InstanceCount, last.InstanceCount
		switch {
		case close.AccountIdentity != last.AccountIdentity:
			return fail(p, v, close, events.AlertPassSuspicious, ReasonIdentityChanged,
				"the credentials now belong to another cloud account")
		case was > 0 && n == 0:
			return fail(p, v, close, events.AlertPassSuspicious, ReasonEmptied,
				fmt.Sprintf("listed 0 instances, the last usable pass had %d", was))
		case was-n >= p.ShrinkMinLost && float64(was-n) > p.ShrinkThreshold*float64(was):
			return fail(p, v, close, events.AlertPassSuspicious, ReasonShrunk,
				fmt.Sprintf("listed %d instances, the last usable pass had %d", n, was))
		}
	}
	v.Usable = true
	v.State.Verified = &PassStats{
		PassID: close.PassID, StartedAt: close.StartedAt, FinishedAt: close.FinishedAt,
		InstanceCount: close.InstanceCount, AccountIdentity: close.AccountIdentity,
		FencingToken: close.FencingToken, Digest: close.Digest,
	}
	v.State.Rebaseline = false
	v.State.Trouble = nil
	return v
}

func ignored(v Verdict, reason string) Verdict {
	v.Ignored, v.Reason = true, reason
	return v
}

// fail records the trouble and raises an alert when the condition is new
// (another kind or reason than the current trouble).
func fail(p *Policy, v Verdict, close *events.PassClose, kind events.AlertKind, reason, detail string) Verdict {
	if reason == "" {
		reason = "unknown"
	}
	v.Reason = reason
	if t := v.State.Trouble; t != nil && t.Kind == kind && t.Reason == reason {
		return v
	}
	v.State.Trouble = &Trouble{Kind: kind, Reason: reason, PassID: close.PassID, Since: close.FinishedAt}
	scope := close.Scope
	sev := events.SeverityWarning
	msg := "pass failed in " + scope.String() + ": " + reason + "; no deletion until a complete pass"
	if kind == events.AlertPassSuspicious {
		sev = events.SeverityCritical
		msg = "suspicious pass in " + scope.String() + ": " + reason + "; treated as failed, no deletion until a plausible pass or a rebaseline"
	}
	details := map[string]string{"pass_id": close.PassID, "reason": reason, "instances": strconv.Itoa(close.InstanceCount)}
	if detail != "" {
		details["detail"] = truncate(oneLine(detail), 500)
	}
	if last := v.State.Verified; last != nil {
		details["last_usable_pass"] = last.PassID
		details["last_usable_instances"] = strconv.Itoa(last.InstanceCount)
	}
	v.Alert = events.NewAlert(kind, sev, &scope, msg, ScopeKey(scope)+":"+reason+":"+close.PassID,
		p.Source, close.FinishedAt, details)
	return v
}

func sameScope(a, b events.Scope) bool {
	return a.Provider == b.Provider && a.AccountID == b.AccountID && a.Region == b.Region
}
