package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// decider gathers the inputs of a cycle: the configured scopes with their
// state and latest usable pass, the mirror and the orphan state. The
// service and the dry run share it.
type decider struct {
	cfg    Config
	scopes []events.Scope
	js     jetstream.JetStream
	store  *stateStore
	mirror *mirror.Store
	view   *mirror.View // the service's live view (nil: read the bucket)
	reader *passReader
	log    zerolog.Logger
	// privatePasses: the passes were listed into another store than the
	// one the state comes from (the isolated `plan`), under leases of
	// their own, so their fencing tokens say nothing against the state's.
	privatePasses bool
}

func newDecider(ctx context.Context, cfg Config, js jetstream.JetStream, log zerolog.Logger) (*decider, error) {
	if js == nil {
		return nil, errors.New("reconciler: no JetStream")
	}
	kv, err := js.KeyValue(ctx, natsx.BucketState)
	if err != nil {
		return nil, fmt.Errorf("reconciler: state bucket: %w", err)
	}
	m, err := mirror.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	scopes, err := cfg.scopes()
	if err != nil {
		return nil, err
	}
	return &decider{
		cfg: cfg, scopes: scopes, js: js, store: &stateStore{kv: kv}, mirror: m, log: log,
		reader: &passReader{js: js, log: log},
	}, nil
}

// rootNode is the applier's root node if it reported one, else the config's.
func (dc *decider) rootNode(ready *MirrorReady) string {
	if ready != nil && strings.TrimSpace(ready.RootNode) != "" {
		return ready.RootNode
	}
	return dc.cfg.RootNode
}

// loaded is the input of one cycle plus the revisions to write back against.
type loaded struct {
	in         plan.Input
	revs       []uint64 // per scope of in.Scopes
	orphansRev uint64
	// adopting: the adopt intents still pending (in.Adopting's source).
	adopting    map[string]adoptPending
	adoptingRev uint64
}

// load reads everything a cycle decides from. cache holds the latest usable
// pass per scope key (filled from SNAPSHOTS on a miss; nil: not cached).
// With dry, a close record newer than the stored state is verified in
// memory, so a plan works before (or without) the service having run.
func (dc *decider) load(ctx context.Context, ready *MirrorReady, cache map[string]*plan.Pass, dry bool) (*loaded, error) {
	pol, err := dc.cfg.Policy(dc.rootNode(ready))
	if err != nil {
		return nil, err
	}
	l := &loaded{in: plan.Input{Policy: pol}}
	for _, sc := range dc.scopes {
		st, rev, err := dc.store.loadScope(ctx, sc)
		if err != nil {
			return nil, err
		}
		var pass *plan.Pass
		if dry {
			if st, pass, err = dc.verifyLatest(ctx, &pol, sc, st); err != nil {
				return nil, err
			}
		}
		key := plan.ScopeKey(sc)
		if pass == nil && st.Verified != nil {
			if c := cache[key]; c != nil && c.ID == st.Verified.PassID {
				pass = c
			} else {
				pass, err = dc.reader.loadPass(ctx, sc, st.Verified)
				switch {
				case errors.Is(err, ErrPassUnavailable):
					dc.log.Warn().Err(err).Str("scope", sc.String()).Msg("latest usable pass unavailable: the scope is decided without a pass until the next one")
				case err != nil:
					return nil, err
				case cache != nil:
					cache[key] = pass
				}
			}
		}
		rejected := ""
		if st.Trouble != nil {
			rejected = st.Trouble.Reason
		}
		l.in.Scopes = append(l.in.Scopes, plan.ScopeInput{Scope: sc, Pass: pass, Rejected: rejected, State: st})
		l.revs = append(l.revs, rev)
	}
	if l.in.Orphans, l.orphansRev, err = dc.store.loadOrphans(ctx); err != nil {
		return nil, err
	}
	if dc.view != nil && !dry {
		l.in.Mirror, err = dc.view.Snapshot(ctx)
	} else {
		l.in.Mirror, err = dc.mirror.All(ctx)
	}
	if err != nil {
		return nil, err
	}
	if l.in.Adopting, l.adopting, l.adoptingRev, err = dc.loadAdopting(ctx, l.in.Mirror, time.Now()); err != nil {
		return nil, err
	}
	return l, nil
}

// verifyLatest verifies, in memory, the scope's last close record if the
// stored state has not seen it. It returns the state VerifyPass would
// store and the pass when usable.
func (dc *decider) verifyLatest(ctx context.Context, pol *plan.Policy, sc events.Scope, st plan.ScopeState) (plan.ScopeState, *plan.Pass, error) {
	stream, err := dc.js.Stream(ctx, natsx.StreamSnapshots)
	if err != nil {
		return st, nil, fmt.Errorf("stream %s: %w", natsx.StreamSnapshots, err)
	}
	m, err := stream.GetLastMsgForSubject(ctx, natsx.PassSubject(natsScope(sc)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return st, nil, nil
	}
	if err != nil {
		return st, nil, fmt.Errorf("last close of %s: %w", sc, err)
	}
	c, err := events.DecodeAs[*events.PassClose](m.Data)
	if err != nil || (st.Verified != nil && c.PassID == st.Verified.PassID) {
		return st, nil, nil
	}
	prev := st
	if dc.privatePasses && st.Verified != nil {
		// The fencing token orders passes of one lease history. A private
		// store's leases start again at revision 1, well below the shared
		// store's, and would make every fresh pass look stale. The other
		// checks (order in time, identity, shrink) still compare with the
		// last usable pass of the shared state.
		v := *st.Verified
		v.FencingToken = 0
		prev.Verified = &v
	}
	var set chunkSet
	if c.Status == events.PassComplete {
		if set, err = dc.reader.readChunks(ctx, sc, c.PassID, m.Sequence, false); err != nil {
			return st, nil, err
		}
	}
	v := plan.VerifyPass(pol, c, set.instances, set.chunks, prev)
	if !v.Usable && v.State.Verified == prev.Verified {
		v.State.Verified = st.Verified // not the copy without its token
	}
	switch {
	case v.Ignored:
		return st, nil, nil
	case v.Usable:
		return v.State, &plan.Pass{ID: c.PassID, Instances: set.instances}, nil
	}
	return v.State, nil, nil
}

// Plan is the dry run behind `plan`: it reads the passes (verifying in
// memory a close the service has not processed yet), the mirror and the
// state, and runs one cycle's decision without publishing or writing
// anything. It works with an empty mirror and without the applier's
// mirror-ready record (the root node then comes from the config).
//
// js is a private store: its passes were listed there under leases of its
// own, while its state and mirror may be a copy of the shared store's.
// Their fencing tokens are therefore not compared with the copied state's
// (they would all look stale once the shared leases have been renewed a
// few times); every other check of the pass applies.
func Plan(ctx context.Context, js jetstream.JetStream, cfg Config) (*plan.Output, error) {
	dc, err := newDecider(ctx, cfg, js, zerolog.Nop())
	if err != nil {
		return nil, err
	}
	dc.privatePasses = true
	return dc.dryRun(ctx, time.Now(), events.NewRunID())
}

func (dc *decider) dryRun(ctx context.Context, now time.Time, runID string) (*plan.Output, error) {
	ready, err := dc.store.mirrorReady(ctx)
	if err != nil {
		return nil, err
	}
	l, err := dc.load(ctx, ready, nil, true)
	if err != nil {
		return nil, err
	}
	l.in.Now, l.in.RunID, l.in.Trigger = now, runID, "plan"
	out, err := plan.Diff(l.in)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
