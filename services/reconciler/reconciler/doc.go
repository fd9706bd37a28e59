// Package reconciler is the jms-sync reconciler service: it verifies every
// closed pass (libs/events PassClose + its SnapshotChunks on SNAPSHOTS),
// keeps the per-scope decision state in the jmssync_state bucket, and runs
// cycles of the pure decision core (internal/plan) over every configured
// scope, the mirror (jumpserver_assets) and that state. A cycle publishes
// the opening run record, then the intents, then the alerts, then writes
// the new state.
//
// Flow:
//
//   - Close records are consumed with the durable consumer "reconciler"
//     (jmssync.pass.>). For each, the pass's chunks are read from SNAPSHOTS
//     by subject, decoded (a malformed chunk is dead-lettered on
//     jmssync.dlq.reconciler and counts as missing, which fails the pass; a
//     malformed close is dead-lettered), plan.VerifyPass decides, its alert
//     is published and the scope state written (compare-and-set). A usable
//     pass marks the service dirty: a cycle follows after a quiet period
//     (RECONCILE_DEBOUNCE), so the passes of one collector cycle are decided
//     together; cycles also run every RECONCILE_INTERVAL.
//   - No cycle runs before the applier has rebuilt the mirror (key
//     applier.mirror.ready, watched). Its root_node, if any, names the org
//     root node in node paths.
//   - Commands (confirm, prune, rebaseline, plan) are core NATS
//     request/reply on the subjects below (queue group "reconciler").
//   - Plan is the dry run: it reads passes, mirror and state and decides
//     without publishing or writing anything.
//
// Run is what main calls; New/Deps is the form the all-in-one uses with its
// own connection.
package reconciler
