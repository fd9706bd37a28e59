// Package applier is the jms-sync applier: the only component that writes to
// JumpServer. It consumes intents from the INTENTS work queue (durable pull
// consumer "applier"), applies them in bulk through libs/jumpserver, keeps the
// jumpserver_assets mirror with compare-and-set, publishes the applied facts
// on the public ASSETS subjects and acks — in that order (safety rule 6):
//
//	JumpServer write → mirror CAS → applied fact → ack
//
// # One batch
//
// A fetch of up to Config.FetchBatch intents is handled as a unit:
//
//  1. Decode. A malformed, invalid or unknown message is dead-lettered on
//     jmssync.dlq.applier with its reason (safety rule 8).
//  2. Group by identity, keeping the newest generation; older intents of the
//     same asset in the batch are acked as superseded.
//  3. Lock each identity for the time of the write (key applier.lock.<asset
//     key> in jmssync_state, created with a TTL): two appliers on the same
//     stream never write one asset at the same time, so an older intent's
//     write can never land after a newer one's. A locked identity is retried
//     later (nak with delay, never dead-lettered).
//  4. Read the mirror entries. An intent whose generation is below the
//     entry's is stale: acked, no write, no fact. An intent whose generation
//     equals the entry's was applied before the applier stopped (crash after
//     the mirror write): its fact is published again (same Nats-Msg-Id, so a
//     fact already stored is deduplicated) and it is acked.
//  5. Read the current assets by id and re-check the ownership label
//     jmssync:<install-id> before any update or delete; an asset without it
//     is never touched (dead letter "not_owned").
//  6. Deletes, then updates (bulk PATCH of owned fields only), then creates
//     (bulk POST with the deterministic asset id), the creates fitted to the
//     room left under the Community Edition cap (one CountAllAssets per batch).
//  7. For every success: mirror CAS put, applied fact (validated against its
//     JSON Schema), ack. A create whose id is taken reads the asset back: the
//     work of an earlier attempt is never done twice.
//
// # Outcomes
//
// Every intent ends as exactly one applied fact (published again, with the
// same message id, after a crash) or one dead letter with a reason — except a
// stale or superseded intent, which ends as neither: a newer intent of the
// same asset has been or will be applied and carries the result. Waiting
// (an open breaker, auth refused, a missing account template, the asset cap,
// a locked asset, an outage) never dead-letters: the message is nak'ed with a
// delay, and for global conditions fetching pauses (natsx.Gate) until a probe
// succeeds; one applier_paused alert is raised per state change and one
// applier_resumed when it clears. The cap pauses creates only (deletions must
// still run): cap_reached / cap_cleared.
//
// # Mirror rebuild
//
// On start and every Config.RebuildInterval, the applier lists every asset
// carrying its ownership label (paged), refreshes the state of every mirror
// entry, confirms a vanished row with a GET before tombstoning it (deleted
// by hand), refreshes the org-wide name index used to avoid name clashes, and
// writes ReadyKey into jmssync_state. The reconciler waits for that key.
package applier
