package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// SubjectAdopt: AdoptRequest → Reply.Adopt. Matches the assets the Python
// jms-sync created against the latest usable passes; unless DryRun, issues
// one adopt intent per match in a run of its own.
const SubjectAdopt = natsx.SubjectCmdAdopt

// The adopt types, for the CLI (the plan package is internal).
type (
	AdoptCandidate = plan.AdoptCandidate
	AdoptResult    = plan.AdoptResult
	AdoptItem      = plan.AdoptItem
	FieldChange    = plan.FieldChange
)

// Adopt reasons, re-exported for the CLI's texts.
const (
	AdoptNotSeen    = plan.AdoptNotSeen
	AdoptAmbiguous  = plan.AdoptAmbiguous
	AdoptManaged    = plan.AdoptManaged
	AdoptOwned      = plan.AdoptOwned
	AdoptNotDesired = plan.AdoptNotDesired
	AdoptBadAssetID = plan.AdoptBadAssetID
)

// AdoptRequest is `adopt`: the candidates the CLI read from JumpServer
// (GETs only; the reconciler never calls JumpServer).
type AdoptRequest struct {
	DryRun     bool             `json:"dry_run"`
	Candidates []AdoptCandidate `json:"candidates"`
}

// keyAdopting holds the adopt intents issued and not yet seen applied
// (JSON map identity key → adoptPending), so that cycles issue no create
// for those instances meanwhile.
const keyAdopting = "reconciler.adopting"

type adoptPending struct {
	Generation uint64    `json:"generation"`
	AssetID    uuid.UUID `json:"asset_id"`
	IssuedAt   time.Time `json:"issued_at"`
}

// loadAdopting reads the pending adoptions, without those the mirror shows
// applied and those older than plan.AdoptPendingTTL (dead-lettered: the
// create may go ahead).
func (dc *decider) loadAdopting(ctx context.Context, m map[string]*mirror.Entry, now time.Time) (map[string]bool, map[string]adoptPending, uint64, error) {
	var all map[string]adoptPending
	rev, err := dc.store.load(ctx, keyAdopting, &all)
	if err != nil {
		return nil, nil, 0, err
	}
	keys := map[string]bool{}
	left := map[string]adoptPending{}
	for k, p := range all {
		e := m[k]
		if (e != nil && !e.Deleted && e.Generation >= p.Generation) || now.Sub(p.IssuedAt) > plan.AdoptPendingTTL {
			continue
		}
		keys[k], left[k] = true, p
	}
	return keys, left, rev, nil
}

func (s *Service) cmdAdopt(ctx context.Context, data []byte) Reply {
	var req AdoptRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return failed(ErrCodeBadRequest, err)
	}
	res, runID, err := s.Adopt(ctx, req)
	if err != nil {
		return cycleFailed(err)
	}
	s.log.Info().Bool("dry_run", req.DryRun).Int("candidates", len(req.Candidates)).Int("adopted", res.Adopted).
		Str("run_id", runID).Msg("adopt")
	return Reply{OK: true, RunID: runID, Adopt: res}
}

// Adopt matches the candidates against the latest usable passes and the
// mirror; unless req.DryRun it publishes a run record and one adopt intent
// per match, and remembers them so that no cycle creates a second asset
// for those instances before the applier has adopted them. It fails with
// ErrMirrorNotReady before the applier has rebuilt the mirror (the mirror
// says which instances are managed already).
func (s *Service) Adopt(ctx context.Context, req AdoptRequest) (*AdoptResult, string, error) {
	for i, c := range req.Candidates {
		if c.InstanceID == "" || c.AssetID == "" {
			return nil, "", fmt.Errorf("candidate %d: asset_id and instance_id are required", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ready := s.ready.Load()
	if ready == nil {
		return nil, "", ErrMirrorNotReady
	}
	l, err := s.load(ctx, ready, s.cache, false)
	if err != nil {
		return nil, "", err
	}
	l.in.Now, l.in.RunID, l.in.Trigger = s.d.Now(), s.d.NewRunID(), "adopt"
	out, err := plan.Adopt(l.in, req.Candidates, req.DryRun)
	if err != nil {
		return nil, "", err
	}
	if req.DryRun || len(out.Intents) == 0 {
		return &out.Result, "", nil
	}
	// Remembered before publishing: a crash in between leaves creates
	// waiting (up to the TTL), never a duplicate asset.
	pending := l.adopting
	for i := range out.Intents {
		in := &out.Intents[i]
		pending[in.Identity.Key()] = adoptPending{Generation: in.Generation, AssetID: in.AssetID, IssuedAt: in.IssuedAt}
	}
	if _, err := s.store.save(ctx, keyAdopting, pending, l.adoptingRev); err != nil {
		return nil, "", err
	}
	if err := s.publish(ctx, &plan.Output{Run: out.Run, Intents: out.Intents}); err != nil {
		return nil, "", err
	}
	return &out.Result, out.Run.RunID, nil
}

// UnverifiedScopes lists the configured scopes without a usable pass (the
// reconciler's state has none): adopt cannot match their instances yet.
func (s *Service) UnverifiedScopes(ctx context.Context) ([]events.Scope, error) {
	var out []events.Scope
	for _, sc := range s.scopes {
		st, _, err := s.store.loadScope(ctx, sc)
		if err != nil {
			return nil, err
		}
		if st.Verified == nil {
			out = append(out, sc)
		}
	}
	return out, nil
}

// ScopePass is the latest usable pass of a configured scope, for explain.
type ScopePass struct {
	Scope      events.Scope     `json:"scope"`
	PassID     string           `json:"pass_id,omitempty"`
	StartedAt  time.Time        `json:"started_at,omitzero"`
	FinishedAt time.Time        `json:"finished_at,omitzero"`
	Instances  []asset.Instance `json:"-"`
	// Trouble is the reason of a newer pass that was not usable.
	Trouble string `json:"trouble,omitempty"`
	// Unavailable says why the pass could not be read back (expired).
	Unavailable string `json:"unavailable,omitempty"`
}

// LatestPasses reads, without writing anything, the latest usable pass of
// every configured scope as the reconciler recorded it.
func LatestPasses(ctx context.Context, js jetstream.JetStream, cfg Config) ([]ScopePass, error) {
	dc, err := newDecider(ctx, cfg, js, zerolog.Nop())
	if err != nil {
		return nil, err
	}
	var out []ScopePass
	for _, sc := range dc.scopes {
		st, _, err := dc.store.loadScope(ctx, sc)
		if err != nil {
			return nil, err
		}
		sp := ScopePass{Scope: sc}
		if st.Trouble != nil {
			sp.Trouble = st.Trouble.Reason
		}
		if v := st.Verified; v != nil {
			sp.PassID, sp.StartedAt, sp.FinishedAt = v.PassID, v.StartedAt, v.FinishedAt
			p, err := dc.reader.loadPass(ctx, sc, v)
			switch {
			case errors.Is(err, ErrPassUnavailable):
				sp.Unavailable = err.Error()
			case err != nil:
				return nil, err
			default:
				sp.Instances = p.Instances
			}
		}
		out = append(out, sp)
	}
	return out, nil
}

// Decision is one entry of a cycle's trace (why something was or was not done).
type Decision = plan.Decision

// ExplainDecisions runs the dry run (nothing is published or written) and
// returns what the next cycle would decide about id, with the desired
// state of its intent if it gets one.
func ExplainDecisions(ctx context.Context, js jetstream.JetStream, cfg Config, id asset.ID) ([]Decision, *events.Intent, error) {
	out, err := Plan(ctx, js, cfg)
	if err != nil {
		return nil, nil, err
	}
	var in *events.Intent
	for i := range out.Intents {
		if out.Intents[i].Identity == id {
			in = &out.Intents[i]
		}
	}
	return out.Explain(id), in, nil
}

// DesiredOf maps one instance the way a cycle does (before names are made
// unique): the desired asset, or the reason it gets none. rootNode is the
// org root's value ("" uses the configuration's).
func DesiredOf(cfg Config, rootNode string, inst *asset.Instance) (events.Desired, string, error) {
	if rootNode == "" {
		rootNode = cfg.RootNode
	}
	p, err := cfg.Policy(rootNode)
	if err != nil {
		return events.Desired{}, "", err
	}
	d, skip := plan.Desired(inst, &p)
	return d, skip, nil
}
