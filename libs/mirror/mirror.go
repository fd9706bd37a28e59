// Package mirror is the jumpserver_assets KV bucket: for every asset
// jms-sync manages, what JumpServer last returned (normalised) and the
// generation of the last intent applied to it. The applier is its only
// writer, always by compare-and-set; the reconciler reads it to diff.
//
// Generations: the reconciler stamps each intent with a generation that
// grows per asset (the decision time in nanoseconds is enough for one
// reconciler). The applier applies an intent only if its generation is
// newer than the entry's, so a redelivered or stale intent is a no-op
// (safety rule 6). A deleted asset keeps a tombstone entry so that a stale
// create cannot bring it back.
package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
)

// Entry is one managed asset.
type Entry struct {
	AssetID    uuid.UUID    `json:"asset_id"`
	Identity   asset.ID     `json:"identity"`
	Scope      events.Scope `json:"scope"`
	Generation uint64       `json:"generation"` // of the last applied intent; 0 if only seen on a rebuild
	// State is the asset as JumpServer last returned it, normalised.
	State events.AssetState `json:"state"`
	// NodeID is the node jms-sync put the asset in at the last apply. When
	// the desired node changes (an account renamed, a new node template),
	// the applier moves the asset out of this one; other nodes, an
	// operator's, are kept.
	NodeID string `json:"node_id,omitempty"`
	// DeactivatedBySync is set when jms-sync itself made the asset
	// inactive; only then may it activate it again (safety rule 5: a
	// human's deactivation is never undone).
	DeactivatedBySync bool      `json:"deactivated_by_sync,omitempty"`
	DeactivatedAt     time.Time `json:"deactivated_at,omitzero"`
	Orphaned          bool      `json:"orphaned,omitempty"`
	// Deleted marks a tombstone: the asset was deleted by jms-sync (or
	// found deleted by hand and confirmed by a GET).
	Deleted   bool      `json:"deleted,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Key is the KV key of an identity.
func Key(id asset.ID) string { return id.Key() }

// ErrNotFound is returned by Get for an identity with no entry.
var ErrNotFound = errors.New("mirror: no entry")

// ErrConflict is returned when a compare-and-set lost to another writer.
var ErrConflict = errors.New("mirror: entry changed concurrently")

// Store reads and writes the mirror bucket.
type Store struct {
	kv jetstream.KeyValue
}

// Open binds to the mirror bucket, which natsx.EnsureTopology declares.
func Open(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, natsx.BucketAssets)
	if err != nil {
		return nil, fmt.Errorf("mirror: open %s: %w", natsx.BucketAssets, err)
	}
	return &Store{kv: kv}, nil
}

// Get returns the entry of id and its revision (for Update).
func (s *Store) Get(ctx context.Context, id asset.ID) (*Entry, uint64, error) {
	kve, err := s.kv.Get(ctx, Key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("mirror: get %s: %w", id, err)
	}
	e, err := decode(kve.Value())
	if err != nil {
		return nil, 0, fmt.Errorf("mirror: entry %s: %w", id, err)
	}
	return e, kve.Revision(), nil
}

// Put writes e: created when revision is 0 (fails with ErrConflict if an
// entry appeared meanwhile), else a compare-and-set against revision.
func (s *Store) Put(ctx context.Context, e *Entry, revision uint64) (uint64, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	var rev uint64
	if revision == 0 {
		rev, err = s.kv.Create(ctx, Key(e.Identity), data)
	} else {
		rev, err = s.kv.Update(ctx, Key(e.Identity), data, revision)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
		return 0, fmt.Errorf("%w: %s", ErrConflict, e.Identity)
	}
	if err != nil {
		return 0, fmt.Errorf("mirror: put %s: %w", e.Identity, err)
	}
	return rev, nil
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// All returns every entry (tombstones included), keyed by identity key. It
// reads the bucket in one watch, not one request per key.
func (s *Store) All(ctx context.Context) (map[string]*Entry, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return map[string]*Entry{}, nil
		}
		return nil, fmt.Errorf("mirror: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string]*Entry{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case kve, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("mirror: watch closed early")
			}
			if kve == nil { // initial values done
				return out, nil
			}
			e, err := decode(kve.Value())
			if err != nil {
				return nil, fmt.Errorf("mirror: entry %s: %w", kve.Key(), err)
			}
			out[kve.Key()] = e
		}
	}
}

func decode(b []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	if e.Identity.InstanceID == "" {
		return nil, errors.New("no identity")
	}
	return &e, nil
}
