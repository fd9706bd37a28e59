package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/services/applier/applier"
	"github.com/jmssync/jmssync/services/jms-sync/internal/cli"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// AdoptResult is how `adopt` went: the plan (every Python-made asset and
// what happens to it) and, with -yes, how applying it went.
type AdoptResult struct {
	CommandResult
	Yes bool
	// JumpServer is the base URL read; Hosts the hosts listed there;
	// Legacy those whose comment names an instance the Python tool's way.
	JumpServer string
	Hosts      int
	Legacy     int
	// Passes are the passes listed first when the store had none (in-process).
	Passes []*events.PassClose
}

// Result is the reconciler's answer (an empty one when it gave none).
func (r *AdoptResult) Result() *reconciler.AdoptResult {
	if r.Reply.Adopt != nil {
		return r.Reply.Adopt
	}
	return &reconciler.AdoptResult{DryRun: !r.Yes}
}

// ExitCode: 0 when the plan was shown, or with -yes every match was
// adopted; 5 with -yes when nothing could be adopted (refused, as confirm
// and prune); 1 on an error, a dead letter, intents not applied, or when a
// configured scope has no usable pass yet (the plan is partial).
func (r *AdoptResult) ExitCode() int {
	if c := r.CommandResult.ExitCode(); c != ExitOK {
		return c
	}
	res := r.Result()
	switch {
	case len(res.NoPass) > 0:
		return ExitFailed
	case r.Yes && res.Adopted == 0:
		return ExitNotFound
	}
	return ExitOK
}

// Adopt takes over the assets the Python jms-sync created: JumpServer's
// hosts are read (GETs only) and those whose comment carries
// "instance_id: <id>" are matched, by the reconciler, against the latest
// complete passes. Without yes nothing is written; with yes one adopt
// intent per match is issued, through a running jms-sync when one answers,
// else in this process (under the run lock, listing the clouds first when
// no pass was seen yet, and waiting until the applier adopted them).
func Adopt(ctx context.Context, o CommandOptions, yes bool) (*AdoptResult, error) {
	o.defaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	res := &AdoptResult{Yes: yes, JumpServer: o.Configs.Applier.JumpServer.URL}
	o.Progress.Update("reading JumpServer's hosts (GET only)")
	cands, hosts, err := legacyCandidates(ctx, o.Configs, o.Log)
	if err != nil {
		return nil, fmt.Errorf("read JumpServer: %w", err)
	}
	res.Hosts, res.Legacy = hosts, len(cands)
	req := reconciler.AdoptRequest{DryRun: !yes, Candidates: cands}
	body, _ := json.Marshal(req)
	listed := false
	cr, err := command(ctx, o, "adopt", reconciler.SubjectAdopt, body, func(ctx context.Context, s *session) (reconciler.Reply, error) {
		if !listed { // once: decide() calls again while the mirror is being rebuilt
			listed = true
			missing, err := s.svcs.Reconciler.UnverifiedScopes(ctx)
			if err != nil {
				return reconciler.Reply{}, err
			}
			if len(missing) > 0 {
				res.Passes = runPasses(ctx, s.svcs.Collectors, o.Progress)
				if err := waitVerified(ctx, s); err != nil {
					return reconciler.Reply{}, err
				}
			}
		}
		r, runID, err := s.svcs.Reconciler.Adopt(ctx, req)
		if err != nil {
			return reconciler.Reply{}, err
		}
		return reconciler.Reply{OK: true, RunID: runID, Adopt: r}, nil
	})
	if err != nil {
		return nil, err
	}
	res.CommandResult = *cr
	return res, nil
}

// legacyCandidates lists every host of the org and keeps those whose
// comment names an instance the Python jms-sync way; hand-made hosts (no
// such line) are never candidates. It returns them and the hosts read.
func legacyCandidates(ctx context.Context, cfgs *Configs, log zerolog.Logger) ([]reconciler.AdoptCandidate, int, error) {
	ccfg := cfgs.Applier.ClientConfig()
	ccfg.Logger = &log
	client, err := jumpserver.New(ccfg)
	if err != nil {
		return nil, 0, err
	}
	if _, err := client.Start(ctx); err != nil {
		return nil, 0, err
	}
	var out []reconciler.AdoptCandidate
	n := 0
	_, err = client.ListHosts(ctx, jumpserver.ListOptions{}, func(hs []jumpserver.Host) error {
		for i := range hs {
			n++
			h := &hs[i]
			id, ok := asset.LegacyInstanceID(h.Comment)
			if !ok {
				continue
			}
			st := jumpserver.State(*h)
			out = append(out, reconciler.AdoptCandidate{
				AssetID: h.ID, Name: st.Name, Address: st.Address, Platform: st.Platform, Protocols: st.Protocols,
				Nodes: st.Nodes, Labels: st.Labels, Zone: st.Zone, IsActive: st.IsActive, InstanceID: id,
				Owned: h.HasLabel(applier.LabelPrefix, cfgs.Applier.InstallID),
			})
		}
		return nil
	})
	return out, n, err
}

// adoptReasonText explains a reason code to a person.
func adoptReasonText(reason string) string {
	switch reason {
	case reconciler.AdoptNotSeen:
		return "instance not seen in the latest complete pass of any configured scope"
	case reconciler.AdoptAmbiguous:
		return "ambiguous"
	case reconciler.AdoptManaged:
		return "the instance is managed already (mirror)"
	case reconciler.AdoptOwned:
		return "already owned by this jms-sync"
	case reconciler.AdoptNotDesired:
		return "the instance maps to no asset"
	case reconciler.AdoptBadAssetID:
		return "the asset id is not a UUID"
	}
	return reason
}

// Print writes the plan and the outcome for a person.
func (r *AdoptResult) Print(w io.Writer) {
	res := r.Result()
	if r.Yes {
		fmt.Fprintln(w, "jms-sync adopt -yes")
	} else {
		fmt.Fprintln(w, "jms-sync adopt (dry run: nothing was written; run it with -yes to adopt)")
	}
	fmt.Fprintf(w, "  JumpServer %s: %s read, %d with an `instance_id:` comment (made by the Python jms-sync)\n",
		orDash(r.JumpServer), cli.Plural(r.Hosts, "host", "hosts"), r.Legacy)
	for _, c := range r.Passes {
		if c.Status == events.PassComplete {
			fmt.Fprintf(w, "  listed %s: %d instances\n", c.Scope.String(), c.InstanceCount)
		} else {
			fmt.Fprintf(w, "  pass FAILED %s: %s %s\n", c.Scope.String(), c.Reason, c.Detail)
		}
	}
	for _, sc := range res.NoPass {
		fmt.Fprintf(w, "  no complete pass of %s yet: its instances cannot be matched (the plan is partial)\n", sc.String())
	}
	var adopt, left []reconciler.AdoptItem
	for _, it := range res.Items {
		if it.Adopt {
			adopt = append(adopt, it)
		} else {
			left = append(left, it)
		}
	}
	verb := "to adopt"
	if r.Yes && r.Reply.OK {
		verb = "adopted"
		if r.Via == "serve" {
			verb = "adopt issued"
		}
	}
	fmt.Fprintf(w, "\n%s %d, left alone %d\n", verb, len(adopt), len(left))
	if len(adopt) > 0 {
		fmt.Fprintln(w, "  (adopting adds the ownership labels and sets the owned fields listed; the asset keeps its id, name,\n"+
			"   protocols, comment, accounts, is_active and the operator's labels and nodes)")
	}
	for _, it := range adopt {
		fmt.Fprintf(w, "  %s  (asset %s)  <-  %s %s  (pass %s)\n", it.Name, it.AssetID, scopeText(it.Scope), it.InstanceID, orDash(it.PassID))
		t := cli.NewTable(w)
		for _, c := range it.Changes {
			switch {
			case c.Field == "labels":
				t.Row("    ", c.Field, c.To)
			case c.Field == "node" && c.From != "":
				t.Row("    ", c.Field, c.To+" (other nodes kept: "+c.From+")")
			case c.Field == "node":
				t.Row("    ", c.Field, c.To)
			default:
				t.Row("    ", c.Field, orDash(c.From)+" -> "+c.To)
			}
		}
		_ = t.Flush()
	}
	if len(left) > 0 {
		fmt.Fprintln(w)
		t := cli.NewTable(w, "LEFT ALONE", "ASSET ID", "INSTANCE", "WHY")
		for _, it := range left {
			why := adoptReasonText(it.Reason)
			if it.Detail != "" {
				why += ": " + it.Detail
			}
			t.Row(it.Name, it.AssetID, it.InstanceID, why)
		}
		_ = t.Flush()
	}
	rp := r.Reply
	switch {
	case !rp.OK && rp.Error != "":
		fmt.Fprintf(w, "\nfailed (%s): %s\n", rp.Error, rp.Detail)
	case r.Yes && rp.RunID != "":
		fmt.Fprintf(w, "\nrun %s: %d adopt intents issued\n", rp.RunID, res.Adopted)
		if r.Via == "serve" {
			fmt.Fprintln(w, "the running jms-sync applies them")
		}
	case !r.Yes && len(adopt) > 0:
		fmt.Fprintln(w, "\nnothing was written; adopt them with: jms-sync adopt -yes")
	}
	printOutcome(w, r.Drain, r.DeadLetters, r.Err)
}

func scopeText(sc *events.Scope) string {
	if sc == nil {
		return "-"
	}
	return sc.String()
}

// adoptJSON is adopt's -json output.
type adoptJSON struct {
	DryRun      bool                    `json:"dry_run"`
	Via         string                  `json:"via"`
	RunID       string                  `json:"run_id,omitempty"`
	JumpServer  string                  `json:"jumpserver"`
	Hosts       int                     `json:"hosts"`
	Legacy      int                     `json:"legacy"`
	Result      *reconciler.AdoptResult `json:"result"`
	NotApplied  uint64                  `json:"not_applied,omitempty"`
	DeadLetters []string                `json:"dead_letters,omitempty"`
	Error       string                  `json:"error,omitempty"`
	ExitCode    int                     `json:"exit_code"`
}

// PrintJSON writes the outcome for machines.
func (r *AdoptResult) PrintJSON(w io.Writer) error {
	out := adoptJSON{DryRun: !r.Yes, Via: r.Via, RunID: r.Reply.RunID, JumpServer: r.JumpServer, Hosts: r.Hosts,
		Legacy: r.Legacy, Result: r.Result(), NotApplied: r.Drain.Left, DeadLetters: r.DeadLetters, ExitCode: r.ExitCode()}
	var errs []string
	if !r.Reply.OK && r.Reply.Error != "" {
		errs = append(errs, r.Reply.Error+": "+r.Reply.Detail)
	}
	if r.Err != nil {
		errs = append(errs, r.Err.Error())
	}
	out.Error = strings.Join(errs, "; ")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
