package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/nats-io/nats.go/jetstream"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// Command subjects: core NATS request/reply (no stream captures them),
// answered by one reconciler of the queue group CommandQueue. The request
// and reply bodies are JSON (the types below).
const (
	// SubjectConfirm: ConfirmRequest → Reply.Confirm. Runs a cycle that
	// deletes what the held plan still holds absent.
	SubjectConfirm = "jmssync.cmd.confirm"
	// SubjectPrune: PruneRequest → Reply.Prune. Runs a cycle that deletes
	// the assets of a scope no longer configured.
	SubjectPrune = "jmssync.cmd.prune"
	// SubjectRebaseline: RebaselineRequest → Reply.Rebaseline. The scope's
	// next complete pass is accepted even if suspicious.
	SubjectRebaseline = "jmssync.cmd.rebaseline"
	// SubjectPlan: empty request → Reply.Plan. A dry run: nothing is
	// published or written.
	SubjectPlan = "jmssync.cmd.plan"

	CommandQueue = Name
)

// Error codes of a Reply.
const (
	ErrCodeBadRequest     = "bad_request"
	ErrCodeMirrorNotReady = "mirror_not_ready"
	ErrCodeNotConfigured  = "scope_not_configured"
	ErrCodeInternal       = "internal"
)

// ScopeRef names a scope in a command.
type ScopeRef struct {
	Provider  asset.Provider `json:"provider"`
	AccountID string         `json:"account_id"`
	Region    string         `json:"region"`
}

func (r ScopeRef) scope() (events.Scope, error) {
	p, err := asset.ParseProvider(string(r.Provider))
	if err != nil {
		return events.Scope{}, err
	}
	s := events.Scope{Provider: p, AccountID: strings.TrimSpace(r.AccountID), Region: strings.TrimSpace(r.Region)}
	return s, s.Validate()
}

// ConfirmRequest is `confirm <plan>`.
type ConfirmRequest struct {
	PlanID string `json:"plan_id"`
}

// PruneRequest is `prune --scope provider/account-id/region`.
type PruneRequest struct {
	ScopeRef
}

// RebaselineRequest is `rebaseline --scope provider/account-id/region`.
type RebaselineRequest struct {
	Scope ScopeRef `json:"scope"`
}

// Reply answers every command. OK is false only when the command could not
// be carried out (Error says why); a refused confirm or prune is OK with
// the refusal in its result.
type Reply struct {
	OK         bool                `json:"ok"`
	Error      string              `json:"error,omitempty"`
	Detail     string              `json:"detail,omitempty"`
	RunID      string              `json:"run_id,omitempty"` // the cycle that carried it out
	Confirm    *plan.ConfirmResult `json:"confirm,omitempty"`
	Prune      *plan.PruneResult   `json:"prune,omitempty"`
	Rebaseline *events.Scope       `json:"rebaseline,omitempty"`
	Plan       *PlanSummary        `json:"plan,omitempty"`
	Adopt      *plan.AdoptResult   `json:"adopt,omitempty"`
}

// PlanSummary is a dry run in short: the run record it would open, the
// intents by op and the held plans.
type PlanSummary struct {
	Run     *events.RunRecord `json:"run"`
	Intents map[events.Op]int `json:"intents"`
	Alerts  int               `json:"alerts"`
	Held    []*plan.Plan      `json:"held,omitempty"`
}

// Summarize shortens a dry run's output for a reply.
func Summarize(out *plan.Output) *PlanSummary {
	ps := &PlanSummary{Run: out.Run, Intents: map[events.Op]int{}, Alerts: len(out.Alerts)}
	for i := range out.Intents {
		ps.Intents[out.Intents[i].Op]++
	}
	for i := range out.Scopes {
		if h := out.Scopes[i].Held; h != nil {
			ps.Held = append(ps.Held, h)
		}
	}
	return ps
}

func (s *Service) subscribeCommands(ctx context.Context) ([]*nats.Subscription, error) {
	nc := s.js.Conn()
	if nc == nil {
		return nil, errors.New("reconciler: JetStream without a connection")
	}
	handlers := map[string]func(context.Context, []byte) Reply{
		SubjectConfirm: s.cmdConfirm, SubjectPrune: s.cmdPrune, SubjectRebaseline: s.cmdRebaseline, SubjectPlan: s.cmdPlan,
		SubjectAdopt: s.cmdAdopt,
	}
	var subs []*nats.Subscription
	for _, subject := range slices.Sorted(maps.Keys(handlers)) {
		h := handlers[subject]
		sub, err := nc.QueueSubscribe(subject, CommandQueue, func(m *nats.Msg) {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			r := h(cctx, m.Data)
			b, err := json.Marshal(r)
			if err != nil {
				b = []byte(`{"ok":false,"error":"internal"}`)
			}
			if m.Reply == "" {
				return
			}
			if err := m.Respond(b); err != nil {
				s.log.Warn().Err(err).Str("subject", subject).Msg("command reply failed")
			}
		})
		if err != nil {
			for _, o := range subs {
				_ = o.Unsubscribe()
			}
			return nil, fmt.Errorf("subscribe %s: %w", subject, err)
		}
		subs = append(subs, sub)
	}
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("subscribe commands: %w", err)
	}
	return subs, nil
}

func failed(code string, err error) Reply {
	return Reply{Error: code, Detail: err.Error()}
}

func cycleFailed(err error) Reply {
	if errors.Is(err, ErrMirrorNotReady) {
		return failed(ErrCodeMirrorNotReady, err)
	}
	return failed(ErrCodeInternal, err)
}

func (s *Service) cmdConfirm(ctx context.Context, data []byte) Reply {
	var req ConfirmRequest
	if err := json.Unmarshal(data, &req); err != nil || !events.ValidToken(req.PlanID) {
		return failed(ErrCodeBadRequest, errors.New(`want {"plan_id": "plan-…"}`))
	}
	res, runID, err := s.Confirm(ctx, req.PlanID)
	if err != nil {
		return cycleFailed(err)
	}
	s.log.Info().Str("plan", req.PlanID).Int("deleted", res.Deleted).Int("dropped", res.Dropped).
		Str("refused", res.Refused).Msg("confirm")
	return Reply{OK: true, RunID: runID, Confirm: res}
}

// Confirm applies the held plan id to what is still absent in the latest
// usable pass of its scope, in a cycle of its own. A plan id no scope holds
// is refused: plan_stale when some other plan is held now, else
// no_plan_held.
func (s *Service) Confirm(ctx context.Context, id string) (*plan.ConfirmResult, string, error) {
	// A confirm deletes only what the latest complete pass still lacks; a
	// pass already on the bus but not yet verified may list an instance
	// again, so wait for the pass consumer to catch up, or refuse.
	if !s.passesCaughtUp(ctx, s.catchUp) {
		return &plan.ConfirmResult{PlanID: id, Refused: "passes_pending"}, "", nil
	}
	at, anyHeld := -1, false
	out, err := s.cycle(ctx, "confirm", func(in *plan.Input) bool {
		for i := range in.Scopes {
			if h := in.Scopes[i].State.Held; h != nil {
				anyHeld = true
				if h.ID == id {
					in.Scopes[i].Confirm, at = id, i
				}
			}
		}
		return at >= 0
	})
	if err != nil {
		return nil, "", err
	}
	if at < 0 {
		refused := "no_plan_held"
		if anyHeld {
			refused = "plan_stale"
		}
		return &plan.ConfirmResult{PlanID: id, Refused: refused}, "", nil
	}
	return out.Scopes[at].Confirm, out.Run.RunID, nil
}

func (s *Service) cmdPrune(ctx context.Context, data []byte) Reply {
	var req PruneRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return failed(ErrCodeBadRequest, err)
	}
	sc, err := req.scope()
	if err != nil {
		return failed(ErrCodeBadRequest, err)
	}
	res, runID, err := s.Prune(ctx, sc)
	if err != nil {
		return cycleFailed(err)
	}
	s.log.Info().Str("scope", sc.String()).Int("deleted", res.Deleted).Str("refused", res.Refused).Msg("prune")
	return Reply{OK: true, RunID: runID, Prune: res}
}

// Prune deletes, in a cycle of its own, the assets of scope sc if it is no
// longer configured (refused with scope_active otherwise, or no_delete).
func (s *Service) Prune(ctx context.Context, sc events.Scope) (*plan.PruneResult, string, error) {
	out, err := s.cycle(ctx, "prune", func(in *plan.Input) bool {
		in.Prune = []events.Scope{sc}
		return true
	})
	if err != nil {
		return nil, "", err
	}
	for i := range out.Pruned {
		if sameScope(out.Pruned[i].Scope, sc) {
			return &out.Pruned[i], out.Run.RunID, nil
		}
	}
	return &plan.PruneResult{Scope: sc}, out.Run.RunID, nil
}

func (s *Service) cmdRebaseline(ctx context.Context, data []byte) Reply {
	var req RebaselineRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return failed(ErrCodeBadRequest, err)
	}
	sc, err := req.Scope.scope()
	if err != nil {
		return failed(ErrCodeBadRequest, err)
	}
	if err := s.Rebaseline(ctx, sc); err != nil {
		if errors.Is(err, errNotConfigured) {
			return failed(ErrCodeNotConfigured, err)
		}
		return failed(ErrCodeInternal, err)
	}
	s.log.Info().Str("scope", sc.String()).Msg("rebaseline: the next complete pass is accepted as the new baseline")
	return Reply{OK: true, Rebaseline: &sc}
}

var errNotConfigured = errors.New("scope not configured")

// Rebaseline makes the scope's next complete pass the new baseline even if
// it looks suspicious (emptied, shrunk, another account identity).
func (s *Service) Rebaseline(ctx context.Context, sc events.Scope) error {
	if !s.configured(sc) {
		return fmt.Errorf("%w: %s", errNotConfigured, sc)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, rev, err := s.store.loadScope(ctx, sc)
	if err != nil {
		return err
	}
	if st.Rebaseline {
		return nil
	}
	st.Rebaseline = true
	_, err = s.store.saveScope(ctx, sc, st, rev)
	return err
}

func (s *Service) cmdPlan(ctx context.Context, _ []byte) Reply {
	out, err := s.dryRun(ctx, s.d.Now(), s.d.NewRunID())
	if err != nil {
		return failed(ErrCodeInternal, err)
	}
	return Reply{OK: true, RunID: out.Run.RunID, Plan: Summarize(out)}
}

// confirmCatchUp bounds how long a confirm waits for pending passes.
const confirmCatchUp = 15 * time.Second

// passesCaughtUp waits up to limit until the durable pass consumer has no
// close record waiting or in flight. Without the consumer (Run not started)
// nothing is pending.
func (s *Service) passesCaughtUp(ctx context.Context, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		cons, err := s.js.Consumer(ctx, natsx.StreamSnapshots, Name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return true
		}
		if err == nil {
			if info, err := cons.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return true
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		sleep(ctx, 100*time.Millisecond)
	}
}
