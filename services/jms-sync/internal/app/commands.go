package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// CommandResult is how a confirm or prune went.
type CommandResult struct {
	// Via is "serve" when a running reconciler answered, "in-process" when
	// this process ran the pipeline to carry the command out.
	Via   string
	Reply reconciler.Reply
	// In-process only: how the applier's work ended.
	Drain       drainResult
	DeadLetters []string
	Err         error
}

// ExitCode: 0 done; 5 refused (no such held plan, the plan is stale, the
// scope is still configured, no_delete); 1 failed.
func (r *CommandResult) ExitCode() int {
	switch {
	case r.Err != nil, !r.Reply.OK, len(r.DeadLetters) > 0, r.Drain.Left > 0:
		return ExitFailed
	case r.Reply.Confirm != nil && r.Reply.Confirm.Refused != "",
		r.Reply.Prune != nil && r.Reply.Prune.Refused != "":
		return ExitNotFound
	}
	return ExitOK
}

// Print writes the outcome for a person.
func (r *CommandResult) Print(w io.Writer) {
	rp := r.Reply
	switch {
	case !rp.OK && rp.Error != "":
		fmt.Fprintf(w, "failed (%s): %s\n", rp.Error, rp.Detail)
	case rp.Confirm != nil && rp.Confirm.Refused != "":
		fmt.Fprintf(w, "confirm %s refused: %s\n", rp.Confirm.PlanID, refusalText(rp.Confirm.Refused))
	case rp.Confirm != nil:
		fmt.Fprintf(w, "confirm %s: %d deletions issued (run %s), %d items dropped (listed again or no longer deletable)\n",
			rp.Confirm.PlanID, rp.Confirm.Deleted, orDash(rp.RunID), rp.Confirm.Dropped)
	case rp.Prune != nil && rp.Prune.Refused != "":
		fmt.Fprintf(w, "prune %s refused: %s\n", rp.Prune.Scope.String(), refusalText(rp.Prune.Refused))
	case rp.Prune != nil:
		fmt.Fprintf(w, "prune %s: %d deletions issued (run %s)\n", rp.Prune.Scope.String(), rp.Prune.Deleted, orDash(rp.RunID))
	}
	if r.Via == "serve" && rp.OK {
		fmt.Fprintln(w, "the running jms-sync applies them")
	}
	printOutcome(w, r.Drain, r.DeadLetters, r.Err)
}

func refusalText(code string) string {
	switch code {
	case "no_plan_held":
		return "no deletion plan is held (see `jms-sync plan`)"
	case "plan_stale":
		return "another plan is held now: the deletions changed since this one (see `jms-sync plan` for the current id)"
	case "scope_active":
		return "the scope is still configured: remove it from the configuration first"
	case "no_delete":
		return "deletion is disabled (sync.no_delete)"
	}
	return code
}

// ParseScope reads provider/account-id/region.
func ParseScope(s string) (events.Scope, error) {
	i, j := strings.Index(s, "/"), strings.LastIndex(s, "/")
	if i <= 0 || j <= i+1 || j == len(s)-1 {
		return events.Scope{}, fmt.Errorf("scope %q: want provider/account-id/region, e.g. aliyun/prod/cn-hangzhou", s)
	}
	p, err := asset.ParseProvider(s[:i])
	if err != nil {
		return events.Scope{}, err
	}
	sc := events.Scope{Provider: p, AccountID: s[i+1 : j], Region: s[j+1:]}
	return sc, sc.Validate()
}

// Confirm releases the held deletion plan planID: through the running
// jms-sync's reconciler when one answers, else in this process (under the
// run lock, waiting until the applier has carried the deletions out).
func Confirm(ctx context.Context, o CommandOptions, planID string) (*CommandResult, error) {
	body, _ := json.Marshal(reconciler.ConfirmRequest{PlanID: planID})
	return command(ctx, o, "confirm", reconciler.SubjectConfirm, body, func(ctx context.Context, s *session) (reconciler.Reply, error) {
		res, runID, err := s.svcs.Reconciler.Confirm(ctx, planID)
		if err != nil {
			return reconciler.Reply{}, err
		}
		return reconciler.Reply{OK: true, RunID: runID, Confirm: res}, nil
	})
}

// Prune deletes the assets of a scope that is no longer configured, the
// same way as Confirm.
func Prune(ctx context.Context, o CommandOptions, sc events.Scope) (*CommandResult, error) {
	body, _ := json.Marshal(reconciler.PruneRequest{ScopeRef: reconciler.ScopeRef{Provider: sc.Provider, AccountID: sc.AccountID, Region: sc.Region}})
	return command(ctx, o, "prune", reconciler.SubjectPrune, body, func(ctx context.Context, s *session) (reconciler.Reply, error) {
		res, runID, err := s.svcs.Reconciler.Prune(ctx, sc)
		if err != nil {
			return reconciler.Reply{}, err
		}
		return reconciler.Reply{OK: true, RunID: runID, Prune: res}, nil
	})
}

func command(ctx context.Context, o CommandOptions, name, subject string, body []byte,
	local func(context.Context, *session) (reconciler.Reply, error),
) (*CommandResult, error) {
	o.defaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	defer o.Progress.Done()
	if rp, ok, err := askServe(ctx, &o, subject, body); err != nil {
		return nil, err
	} else if ok {
		return &CommandResult{Via: "serve", Reply: *rp}, nil
	}
	s, err := openSession(ctx, &o, name)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	res := &CommandResult{Via: "in-process"}
	o.Progress.Update("deciding")
	res.Reply, res.Err = decide(ctx, s, func(ctx context.Context) (reconciler.Reply, error) { return local(ctx, s) })
	if res.Err == nil && res.Reply.RunID != "" {
		left, err := pendingIntents(ctx, s.bus.Bus)
		if err == nil {
			res.Drain, res.Err = s.drain(ctx, int(left))
		} else {
			res.Err = err
		}
		if res.Err == nil {
			s.waitClosed(ctx, res.Reply.RunID, 20*time.Second)
			res.Err = s.failure()
		}
	}
	res.DeadLetters, _ = s.seen()
	return res, nil
}

// askServe sends the command to a running reconciler: ok is false when
// none is reachable or none answers the subject.
func askServe(ctx context.Context, o *CommandOptions, subject string, body []byte) (*reconciler.Reply, bool, error) {
	ext, err := natsConfig(o.Env)
	if err != nil {
		return nil, false, err
	}
	if ext.URL == "" {
		ext.URL = readURL(o.DataDir) // a running jms-sync's embedded server: no credentials
	}
	if ext.URL == "" {
		return nil, false, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	nc, err := connectNATS(cctx, ext, "jms-sync-cli", 3*time.Second, o.Log)
	cancel()
	if natsx.IsAuthError(err) {
		return nil, false, err // running or not, the in-process path would be refused too
	}
	if err != nil {
		o.Log.Debug().Err(err).Msg("no running jms-sync reachable; carrying the command out here")
		return nil, false, nil
	}
	defer nc.Close()
	o.Progress.Update("asking the running jms-sync")
	msg, err := nc.RequestWithContext(ctx, subject, body)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", subject, err)
	}
	var rp reconciler.Reply
	if err := json.Unmarshal(msg.Data, &rp); err != nil {
		return nil, false, fmt.Errorf("%s: reply: %w", subject, err)
	}
	return &rp, true, nil
}

// printOutcome ends the printout of a command that ran the pipeline: what
// was left unapplied, the dead letters and the error.
func printOutcome(w io.Writer, d drainResult, deadLetters []string, err error) {
	if d.Left > 0 {
		fmt.Fprintf(w, "%d intents not applied%s\n", d.Left, d.note())
	}
	for _, l := range deadLetters {
		fmt.Fprintf(w, "dead letter: %s\n", l)
	}
	if err != nil {
		fmt.Fprintf(w, "error: %v\n", err)
	}
}
