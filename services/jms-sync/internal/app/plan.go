package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natsembed"
	"github.com/jmssync/jmssync/services/applier/applier"
	"github.com/jmssync/jmssync/services/jms-sync/internal/cli"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// PlanResult is a dry run: what the next cycle would do.
type PlanResult struct {
	Passes []*events.PassClose
	// MirrorSource says where the view of JumpServer came from.
	MirrorSource string
	MirrorSize   int
	// Unmatched counts assets carrying our ownership label that no listed
	// instance maps to (only when the view was read from JumpServer).
	Unmatched int
	Changes   []PlanChange
	Intents   map[events.Op]int
	Held      []HeldPlan
	Skipped   map[string]string
	Orphaned  int
}

// PlanChange is one intent the cycle would issue.
type PlanChange struct {
	Op       events.Op
	Scope    string
	Instance string
	Name     string
	Address  string
	Cause    string
}

// ExitCode is plan's status: 0 when the plan covers every scope, 1 when a
// listing failed or a scope could not be decided (the plan is partial).
func (r *PlanResult) ExitCode() int {
	for _, c := range r.Passes {
		if c.Status != events.PassComplete {
			return ExitFailed
		}
	}
	if len(r.Skipped) > 0 {
		return ExitFailed
	}
	return ExitOK
}

// Plan is the isolated dry run behind `jms-sync plan`. Every cloud account
// and region is listed into a private, temporary JetStream store (nothing
// is published on the shared bus, no lease is taken there); the view of
// JumpServer is a read-only copy of the shared mirror and decision state
// when one is reachable (JMSSYNC_NATS_URL, a running jms-sync's store, or
// the data directory when nobody uses it), otherwise JumpServer's current
// managed assets read with GETs only; the reconciler's dry run then decides
// over that. Nothing is written to JumpServer or the shared store.
func Plan(ctx context.Context, o CommandOptions) (*PlanResult, error) {
	o.defaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	defer o.Progress.Done()
	log := o.Log

	tmp, err := os.MkdirTemp("", "jms-sync-plan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	o.Progress.Update("starting a private JetStream store")
	priv, err := OpenBus(ctx, "", tmp, log)
	if err != nil {
		return nil, err
	}
	defer priv.Close()

	res := &PlanResult{Intents: map[events.Op]int{}, Skipped: map[string]string{}}
	o.Progress.Update("reading the shared mirror (read-only)")
	src, n, err := copyShared(ctx, &o, priv.JS)
	if natsx.IsAuthError(err) {
		return nil, err // JMSSYNC_NATS_* is wrong: say so rather than plan from another view
	}
	if err != nil {
		log.Warn().Err(err).Msg("shared store not readable; the plan reads JumpServer instead")
		src, n = "", 0
	}
	res.MirrorSource, res.MirrorSize = src, n

	cols, err := BuildCollectors(o.Configs, priv, log)
	if err != nil {
		return nil, err
	}
	res.Passes = runPasses(ctx, cols, o.Progress)
	for _, c := range res.Passes {
		if c.Status == events.PassComplete {
			o.Progress.Step("listed %-40s %6d instances", c.Scope.String(), c.InstanceCount)
		} else {
			o.Progress.Step("FAILED %-40s %s: %s", c.Scope.String(), c.Reason, c.Detail)
		}
	}

	if res.MirrorSize == 0 {
		o.Progress.Update("reading JumpServer's managed assets (GET only)")
		if res.MirrorSize, res.Unmatched, err = mirrorFromJumpServer(ctx, o.Configs, priv.JS, log); err != nil {
			return nil, fmt.Errorf("read JumpServer: %w", err)
		}
		res.MirrorSource = "JumpServer " + o.Configs.Applier.JumpServer.URL + " (assets carrying jmssync:" + o.Configs.Applier.InstallID + ")"
	}

	o.Progress.Update("deciding")
	out, err := reconciler.Plan(ctx, priv.JS, o.Configs.Reconciler)
	if err != nil {
		return nil, err
	}
	ents, err := mirrorEntries(ctx, priv.JS)
	if err != nil {
		return nil, err
	}
	for i := range out.Intents {
		in := &out.Intents[i]
		res.Intents[in.Op]++
		ch := PlanChange{Op: in.Op, Scope: in.Scope.String(), Instance: in.Identity.InstanceID, Cause: in.Cause}
		if in.Desired != nil {
			ch.Name, ch.Address = in.Desired.Name, in.Desired.Address
		} else if e := ents[mirror.Key(in.Identity)]; e != nil {
			ch.Name, ch.Address = e.State.Name, e.State.Address
		}
		res.Changes = append(res.Changes, ch)
	}
	slices.SortFunc(res.Changes, func(a, b PlanChange) int {
		return cmp.Or(cmp.Compare(opRank(a.Op), opRank(b.Op)), cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Name, b.Name))
	})
	for _, sc := range out.Run.Scopes {
		if sc.Skipped != "" {
			res.Skipped[sc.Scope.String()] = sc.Skipped
		}
	}
	for i := range out.Scopes {
		if h := out.Scopes[i].Held; h != nil {
			res.Held = append(res.Held, HeldPlan{ID: h.ID, Scope: h.Scope.String(), Deletions: len(h.Identities)})
		}
	}
	return res, nil
}

func opRank(op events.Op) int {
	return slices.Index(events.Ops(), op)
}

// copyShared copies the shared mirror and the reconciler's state into the
// private store, reading only. It returns where they came from and the
// number of live mirror entries ("" and 0 when no shared store exists).
func copyShared(ctx context.Context, o *CommandOptions, dst jetstream.JetStream) (string, int, error) {
	js, source, closeFn, err := openSharedReadOnly(ctx, o)
	if err != nil || js == nil {
		return "", 0, err
	}
	defer closeFn()
	n, err := copyBucket(ctx, js, dst, natsx.BucketAssets, nil)
	if err != nil {
		return "", 0, err
	}
	if _, err := copyBucket(ctx, js, dst, natsx.BucketState, []string{"reconciler.>", reconciler.KeyMirrorReady}); err != nil {
		return "", 0, err
	}
	if n == 0 {
		return "", 0, nil
	}
	return source, n, nil
}

// openSharedReadOnly connects to the shared store without declaring
// anything on it: the external server, a running jms-sync's embedded
// server, or the data directory's store opened briefly when nobody uses it.
func openSharedReadOnly(ctx context.Context, o *CommandOptions) (jetstream.JetStream, string, func(), error) {
	log := o.Log
	ext, err := natsConfig(o.Env)
	if err != nil {
		return nil, "", nil, err
	}
	connect := func(c natsx.Config) (jetstream.JetStream, func(), error) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		nc, err := connectNATS(cctx, c, "jms-sync-plan", 3*time.Second, log)
		if err != nil {
			return nil, nil, err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return nil, nil, err
		}
		return js, nc.Close, nil
	}
	if ext.URL != "" {
		js, c, err := connect(ext)
		return js, "the shared store at JMSSYNC_NATS_URL", c, err
	}
	if u := readURL(o.DataDir); u != "" {
		if js, c, err := connect(natsx.Config{URL: u}); err == nil {
			return js, "the running jms-sync's store (" + o.DataDir + ")", c, nil
		}
	}
	store := filepath.Join(o.DataDir, "jetstream")
	if _, err := os.Stat(store); err != nil {
		return nil, "", nil, nil // never synced here
	}
	unlock, err := lockFile(filepath.Join(o.DataDir, storeLockFile))
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", o.DataDir, err)
	}
	srv, err := natsembed.Start(natsembed.Options{DataDir: store})
	if err != nil {
		unlock()
		return nil, "", nil, err
	}
	js, c, err := connect(natsx.Config{URL: srv.URL()})
	if err != nil {
		srv.Shutdown()
		unlock()
		return nil, "", nil, err
	}
	return js, "the store in " + o.DataDir, func() { c(); srv.Shutdown(); unlock() }, nil
}

// copyBucket copies the keys of bucket matching filters (every key when
// none) from src to dst and returns how many it copied.
func copyBucket(ctx context.Context, src, dst jetstream.JetStream, bucket string, filters []string) (int, error) {
	from, err := src.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	to, err := dst.KeyValue(ctx, bucket)
	if err != nil {
		return 0, err
	}
	var keys jetstream.KeyLister
	if len(filters) > 0 {
		keys, err = from.ListKeysFiltered(ctx, filters...)
	} else {
		keys, err = from.ListKeys(ctx)
	}
	if err != nil {
		return 0, err
	}
	var names []string
	for k := range keys.Keys() {
		names = append(names, k)
	}
	_ = keys.Stop()
	n := 0
	for _, k := range names {
		e, err := from.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if _, err := to.Put(ctx, k, e.Value()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// mirrorFromJumpServer builds the private mirror from JumpServer's assets
// carrying our ownership label (GETs only): each listed instance whose
// deterministic asset id JumpServer holds gets an entry with the state
// JumpServer returned. It returns the entries made and the owned assets no
// listed instance maps to.
func mirrorFromJumpServer(ctx context.Context, cfgs *Configs, js jetstream.JetStream, log zerolog.Logger) (int, int, error) {
	ccfg := cfgs.Applier.ClientConfig()
	ccfg.Logger = &log
	client, err := jumpserver.New(ccfg)
	if err != nil {
		return 0, 0, err
	}
	info, err := client.Start(ctx)
	if err != nil {
		return 0, 0, err
	}
	owned := map[string]*jumpserver.Host{}
	if _, err := client.ListHosts(ctx, jumpserver.ListOptions{Labels: []events.Label{{Name: applier.LabelPrefix, Value: cfgs.Applier.InstallID}}},
		func(hs []jumpserver.Host) error {
			for i := range hs {
				owned[strings.ToLower(hs[i].ID)] = &hs[i]
			}
			return nil
		}); err != nil {
		return 0, 0, err
	}
	instances, err := listedInstances(ctx, js)
	if err != nil {
		return 0, 0, err
	}
	m, err := mirror.Open(ctx, js)
	if err != nil {
		return 0, 0, err
	}
	now := time.Now().UTC()
	made := 0
	matched := map[string]bool{}
	for _, in := range instances {
		id := asset.ID{Provider: in.Provider, InstanceID: in.InstanceID}
		aid := id.AssetID(cfgs.Reconciler.InstallID, info.Org.ID)
		h := owned[strings.ToLower(aid.String())]
		if h == nil || matched[aid.String()] {
			continue
		}
		matched[aid.String()] = true
		e := &mirror.Entry{AssetID: aid, Identity: id, UpdatedAt: now, State: jumpserver.State(*h),
			Scope: events.Scope{Provider: in.Provider, AccountID: in.AccountID, Region: in.Region}}
		if _, err := m.Put(ctx, e, 0); err != nil {
			return made, 0, err
		}
		made++
	}
	ready := reconciler.MirrorReady{RebuiltAt: now, Entries: made, RootNode: info.RootNode.Value}
	kv, err := js.KeyValue(ctx, natsx.BucketState)
	if err != nil {
		return made, 0, err
	}
	b, _ := json.Marshal(ready)
	if _, err := kv.Put(ctx, reconciler.KeyMirrorReady, b); err != nil {
		return made, 0, err
	}
	return made, len(owned) - made, nil
}

// listedInstances reads every instance of the private store's passes.
func listedInstances(ctx context.Context, js jetstream.JetStream) ([]asset.Instance, error) {
	st, err := js.Stream(ctx, natsx.StreamSnapshots)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []asset.Instance
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(m.Subject, "jmssync.snapshot.") {
			continue
		}
		if ch, err := events.DecodeAs[*events.SnapshotChunk](m.Data); err == nil {
			out = append(out, ch.Instances...)
		}
	}
	return out, nil
}

func mirrorEntries(ctx context.Context, js jetstream.JetStream) (map[string]*mirror.Entry, error) {
	m, err := mirror.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	return m.All(ctx)
}

// PrintPlan writes the plan for a person: where the view came from, the
// listings, a count per op and scope, then the changes (at most limit per
// op; 0 = all) and the held deletions.
func (r *PlanResult) Print(w io.Writer, limit int) {
	fmt.Fprintln(w, "jms-sync plan (dry run: nothing was written to JumpServer or published on the shared bus)")
	if r.MirrorSource != "" {
		fmt.Fprintf(w, "  JumpServer as known from %s: %d managed assets\n", r.MirrorSource, r.MirrorSize)
	}
	if r.Unmatched > 0 {
		fmt.Fprintf(w, "  %d assets carry our ownership label but match no listed instance (not known to this plan; a real cycle would treat them as absent)\n", r.Unmatched)
	}
	t := cli.NewTable(w, "SCOPE", "PASS", "INSTANCES", "CREATE", "UPDATE", "DELETE", "OTHER", "HELD")
	per := map[string]map[events.Op]int{}
	for _, c := range r.Changes {
		if per[c.Scope] == nil {
			per[c.Scope] = map[events.Op]int{}
		}
		per[c.Scope][c.Op]++
	}
	held := map[string]int{}
	for _, h := range r.Held {
		held[h.Scope] += h.Deletions
	}
	seen := map[string]bool{}
	row := func(scope, pass string, instances any) {
		m := per[scope]
		other := 0
		for op, n := range m {
			if op != events.OpCreate && op != events.OpUpdate && op != events.OpDelete {
				other += n
			}
		}
		t.Row(scope, pass, instances, m[events.OpCreate], m[events.OpUpdate], m[events.OpDelete], other, held[scope])
		seen[scope] = true
	}
	for _, c := range r.Passes {
		pass := string(c.Status)
		if c.Status != events.PassComplete {
			pass = "failed: " + c.Reason
		}
		if why := r.Skipped[c.Scope.String()]; why != "" && c.Status == events.PassComplete {
			pass = "not decided: " + why
		}
		row(c.Scope.String(), pass, c.InstanceCount)
	}
	for _, c := range r.Changes { // scopes no longer configured (orphans)
		if !seen[c.Scope] {
			row(c.Scope, "not configured", "-")
		}
	}
	_ = t.Flush()

	fmt.Fprintf(w, "\n%s\n", opsLine(r.Intents))
	if len(r.Changes) > 0 {
		t = cli.NewTable(w, "OP", "SCOPE", "INSTANCE", "NAME", "ADDRESS", "WHY")
		shown := map[events.Op]int{}
		hidden := map[events.Op]int{}
		for _, c := range r.Changes {
			if limit > 0 && shown[c.Op] >= limit {
				hidden[c.Op]++
				continue
			}
			shown[c.Op]++
			t.Row(c.Op, c.Scope, c.Instance, orDash(c.Name), orDash(c.Address), c.Cause)
		}
		_ = t.Flush()
		for _, op := range events.Ops() {
			if n := hidden[op]; n > 0 {
				fmt.Fprintf(w, "  … and %d more %s (use -limit 0 to list all)\n", n, op)
			}
		}
	}
	for _, h := range r.Held {
		fmt.Fprintf(w, "\nHELD: %s would delete %s, beyond the deletion budget.\n  Apply with: jms-sync confirm %s\n",
			h.Scope, cli.Plural(h.Deletions, "asset", "assets"), h.ID)
	}
}
