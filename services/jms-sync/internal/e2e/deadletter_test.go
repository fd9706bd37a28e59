package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/services/applier/applier"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// TestDeadLetters: a malformed pass or intent is dead-lettered with its
// reason and the pipeline goes on.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	w := NewWorld(t, WorldOptions{PerRegion: 8, Seed: 51})
	s := w.Start(t, hairTrigger(w.Env()), "")
	w.CheckHosts(t, s.Expect(nil))
	hosts, before := activeHosts(w), w.counters()

	region := "cn-hangzhou"
	sc := events.Scope{Provider: asset.Aliyun, AccountID: aliAccountID, AccountName: aliAccountName, Region: region}
	ns := natsScope(sc)
	publish := func(subject string, data []byte) {
		t.Helper()
		if _, err := s.Bus.JS.Publish(s.ctx, subject, data); err != nil {
			t.Fatalf("publish %s: %v", subject, err)
		}
	}

	last := s.waitPasses(0)[sc.String()] // the collector's last close record

	// Malformed close records.
	publish(natsx.PassSubject(ns), []byte(`{"schema":"jmssync.pass.close/v1","pass_id":`))
	publish(natsx.PassSubject(ns), []byte(`{"schema":"jmssync.pass.close/v9","pass_id":"x"}`))
	// A pass whose only chunk is garbage: the chunk is dead-lettered, the
	// pass misses it and fails verification — it deletes nothing, although
	// the policy deletes at the first absence.
	passID := events.NewPassID()
	publish(natsx.SnapshotSubject(ns, passID), []byte(`{"schema":"jmssync.snapshot.chunk/v1","instances":[{`))
	digest, err := asset.Digest(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	bad := events.NewPassComplete(passID, sc, 1, 0, digest, last.AccountIdentity, last.FencingToken, now, now, "e2e")
	b, err := events.Encode(bad)
	if err != nil {
		t.Fatal(err)
	}
	publish(natsx.PassSubject(ns), b)

	// Malformed intents.
	publish(natsx.IntentSubject(ns), []byte(`not json at all`))
	publish(natsx.IntentSubject(ns), []byte(`{"schema":"jmssync.intent/v7"}`))
	inst := pickMapped(t, w.AliInv, region, 0, 1)[0]
	id := asset.ID{Provider: asset.Aliyun, InstanceID: inst.ID}
	wrong := events.NewIntent(events.OpCreate, uuid.New(), id, uint64(time.Now().UnixNano()),
		&events.Desired{Name: "forged", Address: "10.9.9.9", Platform: "Linux", Protocols: []events.Protocol{{Name: "ssh", Port: 22}},
			NodePath: "/DEFAULT/阿里云/" + aliAccountName, IsActive: true}, "new_instance", events.NewRunID(), sc, "", time.Now())
	if b, err = events.Encode(wrong); err != nil {
		t.Fatal(err)
	}
	publish(natsx.IntentSubject(ns), b)

	// The pipeline goes on: a change made now is synced.
	ip, _ := w.AliInv.ReIP(inst.ID, "")
	s.Settle()
	closes := s.Sync()
	if c := closes[sc.String()]; c.Status != events.PassComplete {
		t.Fatalf("the next pass of %s: %s %s", sc, c.Status, c.Reason)
	}
	if got := w.Hosts()[AssetID(asset.Aliyun, inst.ID)].Address; got != ip {
		t.Fatalf("after the dead letters a re-IP was not applied: %s, want %s", got, ip)
	}
	noLoss(t, w, before, hosts)
	if _, ok := w.Hosts()[uuidOf(wrong)]; ok {
		t.Fatal("the forged intent created a host")
	}
	w.CheckHosts(t, s.Expect(w.Names()))

	reasons := func(service string) []string {
		var out []string
		for _, d := range s.DeadLetters(service) {
			if d.Reason == "" || d.Error == "" || d.Origin == "" {
				t.Errorf("dead letter of %s without its reason, error or subject: %+v", service, d)
			}
			out = append(out, d.Reason)
		}
		slices.Sort(out)
		return out
	}
	if got, want := reasons(reconciler.Name), []string{natsx.ReasonMalformed, natsx.ReasonMalformed, reconciler.ReasonUnknownSchema}; !slices.Equal(got, want) {
		t.Errorf("reconciler dead letters %v, want %v", got, want)
	}
	if got, want := reasons(applier.Name), []string{applier.ReasonAssetIDMismatch, applier.ReasonMalformed, applier.ReasonUnknownSchema}; !slices.Equal(got, want) {
		t.Errorf("applier dead letters %v, want %v", got, want)
	}
	failed := false
	for _, a := range s.Alerts(events.AlertPassFailed) {
		if a.Details["pass_id"] == passID && a.Details["reason"] == "chunks_missing" {
			failed = true
		}
	}
	if !failed {
		t.Error("the pass with a garbage chunk was not reported failed (chunks_missing)")
	}
}

func uuidOf(in *events.Intent) string { return in.AssetID.String() }
