// Package plan is the pure decision core of the reconciler: from verified
// passes, the mirror of what JumpServer holds and the persisted per-scope
// state it decides which intents to publish, which alerts to raise and what
// state to persist next. It does no I/O, reads no clock (time is an input)
// and keeps no package state, so every decision is reproducible from its
// inputs — tested with table tests and golden files under testdata/.
//
// The pieces, in the order the reconciler service uses them:
//
//   - [VerifyPass] checks a closed pass (status, chunk and instance counts,
//     digest, scope, account identity, fencing token, ordering, plausibility)
//     and returns a [Verdict]: usable, ignored (stale) or failed/suspicious
//     with an alert raised once per state change.
//   - [Desired] maps one instance to the JumpServer asset jms-sync wants
//     (name, address, platform, protocols, node path, labels, zone, account
//     template, comment, is_active), or says why it is not desired.
//   - [Diff] decides one cycle for the whole organisation: every configured
//     scope with its latest usable pass and state, the mirror, held plans,
//     confirms and prunes. It returns intents with full desired state and a
//     per-asset generation, alerts, the next state of every scope and the
//     opening run record. Every decision carries a cause code; [Output.Explain]
//     returns those of one identity.
//
// Safety rules (ARCHITECTURE.md) and where they live:
//
//  1. Only identities absent from a usable pass can lose their asset. An
//     instance that was listed but is not desired (no usable address, outside
//     the whitelist, unmappable OS, transitional) is seen: it resets its
//     absence counter and is never deactivated or deleted.
//  2. Only a usable pass counts absences, and only when the latest pass of the
//     scope was usable do deactivations and deletions happen. A failed,
//     incomplete or suspicious pass counts neither as seen nor as absent.
//  3. Absence in Policy.AbsentPasses consecutive passes deactivates; deletion
//     follows after Policy.Grace; deletions beyond the rolling 24 h budget of
//     a scope are held as a Plan until confirmed, and a confirm applies only
//     to what is still absent.
//  4. Assets of scopes no longer configured are orphaned (once, with one
//     alert per scope) and deleted only by an explicit prune of that scope.
//  5. Stopped instances are kept (optionally deactivated), ProtectedIPs are
//     never deactivated or deleted, NoDelete never deletes, and an asset a
//     human deactivated is never activated again.
//  8. Nothing here panics on odd input: unknown values become skip reasons.
package plan
