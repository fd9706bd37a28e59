package natsx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// This file is the single source of the JetStream layout: stream and bucket
// names, subjects and their builders, and the configurations EnsureTopology
// declares.
//
//	stream     retention  subjects                                              default max age
//	SNAPSHOTS  limits     jmssync.snapshot.<scope>.<pass-id>, jmssync.pass.<scope>  72h
//	INTENTS    workqueue  jmssync.intent.<scope>                                7d
//	ASSETS     limits     jmssync.asset.<op>.<scope>  (public contract)         30d (replay window)
//	RUNS       limits     jmssync.run.<run-id>[.…]                              30d
//	ALERTS     limits     jmssync.alert.<kind>                                  30d
//	DLQ        limits     jmssync.dlq.<service>                                 30d
//
// <scope> is <provider>.<account-id>.<region>, each part through EncodeToken.
//
// Core NATS (no stream): jmssync.trigger.collect.<provider> runs a collector
// cycle on demand. Keys of jmssync_state used by collectors:
// lease.<scope> (region leases) and replica.<provider>.<replica> (presence).

// Stream names.
const (
	StreamSnapshots = "SNAPSHOTS"
	StreamIntents   = "INTENTS"
	StreamAssets    = "ASSETS"
	StreamRuns      = "RUNS"
	StreamAlerts    = "ALERTS"
	StreamDLQ       = "DLQ"
)

// KV bucket names.
const (
	// BucketAssets is the mirror: identity key → what JumpServer returned.
	BucketAssets = "jumpserver_assets"
	// BucketState holds leases, held deletion plans, absence counters and
	// pause flags. Per-key TTL is enabled (jetstream.KeyTTL on Create/Put).
	BucketState = "jmssync_state"
)

// Subject prefixes and the wildcards each stream captures.
const (
	SubjectRoot = "jmssync"

	SubjectsSnapshots = "jmssync.snapshot.>"
	SubjectsPasses    = "jmssync.pass.>"
	SubjectsIntents   = "jmssync.intent.>"
	SubjectsAssets    = "jmssync.asset.>"
	SubjectsRuns      = "jmssync.run.>"
	SubjectsAlerts    = "jmssync.alert.>"
	SubjectsDLQ       = "jmssync.dlq.>"
)

// Command subjects: core NATS request/reply (no stream captures them),
// answered by a running reconciler.
const (
	// SubjectCmdAdopt takes over assets the Python jms-sync created
	// (reconciler.AdoptRequest → reconciler.Reply.Adopt).
	SubjectCmdAdopt = "jmssync.cmd.adopt"
)

const (
	kindSnapshot = "snapshot"
	kindPass     = "pass"
	kindIntent   = "intent"
	kindAsset    = "asset"
	kindRun      = "run"
	kindAlert    = "alert"
	kindDLQ      = "dlq"
	kindTrigger  = "trigger"
	kindCollect  = "collect"
)

// Scope is one cloud account in one region: the unit a collector lists, a pass
// covers and the reconciler diffs. Account is the stable configured account
// id, never a display name.
type Scope struct {
	Provider string
	Account  string
	Region   string
}

// Validate reports an empty part.
func (s Scope) Validate() error {
	if s.Provider == "" || s.Account == "" || s.Region == "" {
		return fmt.Errorf("%w: provider, account and region are required (got %q/%q/%q)", ErrInvalidScope, s.Provider, s.Account, s.Region)
	}
	return nil
}

// Token returns the three encoded subject tokens "<provider>.<account>.<region>",
// also usable as (part of) a KV key.
func (s Scope) Token() string {
	return EncodeToken(s.Provider) + "." + EncodeToken(s.Account) + "." + EncodeToken(s.Region)
}

// String is a readable form for logs: provider/account/region.
func (s Scope) String() string { return s.Provider + "/" + s.Account + "/" + s.Region }

// ParseScope reverses [Scope.Token].
func ParseScope(token string) (Scope, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Scope{}, fmt.Errorf("%w: %q is not provider.account.region", ErrInvalidScope, token)
	}
	return scopeFromTokens(parts)
}

func scopeFromTokens(parts []string) (Scope, error) {
	var dec [3]string
	for i, p := range parts {
		d, err := DecodeToken(p)
		if err != nil {
			return Scope{}, err
		}
		dec[i] = d
	}
	s := Scope{Provider: dec[0], Account: dec[1], Region: dec[2]}
	return s, s.Validate()
}

// SnapshotSubject is the subject of the chunks of one pass.
func SnapshotSubject(s Scope, passID string) string {
	return join(kindSnapshot, s.Token(), EncodeToken(passID))
}

// SnapshotFilter matches the chunks of every pass of one scope.
func SnapshotFilter(s Scope) string { return join(kindSnapshot, s.Token(), "*") }

// PassSubject is the subject of the close records of a scope's passes.
func PassSubject(s Scope) string { return join(kindPass, s.Token()) }

// IntentSubject is the subject of the intents of a scope.
func IntentSubject(s Scope) string { return join(kindIntent, s.Token()) }

// AssetSubject is the public subject of an applied fact: op is e.g.
// "created", "updated", "deactivated", "deleted", "orphaned".
func AssetSubject(op string, s Scope) string { return join(kindAsset, EncodeToken(op), s.Token()) }

// RunSubject is the subject of the records of one run; parts (optional) are
// appended as further tokens, e.g. RunSubject(id, "closed").
func RunSubject(runID string, parts ...string) string {
	toks := []string{kindRun, EncodeToken(runID)}
	for _, p := range parts {
		toks = append(toks, EncodeToken(p))
	}
	return join(toks...)
}

// AlertSubject is the subject of alerts of one kind (e.g. "deletion-held").
func AlertSubject(kind string) string { return join(kindAlert, EncodeToken(kind)) }

// DLQSubject is where a service's poison messages go.
func DLQSubject(service string) string { return join(kindDLQ, EncodeToken(service)) }

// TriggerSubject is the core NATS subject (no stream captures it) on which a
// collector of provider runs a cycle on demand. The payload is optional JSON
// {"account": "<account id>", "region": "<region>"} narrowing the cycle.
func TriggerSubject(provider string) string {
	return join(kindTrigger, kindCollect, EncodeToken(provider))
}

// KV keys of the state bucket ([BucketState]) for collector coordination.
const (
	keyLease   = "lease"
	keyReplica = "replica"
)

// LeaseKey is the key of a scope's region lease in [BucketState]:
// "lease.<provider>.<account>.<region>".
func LeaseKey(s Scope) string { return keyLease + "." + s.Token() }

// ReplicaKey is the presence key a collector replica heartbeats in
// [BucketState]: "replica.<provider>.<replica id>".
func ReplicaKey(provider, replica string) string {
	return keyReplica + "." + EncodeToken(provider) + "." + EncodeToken(replica)
}

// ReplicaKeyFilter matches the presence keys of every replica of provider.
func ReplicaKeyFilter(provider string) string {
	return keyReplica + "." + EncodeToken(provider) + ".*"
}

// ParseSnapshotSubject returns the scope and pass id of a chunk subject.
func ParseSnapshotSubject(subject string) (Scope, string, error) {
	toks, err := split(subject, kindSnapshot, 4)
	if err != nil {
		return Scope{}, "", err
	}
	s, err := scopeFromTokens(toks[:3])
	if err != nil {
		return Scope{}, "", err
	}
	pass, err := DecodeToken(toks[3])
	return s, pass, err
}

// ParsePassSubject returns the scope of a close-record subject.
func ParsePassSubject(subject string) (Scope, error) {
	toks, err := split(subject, kindPass, 3)
	if err != nil {
		return Scope{}, err
	}
	return scopeFromTokens(toks)
}

// ParseIntentSubject returns the scope of an intent subject.
func ParseIntentSubject(subject string) (Scope, error) {
	toks, err := split(subject, kindIntent, 3)
	if err != nil {
		return Scope{}, err
	}
	return scopeFromTokens(toks)
}

// ParseAssetSubject returns the operation and scope of an applied-fact subject.
func ParseAssetSubject(subject string) (string, Scope, error) {
	toks, err := split(subject, kindAsset, 4)
	if err != nil {
		return "", Scope{}, err
	}
	op, err := DecodeToken(toks[0])
	if err != nil {
		return "", Scope{}, err
	}
	s, err := scopeFromTokens(toks[1:])
	return op, s, err
}

func join(toks ...string) string { return SubjectRoot + "." + strings.Join(toks, ".") }

// split checks "jmssync.<kind>." and returns the n tokens after it.
func split(subject, kind string, n int) ([]string, error) {
	rest, ok := strings.CutPrefix(subject, SubjectRoot+"."+kind+".")
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a %s subject", ErrInvalidSubject, subject, kind)
	}
	toks := strings.Split(rest, ".")
	if len(toks) != n {
		return nil, fmt.Errorf("%w: %q: want %d tokens after %s.%s", ErrInvalidSubject, subject, n, SubjectRoot, kind)
	}
	return toks, nil
}

// TopologyOptions tunes what EnsureTopology declares. The zero value gives a
// single-node file-backed layout with the defaults in the table above.
type TopologyOptions struct {
	// Replicas of every stream and bucket (1 when 0).
	Replicas int
	// Storage of every stream and bucket (file by default; memory for tests).
	Storage jetstream.StorageType
	// MaxAge overrides the default max age of a stream, by stream name.
	MaxAge map[string]time.Duration
	// MaxBytes caps a stream's size, by stream name (unlimited by default;
	// SNAPSHOTS must keep at least two passes of the largest scope).
	MaxBytes map[string]int64
}

// Default ages and duplicate windows.
const (
	DefaultSnapshotsMaxAge = 72 * time.Hour
	DefaultIntentsMaxAge   = 7 * 24 * time.Hour
	DefaultAssetsMaxAge    = 30 * 24 * time.Hour // the documented replay window of the public stream
	DefaultRecordsMaxAge   = 30 * 24 * time.Hour // RUNS, ALERTS, DLQ
	DefaultDuplicates      = 10 * time.Minute
	DefaultIntentsDupes    = time.Hour
	DefaultKVHistory       = 5
	StateLimitMarkerTTL    = 5 * time.Minute
)

// Streams returns the stream configurations EnsureTopology declares.
func Streams(o TopologyOptions) []jetstream.StreamConfig {
	stream := func(name, desc string, ret jetstream.RetentionPolicy, maxAge, dupes time.Duration, subjects ...string) jetstream.StreamConfig {
		if v, ok := o.MaxAge[name]; ok {
			maxAge = v
		}
		maxBytes := int64(-1)
		if v, ok := o.MaxBytes[name]; ok {
			maxBytes = v
		}
		if dupes > maxAge && maxAge > 0 {
			dupes = maxAge
		}
		return jetstream.StreamConfig{
			Name:              name,
			Description:       desc,
			Subjects:          subjects,
			Retention:         ret,
			MaxConsumers:      -1,
			MaxMsgs:           -1,
			MaxBytes:          maxBytes,
			MaxMsgsPerSubject: -1,
			MaxAge:            maxAge,
			Discard:           jetstream.DiscardOld,
			Storage:           o.Storage,
			Replicas:          replicas(o),
			Duplicates:        dupes,
		}
	}
	snapshots := stream(StreamSnapshots, "collector passes: chunks of normalised instances and close records",
		jetstream.LimitsPolicy, DefaultSnapshotsMaxAge, DefaultDuplicates, SubjectsSnapshots, SubjectsPasses)
	// The reconciler reads every chunk of a pass by sequence: a direct get
	// sends the stored message as it is, where the API's get wraps it in
	// base64 JSON (a third larger, decoded twice, held by both sides).
	snapshots.AllowDirect = true
	return []jetstream.StreamConfig{
		snapshots,
		stream(StreamIntents, "internal: reconciler intents for the applier",
			jetstream.WorkQueuePolicy, DefaultIntentsMaxAge, DefaultIntentsDupes, SubjectsIntents),
		stream(StreamAssets, "public: applied facts (before/after) per asset",
			jetstream.LimitsPolicy, DefaultAssetsMaxAge, DefaultDuplicates, SubjectsAssets),
		stream(StreamRuns, "run records and closes",
			jetstream.LimitsPolicy, DefaultRecordsMaxAge, DefaultDuplicates, SubjectsRuns),
		stream(StreamAlerts, "alerts, one per state change",
			jetstream.LimitsPolicy, DefaultRecordsMaxAge, DefaultDuplicates, SubjectsAlerts),
		stream(StreamDLQ, "poison messages with their reason, per service",
			jetstream.LimitsPolicy, DefaultRecordsMaxAge, DefaultDuplicates, SubjectsDLQ),
	}
}

// KeyValues returns the bucket configurations EnsureTopology declares.
func KeyValues(o TopologyOptions) []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{
			Bucket:      BucketAssets,
			Description: "mirror of the assets jms-sync manages, as JumpServer returned them",
			History:     DefaultKVHistory,
			Storage:     o.Storage,
			Replicas:    replicas(o),
		},
		{
			Bucket:         BucketState,
			Description:    "leases, held deletion plans, absence counters, pause flags",
			History:        DefaultKVHistory,
			Storage:        o.Storage,
			Replicas:       replicas(o),
			LimitMarkerTTL: StateLimitMarkerTTL,
		},
	}
}

func replicas(o TopologyOptions) int {
	if o.Replicas < 1 {
		return 1
	}
	return o.Replicas
}

// EnsureTopology creates or updates every stream and bucket. It is idempotent
// and safe to call concurrently from several services: a create that loses a
// race to an identical one succeeds, and a lost race to a different one is
// retried as an update.
func EnsureTopology(ctx context.Context, js jetstream.JetStream, o TopologyOptions) error {
	for _, cfg := range Streams(o) {
		if err := retryRace(ctx, func() error {
			_, err := js.CreateOrUpdateStream(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range KeyValues(o) {
		if err := retryRace(ctx, func() error {
			_, err := js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("ensure kv %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// DefaultConsumer returns a durable pull consumer configuration with every
// limit set: explicit ack, AckWait 30s, unlimited deliveries (Consume
// dead-letters unknown errors itself after ConsumeOptions.MaxAttempts, and
// Retry outcomes — waiting on an outage — must never run out), 256 pending acks.
func DefaultConsumer(durable string, filters ...string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        durable,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        30 * time.Second,
		MaxDeliver:     -1,
		MaxAckPending:  256,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		FilterSubjects: filters,
	}
}

// EnsureConsumer creates or updates a durable consumer on stream.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	var c jetstream.Consumer
	err := retryRace(ctx, func() error {
		var err error
		c, err = js.CreateOrUpdateConsumer(ctx, stream, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s on %s: %w", cfg.Durable, stream, err)
	}
	return c, nil
}

// retryRace retries fn when a concurrent creator won with another config.
func retryRace(ctx context.Context, fn func() error) error {
	var err error
	for attempt := range 5 {
		if err = fn(); err == nil || !isRace(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
	return err
}

func isRace(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) ||
		errors.Is(err, jetstream.ErrConsumerExists) ||
		errors.Is(err, jetstream.ErrStreamNotFound) // created then read by a racing update
}
