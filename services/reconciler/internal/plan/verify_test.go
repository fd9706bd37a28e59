package plan

import (
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

func TestVerifyPass(t *testing.T) {
	p := testPolicy()
	ten := ids(scopeA, 10)
	digest := func(ins []asset.Instance) string { d, _ := asset.Digest(ins); return d }
	closeOf := func(id string, ins []asset.Instance, token uint64, at time.Time) *events.PassClose {
		return events.NewPassComplete(id, scopeA, 1, len(ins), digest(ins), "acct-1", token, at, at.Add(time.Minute), "c1")
	}
	prev := ScopeState{Scope: scopeA, Verified: &PassStats{PassID: "p5", StartedAt: t0, FinishedAt: t0.Add(time.Minute),
		InstanceCount: 10, AccountIdentity: "acct-1", FencingToken: 7}}
	later := t0.Add(time.Hour)
	type want struct {
		usable, ignored bool
		reason          string
		alert           events.AlertKind
	}
	for _, tc := range []struct {
		name   string
		prev   ScopeState
		close  *events.PassClose
		ins    []asset.Instance
		chunks int
		want   want
	}{
		{"first pass records identity", ScopeState{}, closeOf("p1", ten, 1, t0), ten, 1, want{usable: true}},
		{"next pass", prev, closeOf("p6", ten, 7, later), ten, 1, want{usable: true}},
		{"higher token", prev, closeOf("p6", ten, 9, later), ten, 1, want{usable: true}},
		{"same pass again", prev, closeOf("p5", ten, 7, later), ten, 1, want{ignored: true, reason: ReasonAlreadyVerified}},
		{"stale token", prev, closeOf("p6", ten, 6, later), ten, 1, want{ignored: true, reason: ReasonStaleToken}},
		{"out of order", prev, closeOf("p4", ten, 7, t0.Add(-time.Hour)), ten, 1, want{ignored: true, reason: ReasonOutOfOrder}},
		{"failed", prev, events.NewPassFailed("p6", scopeA, events.ReasonPermission, "denied", 0, 7, later, later, "c1"), nil, 0,
			want{reason: events.ReasonPermission, alert: events.AlertPassFailed}},
		{"missing chunk", prev, func() *events.PassClose { c := closeOf("p6", ten, 7, later); c.ChunkCount = 2; return c }(), ten, 1,
			want{reason: ReasonChunksMissing, alert: events.AlertPassFailed}},
		{"missing instance", prev, closeOf("p6", ten, 7, later), ten[:9], 1, want{reason: ReasonCountMismatch, alert: events.AlertPassFailed}},
		{"changed instance", prev, closeOf("p6", ten, 7, later), append(append([]asset.Instance{}, ten[:9]...), vm(scopeA, "x", "x", "10.1.1.1")), 1,
			want{reason: ReasonDigestMismatch, alert: events.AlertPassFailed}},
		{"duplicate", prev, closeOf("p6", append(ten[:9:9], ten[0]), 7, later), append(ten[:9:9], ten[0]), 1,
			want{reason: ReasonDuplicate, alert: events.AlertPassFailed}},
		{"foreign instance", prev, closeOf("p6", append(ten[:9:9], vm(scopeB, "x", "x", "10.1.1.1")), 7, later),
			append(ten[:9:9], vm(scopeB, "x", "x", "10.1.1.1")), 1, want{reason: ReasonScopeMismatch, alert: events.AlertPassFailed}},
		{"identity changed", prev, func() *events.PassClose { c := closeOf("p6", ten, 7, later); c.AccountIdentity = "acct-2"; return c }(), ten, 1,
			want{reason: ReasonIdentityChanged, alert: events.AlertPassSuspicious}},
		{"emptied", prev, events.NewPassComplete("p6", scopeA, 0, 0, digest(nil), "acct-1", 7, later, later, "c1"), nil, 0,
			want{reason: ReasonEmptied, alert: events.AlertPassSuspicious}},
		{"shrunk 40%", prev, closeOf("p6", ten[:6], 7, later), ten[:6], 1, want{reason: ReasonShrunk, alert: events.AlertPassSuspicious}},
		{"shrunk 30% is within", prev, closeOf("p6", ten[:7], 7, later), ten[:7], 1, want{usable: true}},
		{"tiny scope loses 2 of 3", ScopeState{Scope: scopeA, Verified: &PassStats{PassID: "p5", StartedAt: t0, InstanceCount: 3, AccountIdentity: "acct-1"}},
			closeOf("p6", ten[:1], 0, later), ten[:1], 1, want{usable: true}},
		{"rebaseline accepts", func() ScopeState { s := prev; s.Rebaseline = true; return s }(), closeOf("p6", ten[:2], 7, later), ten[:2], 1, want{usable: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := VerifyPass(&p, tc.close, tc.ins, tc.chunks, tc.prev)
			if v.Usable != tc.want.usable || v.Ignored != tc.want.ignored || v.Reason != tc.want.reason {
				t.Fatalf("verdict usable=%v ignored=%v reason=%q", v.Usable, v.Ignored, v.Reason)
			}
			switch {
			case tc.want.alert == "" && v.Alert != nil:
				t.Fatalf("unexpected alert %+v", v.Alert)
			case tc.want.alert != "":
				if v.Alert == nil || v.Alert.Kind != tc.want.alert {
					t.Fatalf("alert %+v, want %s", v.Alert, tc.want.alert)
				}
				if err := v.Alert.Validate(); err != nil {
					t.Fatal(err)
				}
			}
			switch {
			case v.Usable:
				if v.State.Verified == nil || v.State.Verified.PassID != tc.close.PassID || v.State.Trouble != nil || v.State.Rebaseline {
					t.Fatalf("state %+v", v.State)
				}
			default:
				if v.State.Verified != tc.prev.Verified {
					t.Fatal("a pass that is not usable changed the verified pass")
				}
			}
			if v.Ignored && v.State.Trouble != tc.prev.Trouble {
				t.Fatal("an ignored pass changed the trouble")
			}
		})
	}
}

// Alerts are raised once per state change: the same trouble again is quiet,
// another reason alerts, recovery clears it.
func TestVerifyPassAlertsOnce(t *testing.T) {
	p := testPolicy()
	st := ScopeState{}
	var alerts int
	at := t0
	for i, reason := range []string{events.ReasonThrottled, events.ReasonThrottled, events.ReasonTimeout, events.ReasonTimeout} {
		at = at.Add(time.Hour)
		v := VerifyPass(&p, events.NewPassFailed("f"+string(rune('0'+i)), scopeA, reason, "", 0, 1, at, at, "c1"), nil, 0, st)
		if v.Alert != nil {
			alerts++
		}
		st = v.State
	}
	if alerts != 2 {
		t.Fatalf("%d alerts, want 2", alerts)
	}
	d, _ := asset.Digest(nil)
	v := VerifyPass(&p, events.NewPassComplete("ok", scopeA, 0, 0, d, "acct", 1, at.Add(time.Hour), at.Add(time.Hour), "c1"), nil, 0, st)
	if !v.Usable || v.State.Trouble != nil {
		t.Fatalf("%+v", v)
	}
	v = VerifyPass(&p, events.NewPassFailed("f9", scopeA, events.ReasonThrottled, "", 0, 1, at.Add(2*time.Hour), at.Add(2*time.Hour), "c1"), nil, 0, v.State)
	if v.Alert == nil {
		t.Fatal("a new failure after recovery must alert")
	}
}
