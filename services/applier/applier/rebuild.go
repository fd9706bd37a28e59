package applier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/libs/natsx"
)

// encodeFact validates f and makes the message sendFact publishes.
func (a *Applier) encodeFact(f *events.AppliedFact) (natsx.Outgoing, error) {
	b, err := events.Encode(f)
	if err != nil {
		return natsx.Outgoing{}, fmt.Errorf("applied fact: %w", err)
	}
	if err := a.checker.Check(b); err != nil {
		return natsx.Outgoing{}, fmt.Errorf("applied fact: %w", err)
	}
	subj := natsx.AssetSubject(string(f.Op), natsx.Scope{Provider: string(f.Provider), Account: f.AccountID, Region: f.Region})
	return natsx.Outgoing{Subject: subj, Payload: b, MsgID: f.MsgID()}, nil
}

// Rebuild re-reads JumpServer into the mirror and the name index, then
// writes ReadyKey. Every asset carrying the ownership label is listed
// (paged); each live mirror entry takes the state JumpServer returned; an
// entry whose asset was not listed is read by id, and only a 404 makes it a
// tombstone (deleted by hand). Entries written after the listing began (by
// an applier) are left alone. It never writes to JumpServer.
func (a *Applier) Rebuild(ctx context.Context) error {
	a.workMu.Lock()
	defer a.workMu.Unlock()
	start := a.now().UTC()
	info := a.client.Info()

	names := map[string]string{}
	if _, err := a.client.ListAssets(ctx, jumpserver.ListOptions{Fields: []string{"id", "name"}}, func(hs []jumpserver.Host) error {
		for _, h := range hs {
			names[foldName(h.Name)] = strings.ToLower(h.ID)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("rebuild: list names: %w", err)
	}
	owned := map[string]*jumpserver.Host{}
	if _, err := a.client.ListHosts(ctx, jumpserver.ListOptions{Labels: []events.Label{{Name: LabelPrefix, Value: a.cfg.InstallID}}},
		func(hs []jumpserver.Host) error {
			for i := range hs {
				owned[strings.ToLower(hs[i].ID)] = &hs[i]
			}
			return nil
		}); err != nil {
		return fmt.Errorf("rebuild: list managed assets: %w", err)
	}
	a.names.replace(names)

	entries, err := a.mirror.All(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	known := map[string]bool{}
	type change struct {
		e    *mirror.Entry
		host *jumpserver.Host // nil: confirm with a GET
	}
	var changes []change
	liveN := 0
	for _, e := range entries {
		id := strings.ToLower(e.AssetID.String())
		known[id] = true
		if e.Deleted {
			continue
		}
		liveN++
		if !e.UpdatedAt.Before(start) {
			continue // written during the listing: fresher than what was listed
		}
		h, ok := owned[id]
		if !ok {
			changes = append(changes, change{e: e})
			continue
		}
		if st := jumpserver.State(*h); !reflect.DeepEqual(st, e.State) {
			changes = append(changes, change{e: e, host: h})
		}
	}
	unmapped := 0
	for id := range owned {
		if !known[id] {
			unmapped++
		}
	}

	var firstErr error
	tombstones, refreshed := 0, 0
	for _, c := range changes {
		h := c.host
		if h == nil {
			got, err := a.client.GetHost(ctx, c.e.AssetID.String())
			switch {
			case jumpserver.IsNotFound(err):
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
				continue
			default:
				h = got // still there, without our label or outside the listing
			}
		}
		cur, rev, err := a.mirror.Get(ctx, c.e.Identity)
		if err != nil || cur.Generation != c.e.Generation || !cur.UpdatedAt.Equal(c.e.UpdatedAt) {
			continue // changed meanwhile
		}
		ne := *cur
		ne.UpdatedAt = a.now().UTC()
		if h == nil {
			ne.Deleted = true
			tombstones++
			liveN--
			a.log.Warn().Str("asset_key", cur.Identity.Key()).Str("asset_id", cur.AssetID.String()).
				Msg("managed asset deleted by hand; mirror entry tombstoned")
		} else {
			ne.State = jumpserver.State(*h)
			if ne.State.IsActive {
				ne.DeactivatedBySync, ne.DeactivatedAt = false, time.Time{}
			}
			refreshed++
		}
		if _, err := a.mirror.Put(ctx, &ne, rev); err != nil && !errors.Is(err, mirror.ErrConflict) && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return fmt.Errorf("rebuild: %w", firstErr)
	}
	ri := ReadyInfo{RebuiltAt: a.now().UTC(), Entries: liveN, RootNode: info.RootNode.Value, OrgID: info.Org.ID,
		Version: string(info.Version), Unmapped: unmapped}
	b, _ := json.Marshal(ri)
	if _, err := a.stateKV.Put(ctx, ReadyKey, b); err != nil {
		return fmt.Errorf("rebuild: ready key: %w", err)
	}
	a.ready.Set()
	a.log.Info().Int("entries", liveN).Int("owned", len(owned)).Int("names", len(names)).Int("refreshed", refreshed).
		Int("tombstones", tombstones).Int("unmapped", unmapped).Dur("took", a.now().Sub(start)).Msg("mirror rebuilt")
	return nil
}
