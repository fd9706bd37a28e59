package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/services/jms-sync/internal/cli"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// explainMax bounds the identities one query explains (an address shared
// by many instances) and the records listed per kind.
const (
	explainMax      = 5
	explainMaxFacts = 20
)

// ExplainResult is what `explain <query>` found.
type ExplainResult struct {
	Query  string       `json:"query"`
	Source string       `json:"source"` // where the store was read
	Items  []*Explained `json:"items"`
	// More counts the identities matched beyond explainMax.
	More int `json:"more,omitempty"`
}

// Explained is everything known about one instance.
type Explained struct {
	Identity asset.ID `json:"identity"`
	// Seen: the latest usable passes that list it.
	Seen []SeenIn `json:"seen"`
	// NotSeenIn: configured scopes whose latest usable pass does not list
	// it (or that have none).
	NotSeenIn []string `json:"not_seen_in,omitempty"`
	// Desired is the asset the mapping makes of it (name before
	// de-duplication), or Skip says why none.
	Desired *events.Desired `json:"desired,omitempty"`
	Skip    string          `json:"skip,omitempty"`
	// Next is what the next cycle would decide (dry run).
	Next       []reconciler.Decision `json:"next,omitempty"`
	NextIntent *events.Intent        `json:"next_intent,omitempty"`
	Mirror     *mirror.Entry         `json:"mirror,omitempty"`
	// Intents still queued for the applier (applied ones leave the work
	// queue: their facts follow).
	Intents     []*events.Intent      `json:"intents,omitempty"`
	Facts       []*events.AppliedFact `json:"facts,omitempty"`
	DeadLetters []ExplainDeadLetter   `json:"dead_letters,omitempty"`
}

// SeenIn is one pass listing the instance, with its normalised fields.
type SeenIn struct {
	Scope      string          `json:"scope"`
	PassID     string          `json:"pass_id"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
	Instance   *asset.Instance `json:"instance"`
}

// ExplainDeadLetter is an intent the applier (or a service) gave up on.
type ExplainDeadLetter struct {
	Service string         `json:"service"`
	Reason  string         `json:"reason"`
	Error   string         `json:"error,omitempty"`
	Time    string         `json:"time,omitempty"`
	Intent  *events.Intent `json:"intent,omitempty"`
}

// ErrNothingKnown is returned (with a result) when the query matches nothing.
var ErrNothingKnown = errors.New("nothing is known")

// Explain tells what was seen, decided and done for the instance named by
// query: an instance id, an asset name, an address or a JumpServer asset
// id. It only reads: the store of a running jms-sync (JMSSYNC_NATS_URL or
// the data directory's), or the data directory's store opened briefly.
func Explain(ctx context.Context, o CommandOptions, query string) (*ExplainResult, error) {
	o.defaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	query = strings.TrimSpace(query)
	res := &ExplainResult{Query: query, Items: []*Explained{}}
	js, source, closeFn, err := openSharedReadOnly(ctx, &o)
	if err != nil {
		return nil, err
	}
	if js == nil {
		res.Source = "no jms-sync store in " + o.DataDir
		return res, ErrNothingKnown
	}
	defer closeFn()
	res.Source = source

	passes, err := reconciler.LatestPasses(ctx, js, o.Configs.Reconciler)
	if err != nil {
		return nil, err
	}
	entries := map[string]*mirror.Entry{}
	if m, err := mirror.Open(ctx, js); err == nil {
		if entries, err = m.All(ctx); err != nil {
			return nil, err
		}
	}
	ids := matchQuery(query, passes, entries)
	if len(ids) == 0 {
		// Perhaps only the streams know it (an identity spelled in full).
		for _, p := range asset.Providers() {
			ids = append(ids, asset.ID{Provider: p, InstanceID: query})
		}
	}
	if len(ids) > explainMax {
		res.More = len(ids) - explainMax
		ids = ids[:explainMax]
	}
	root := ""
	if kv, err := js.KeyValue(ctx, natsx.BucketState); err == nil {
		if e, err := kv.Get(ctx, reconciler.KeyMirrorReady); err == nil {
			var r reconciler.MirrorReady
			if json.Unmarshal(e.Value(), &r) == nil {
				root = r.RootNode
			}
		}
	}
	for _, id := range ids {
		ex := &Explained{Identity: id, Seen: []SeenIn{}, Mirror: entries[mirror.Key(id)]}
		for i := range passes {
			p := &passes[i]
			var inst *asset.Instance
			for j := range p.Instances {
				if p.Instances[j].ID() == id {
					inst = &p.Instances[j]
				}
			}
			if inst == nil {
				ex.NotSeenIn = append(ex.NotSeenIn, p.Scope.String())
				continue
			}
			ex.Seen = append(ex.Seen, SeenIn{Scope: p.Scope.String(), PassID: p.PassID, FinishedAt: p.FinishedAt, Instance: inst})
			if ex.Desired == nil && ex.Skip == "" {
				d, skip, err := reconciler.DesiredOf(o.Configs.Reconciler, root, inst)
				if err != nil {
					return nil, err
				}
				if skip != "" {
					ex.Skip = skip
				} else {
					ex.Desired = &d
				}
			}
		}
		if err := ex.readStreams(ctx, js); err != nil {
			return nil, err
		}
		if len(ex.Seen) > 0 || ex.Mirror != nil {
			if ex.Next, ex.NextIntent, err = reconciler.ExplainDecisions(ctx, js, o.Configs.Reconciler, id); err != nil {
				o.Log.Warn().Err(err).Msg("explain: dry run failed; the next decision is not shown")
			}
		}
		if len(ex.Seen) > 0 || ex.Mirror != nil || len(ex.Intents) > 0 || len(ex.Facts) > 0 || len(ex.DeadLetters) > 0 {
			res.Items = append(res.Items, ex)
		}
	}
	if len(res.Items) == 0 {
		return res, ErrNothingKnown
	}
	return res, nil
}

// matchQuery returns the identities the query names, sorted: by instance
// id, asset id, name (case-insensitive) or address, in the latest passes
// and the mirror.
func matchQuery(q string, passes []reconciler.ScopePass, entries map[string]*mirror.Entry) []asset.ID {
	set := map[asset.ID]bool{}
	addr, addrErr := netip.ParseAddr(q)
	sameAddr := func(s string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		return addrErr == nil && err == nil && a.Unmap() == addr.Unmap()
	}
	for _, p := range passes {
		for i := range p.Instances {
			in := &p.Instances[i]
			hit := in.InstanceID == q || strings.EqualFold(strings.TrimSpace(in.Name), q) || strings.EqualFold(in.Hostname, q) ||
				sameAddr(in.EIP) || slices.ContainsFunc(in.PrivateIPs, sameAddr) || slices.ContainsFunc(in.PublicIPs, sameAddr)
			if hit {
				set[in.ID()] = true
			}
		}
	}
	for _, e := range entries {
		if e.Identity.InstanceID == q || strings.EqualFold(e.AssetID.String(), q) ||
			strings.EqualFold(strings.TrimSpace(e.State.Name), q) || sameAddr(e.State.Address) {
			set[e.Identity] = true
		}
	}
	out := make([]asset.ID, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b asset.ID) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// readStreams collects the queued intents, the applied facts and the dead
// letters of the identity (reads only; an ordered consumer leaves nothing
// behind).
func (ex *Explained) readStreams(ctx context.Context, js jetstream.JetStream) error {
	id := ex.Identity
	prov := natsx.EncodeToken(string(id.Provider))
	// INTENTS is a work queue: read by sequence, never consumed.
	if err := getEach(ctx, js, natsx.StreamIntents, "jmssync.intent."+prov+".>", func(m *jetstream.RawStreamMsg) {
		if in, err := events.DecodeAs[*events.Intent](m.Data); err == nil && in.Identity == id {
			ex.Intents = append(ex.Intents, in)
		}
	}); err != nil {
		return err
	}
	if err := scanStream(ctx, js, natsx.StreamAssets, "jmssync.asset.*."+prov+".>", func(m jetstream.Msg) {
		if f, err := events.DecodeAs[*events.AppliedFact](m.Data()); err == nil && f.Identity == id {
			ex.Facts = append(ex.Facts, f)
		}
	}); err != nil {
		return err
	}
	if len(ex.Facts) > explainMaxFacts {
		ex.Facts = ex.Facts[len(ex.Facts)-explainMaxFacts:]
	}
	return scanStream(ctx, js, natsx.StreamDLQ, natsx.SubjectsDLQ, func(m jetstream.Msg) {
		in, err := events.DecodeAs[*events.Intent](m.Data())
		if err != nil || in.Identity != id {
			return
		}
		h := m.Headers()
		ex.DeadLetters = append(ex.DeadLetters, ExplainDeadLetter{Service: h.Get(natsx.HeaderDLQService),
			Reason: h.Get(natsx.HeaderDLQReason), Error: h.Get(natsx.HeaderDLQError), Time: h.Get(natsx.HeaderDLQTime), Intent: in})
	})
}

// getEach reads every message of stream on subjects matching filter by
// direct gets (for work-queue streams, where a consumer would compete).
func getEach(ctx context.Context, js jetstream.JetStream, stream, filter string, fn func(*jetstream.RawStreamMsg)) error {
	st, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for seq := uint64(1); ; {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(m)
		seq = m.Sequence + 1
	}
}

// scanStream reads every message of stream on subjects matching filter
// with an ordered consumer (no ack, no durable state).
func scanStream(ctx context.Context, js jetstream.JetStream, stream, filter string, fn func(jetstream.Msg)) error {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	left := info.NumPending
	for left > 0 {
		batch, err := cons.Fetch(int(min(left, 512)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			fn(m)
			if md, err := m.Metadata(); err == nil {
				left = md.NumPending
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return err
		}
		if got == 0 {
			return nil
		}
	}
	return nil
}

// ExitCode: 0 when something is known, 5 when nothing is.
func (r *ExplainResult) ExitCode() int {
	if len(r.Items) == 0 {
		return ExitNotFound
	}
	return ExitOK
}

// PrintJSON writes the result for machines.
func (r *ExplainResult) PrintJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Print writes the result for a person.
func (r *ExplainResult) Print(w io.Writer) {
	if len(r.Items) == 0 {
		fmt.Fprintf(w, "nothing is known about %q: no configured scope's latest complete pass lists it (by instance id,\n"+
			"name or address), the mirror has no asset of that id, name or address, and no intent, applied fact or\n"+
			"dead letter names it (read from %s)\n", r.Query, r.Source)
		return
	}
	for i, ex := range r.Items {
		if i > 0 {
			fmt.Fprintln(w)
		}
		ex.print(w, r.Query, r.Source)
	}
	if r.More > 0 {
		fmt.Fprintf(w, "\n… and %d more instances match %q: ask for an instance id\n", r.More, r.Query)
	}
}

func (ex *Explained) print(w io.Writer, query, source string) {
	fmt.Fprintf(w, "%s %s  (query %q; read from %s)\n", ex.Identity.Provider, ex.Identity.InstanceID, query, source)

	fmt.Fprintln(w, "\nSEEN")
	if len(ex.Seen) == 0 {
		fmt.Fprintln(w, "  not listed in the latest complete pass of any configured scope")
	}
	for _, s := range ex.Seen {
		in := s.Instance
		fmt.Fprintf(w, "  %s  pass %s  finished %s\n", s.Scope, s.PassID, stamp(s.FinishedAt))
		t := cli.NewTable(w)
		t.Row("  ", "name", orDash(in.Name), "hostname", orDash(in.Hostname))
		t.Row("  ", "state", fmt.Sprintf("%s (%s)", in.State, orDash(in.Status)), "os", fmt.Sprintf("%s %s", in.OSType, in.OSName))
		t.Row("  ", "private", orDash(strings.Join(in.PrivateIPs, ", ")), "public", orDash(strings.Join(in.PublicIPs, ", ")))
		t.Row("  ", "eip", orDash(in.EIP), "type", orDash(in.InstanceType))
		t.Row("  ", "vpc", orDash(in.VPCID), "zone", orDash(in.Zone))
		_ = t.Flush()
	}
	if len(ex.Seen) > 0 && len(ex.NotSeenIn) > 0 {
		fmt.Fprintf(w, "  (not in the latest pass of %s)\n", strings.Join(ex.NotSeenIn, ", "))
	}

	fmt.Fprintln(w, "\nDESIRED")
	switch {
	case ex.Desired != nil:
		d := ex.Desired
		t := cli.NewTable(w)
		t.Row("name", d.Name+"  (before de-duplication; an existing asset keeps its name)")
		t.Row("address", d.Address)
		t.Row("platform", fmt.Sprintf("%s %s", d.Platform, protocolsText(d.Protocols)))
		t.Row("node", d.NodePath)
		t.Row("labels", labelsText(d.Labels))
		if d.Zone != "" {
			t.Row("zone", d.Zone)
		}
		t.Row("active", d.IsActive)
		_ = t.Flush()
	case ex.Skip != "":
		fmt.Fprintf(w, "  no asset: %s (listed, so never deleted for absence)\n", ex.Skip)
	default:
		fmt.Fprintln(w, "  unknown: not listed")
	}

	fmt.Fprintln(w, "\nNEXT CYCLE (dry run)")
	switch {
	case ex.NextIntent != nil:
		fmt.Fprintf(w, "  %s: %s\n", ex.NextIntent.Op, ex.NextIntent.Cause)
	case len(ex.Next) == 0:
		fmt.Fprintln(w, "  nothing to change")
	}
	for _, d := range ex.Next {
		if d.Op != "" {
			continue // the intent above
		}
		line := "  no intent: " + d.Cause
		if d.Detail != "" {
			line += " (" + d.Detail + ")"
		}
		fmt.Fprintln(w, line)
	}

	fmt.Fprintln(w, "\nMIRROR")
	if e := ex.Mirror; e == nil {
		fmt.Fprintln(w, "  no entry: jms-sync manages no asset for it")
	} else {
		t := cli.NewTable(w)
		status := "live"
		switch {
		case e.Deleted:
			status = "tombstone (deleted by jms-sync, or found deleted by hand)"
		case e.Orphaned:
			status = "orphaned (scope no longer configured)"
		}
		t.Row("asset", e.AssetID.String()+"  "+fmt.Sprintf("%q", e.State.Name))
		t.Row("status", status)
		t.Row("scope", e.Scope.String())
		t.Row("generation", fmt.Sprintf("%d  (updated %s)", e.Generation, stamp(e.UpdatedAt)))
		active := fmt.Sprint(e.State.IsActive)
		if e.DeactivatedBySync {
			active += "  (deactivated by jms-sync at " + stamp(e.DeactivatedAt) + ")"
		}
		t.Row("active", active)
		t.Row("address", e.State.Address)
		t.Row("platform", fmt.Sprintf("%s %s", e.State.Platform, protocolsText(e.State.Protocols)))
		t.Row("nodes", orDash(strings.Join(e.State.Nodes, ", ")))
		t.Row("labels", labelsText(e.State.Labels))
		_ = t.Flush()
	}

	fmt.Fprintln(w, "\nINTENTS queued for the applier")
	if len(ex.Intents) == 0 {
		fmt.Fprintln(w, "  none (applied intents leave the queue: see the facts)")
	}
	for _, in := range ex.Intents {
		fmt.Fprintf(w, "  %s  %-10s %-20s gen %d  run %s\n", stamp(in.IssuedAt), in.Op, in.Cause, in.Generation, in.RunID)
	}

	fmt.Fprintln(w, "\nAPPLIED FACTS (newest last)")
	if len(ex.Facts) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, f := range ex.Facts {
		fmt.Fprintf(w, "  %s  %-11s gen %d  run %s  asset %s\n", stamp(f.AppliedAt), f.Op, f.IntentGeneration, f.RunID, f.AssetID)
		for _, c := range stateChanges(f.Before, f.After) {
			fmt.Fprintf(w, "      %s\n", c)
		}
	}

	fmt.Fprintln(w, "\nDEAD LETTERS")
	if len(ex.DeadLetters) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, d := range ex.DeadLetters {
		line := fmt.Sprintf("  %s  %s %s: %s", orDash(d.Time), d.Service, d.Reason, d.Error)
		if d.Intent != nil {
			line += fmt.Sprintf("  (%s %s gen %d run %s)", d.Intent.Op, d.Intent.Cause, d.Intent.Generation, d.Intent.RunID)
		}
		fmt.Fprintln(w, line)
	}
}

// stateChanges lists the fields that differ between before and after
// ("field: old -> new"); a create or delete lists every field set.
func stateChanges(before, after *events.AssetState) []string {
	var b, a events.AssetState
	if before != nil {
		b = *before
	}
	if after != nil {
		a = *after
	}
	var out []string
	add := func(field, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s: %s -> %s", field, orDash(x), orDash(y)))
		}
	}
	add("name", b.Name, a.Name)
	add("address", b.Address, a.Address)
	add("platform", b.Platform, a.Platform)
	add("protocols", protocolsText(b.Protocols), protocolsText(a.Protocols))
	add("nodes", strings.Join(b.Nodes, ", "), strings.Join(a.Nodes, ", "))
	add("labels", labelsText(b.Labels), labelsText(a.Labels))
	add("zone", b.Zone, a.Zone)
	if before != nil && after != nil {
		add("active", fmt.Sprint(b.IsActive), fmt.Sprint(a.IsActive))
	}
	return out
}

func protocolsText(ps []events.Protocol) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprintf("%s/%d", p.Name, p.Port)
	}
	return strings.Join(s, ",")
}

func labelsText(ls []events.Label) string {
	ls = slices.Clone(ls)
	slices.SortFunc(ls, func(a, b events.Label) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Value, b.Value)) })
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.Name + ":" + l.Value
	}
	return orDash(strings.Join(s, ", "))
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
