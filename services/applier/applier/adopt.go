package applier

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/jumpserver"
)

// Dead-letter reasons of adoption.
const (
	// ReasonNotAdoptable: an adopt intent whose asset is not the Python
	// jms-sync's asset of that instance (any more), or whose instance is
	// managed through another asset already. Nothing is written.
	ReasonNotAdoptable = "not_adoptable"
	// ReasonAdoptFirst: a create whose name is held by the asset the
	// Python jms-sync made for the same instance. Creating it would leave
	// two assets for one instance; `jms-sync adopt` takes that one over.
	ReasonAdoptFirst = "adopt_first"
)

// adoptRefused re-checks an adopt intent against the asset as JumpServer
// returned it, as updates re-check the ownership label: the asset must be
// the Python jms-sync's asset of this very instance (or ours already: a
// redelivery), carry no other installation's ownership label, and the
// instance must not be managed through another asset. Otherwise the intent
// is dead-lettered and true returned.
func (a *Applier) adoptRefused(ctx context.Context, it *item) bool {
	h := it.host
	if e := it.entry; e != nil && !e.Deleted && !strings.EqualFold(e.AssetID.String(), it.assetID) {
		a.poison(ctx, it, ReasonNotAdoptable, fmt.Errorf("instance %s is managed through asset %s already; asset %s is left alone",
			it.key, e.AssetID, it.assetID))
		return true
	}
	for _, l := range h.LabelPairs() {
		if l.Name == LabelPrefix && l.Value != a.cfg.InstallID {
			a.poison(ctx, it, ReasonNotAdoptable, fmt.Errorf("asset %s carries %s:%s: another jms-sync installation owns it", it.assetID, l.Name, l.Value))
			return true
		}
	}
	if a.owned(h) {
		return false
	}
	if !isLegacyOf(h, it.in.Identity.InstanceID) {
		a.poison(ctx, it, ReasonNotAdoptable, fmt.Errorf("asset %s: its comment does not name instance %s the Python jms-sync way", it.assetID, it.in.Identity.InstanceID))
		return true
	}
	return false
}

// legacyTwin settles a create whose wanted name is held by the asset the
// Python jms-sync made for the same instance (it returns true then): that
// asset is to be adopted, not doubled with a suffixed name, so the intent
// is dead-lettered. It costs one GET, only when the wanted name is taken;
// when that GET fails the intent is retried rather than created with a
// suffix, which could be exactly the duplicate this check is here for.
func (a *Applier) legacyTwin(ctx context.Context, it *item) bool {
	holder := a.names.holder(it.in.Desired.Name)
	if holder == "" || strings.EqualFold(holder, it.assetID) || strings.HasPrefix(holder, "!") {
		return false
	}
	h, err := a.client.GetHost(ctx, holder)
	if err != nil && jumpserver.KindOf(err) != jumpserver.KindNotFound {
		a.retry(ctx, it, backoff(it.md.NumDelivered), fmt.Errorf("read asset %s holding the name %q: %w", holder, it.in.Desired.Name, err), "retry")
		return true
	}
	if err != nil || !isLegacyOf(h, it.in.Identity.InstanceID) || a.owned(h) {
		return false // gone, or not the Python asset of this instance: suffix as for any clash
	}
	a.poison(ctx, it, ReasonAdoptFirst, fmt.Errorf("asset %s %q was made by the Python jms-sync for instance %s: take it over with `jms-sync adopt` (no second asset is created)",
		h.ID, h.Name, it.in.Identity.InstanceID))
	return true
}

func isLegacyOf(h *jumpserver.Host, instanceID string) bool {
	id, ok := asset.LegacyInstanceID(h.Comment)
	return ok && id == instanceID
}
