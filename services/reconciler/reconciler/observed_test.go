package reconciler

import (
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

func TestStampObserved(t *testing.T) {
	sc := events.Scope{Provider: asset.Aliyun, AccountID: "1", Region: "cn-hangzhou"}
	other := events.Scope{Provider: asset.Aliyun, AccountID: "1", Region: "cn-beijing"}
	finished := time.Date(2026, 3, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	out := plan.Output{
		Scopes: []plan.ScopeResult{{Scope: sc, State: plan.ScopeState{Verified: &plan.PassStats{PassID: "p2", FinishedAt: finished}}}},
		Intents: []events.Intent{
			{Scope: sc, PassID: "p2"}, // from the verified pass
			{Scope: sc, PassID: "p1"}, // a held plan of an older pass
			{Scope: sc},               // no pass behind it
			{Scope: other, PassID: "p2"},
		},
	}
	stampObserved(&out)
	if got := out.Intents[0].ObservedAt; !got.Equal(finished) || got.Location() != time.UTC {
		t.Errorf("observed_at = %v", got)
	}
	for i, in := range out.Intents[1:] {
		if !in.ObservedAt.IsZero() {
			t.Errorf("intent %d stamped: %v", i+1, in.ObservedAt)
		}
	}
}
