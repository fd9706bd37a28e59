package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// Keys of jmssync_state owned or read by the reconciler:
//
//	reconciler.scope.<provider>.<account>.<region>  plan.ScopeState of a scope (verified pass, trouble,
//	                                                absences, deletions in the window, held plan)
//	reconciler.orphans                              plan.OrphanState (orphan alerts and intents in flight)
//	applier.mirror.ready                            written by the applier once the mirror is rebuilt
//	                                                (JSON {rebuilt_at, entries, root_node?}); read only
//
// Every write is a compare-and-set on the revision read, so two writers
// never silently overwrite each other.
const (
	keyScopePrefix = "reconciler.scope."
	keyOrphans     = "reconciler.orphans"
	// KeyMirrorReady is the applier's mirror-ready record.
	KeyMirrorReady = "applier.mirror.ready"
)

// ScopeStateKey is the state key of a scope.
func ScopeStateKey(s events.Scope) string { return keyScopePrefix + natsScope(s).Token() }

// natsScope is the scope as natsx names it (subjects, keys).
func natsScope(s events.Scope) natsx.Scope {
	return natsx.Scope{Provider: string(s.Provider), Account: s.AccountID, Region: s.Region}
}

// MirrorReady is the applier's record of a rebuilt mirror.
type MirrorReady struct {
	RebuiltAt time.Time `json:"rebuilt_at"`
	Entries   int       `json:"entries"`
	RootNode  string    `json:"root_node,omitempty"`
}

// stateStore reads and writes the reconciler's keys of jmssync_state.
type stateStore struct {
	kv jetstream.KeyValue
}

// load reads key into v; a missing key leaves v as is with revision 0.
func (st *stateStore) load(ctx context.Context, key string, v any) (uint64, error) {
	e, err := st.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return e.Revision(), nil
}

// save writes v to key: created when rev is 0, else a compare-and-set.
func (st *stateStore) save(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	var n uint64
	if rev == 0 {
		n, err = st.kv.Create(ctx, key, b)
	} else {
		n, err = st.kv.Update(ctx, key, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
		return 0, fmt.Errorf("%w: %s", ErrStateConflict, key)
	}
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return n, nil
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func (st *stateStore) loadScope(ctx context.Context, s events.Scope) (plan.ScopeState, uint64, error) {
	var v plan.ScopeState
	rev, err := st.load(ctx, ScopeStateKey(s), &v)
	return v, rev, err
}

func (st *stateStore) saveScope(ctx context.Context, s events.Scope, v plan.ScopeState, rev uint64) (uint64, error) {
	return st.save(ctx, ScopeStateKey(s), v, rev)
}

func (st *stateStore) loadOrphans(ctx context.Context) (plan.OrphanState, uint64, error) {
	var v plan.OrphanState
	rev, err := st.load(ctx, keyOrphans, &v)
	return v, rev, err
}

// mirrorReady reads the applier's record; nil when absent.
func (st *stateStore) mirrorReady(ctx context.Context) (*MirrorReady, error) {
	var v MirrorReady
	rev, err := st.load(ctx, KeyMirrorReady, &v)
	if err != nil || rev == 0 {
		return nil, err
	}
	return &v, nil
}
