package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging/logtest"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

// The NATS users of deploy/nats/nats.conf take their passwords from these
// variables; the test gives each a value and runs the real file.
var natsPasswords = map[string]string{
	"NATS_COLLECTOR_ALIYUN_PASSWORD":      "t-collector-aliyun",
	"NATS_COLLECTOR_HUAWEICLOUD_PASSWORD": "t-collector-huaweicloud",
	"NATS_RECONCILER_PASSWORD":            "t-reconciler",
	"NATS_APPLIER_PASSWORD":               "t-applier",
	"NATS_NOTIFIER_PASSWORD":              "t-notifier",
	"NATS_SUBSCRIBER_PASSWORD":            "t-subscriber",
	"NATS_OPERATOR_PASSWORD":              "t-operator",
	"NATS_ADMIN_PASSWORD":                 "t-admin",
}

// startDeployedNATS runs an embedded JetStream server configured by
// deploy/nats/nats.conf (its users and permissions).
func startDeployedNATS(t *testing.T) string {
	t.Helper()
	return natstest.StartConfigFile(t, filepath.Join("..", "..", "deploy", "nats", "nats.conf"), natsPasswords)
}

// applier connects as the applier, the only publisher of facts, and declares
// the JetStream topology as every jms-sync service does at start.
func applier(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo("applier", natsPasswords["NATS_APPLIER_PASSWORD"]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{}); err != nil {
		t.Fatal(err)
	}
	return js
}

const (
	install = "test"
	orgID   = "00000000-0000-0000-0000-000000000002"
)

// buildFact builds an applied fact as the applier does (libs/events).
func buildFact(op events.AppliedOp, gen uint64, instance, account string, before, after *events.AssetState) *events.AppliedFact {
	id := asset.ID{Provider: asset.Aliyun, InstanceID: instance}
	f := &events.AppliedFact{
		Schema: events.SchemaAssetApplied, Op: op,
		AssetID:  asset.AssetID(install, orgID, asset.Aliyun, instance),
		Identity: id, Provider: asset.Aliyun, AccountID: account, Region: "cn-hangzhou",
		Before: before, After: after, AppliedAt: time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC),
		RunID: "01900000-0000-7000-8000-000000000001", IntentGeneration: gen,
		JumpServer: events.JumpServerRef{URL: "https://jumpserver.example.com", OrgID: orgID, OrgName: "Default"},
	}
	return f
}

// publish puts f where the applier does, with the message id msgID
// (f.MsgID() normally).
func publish(t *testing.T, js jetstream.JetStream, f *events.AppliedFact, msgID string) {
	t.Helper()
	b, err := events.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	subj := natsx.AssetSubject(string(f.Op), natsx.Scope{Provider: string(f.Provider), Account: f.AccountID, Region: f.Region})
	if _, err := natsx.Publish(t.Context(), js, subj, b, msgID); err != nil {
		t.Fatal(err)
	}
}

// publishFact builds a fact and publishes it.
func publishFact(t *testing.T, js jetstream.JetStream, op events.AppliedOp, gen uint64, instance, account string, before, after *events.AssetState) *events.AppliedFact {
	t.Helper()
	f := buildFact(op, gen, instance, account, before, after)
	publish(t, js, f, f.MsgID())
	return f
}

// lines splits what a buffer received into lines.
func lines(b *logtest.Buffer) []string {
	if s := strings.TrimRight(b.String(), "\n"); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}

// follow runs the subscriber as the read-only subscriber user until want
// lines were printed (or fails after 10s), then stops it.
func follow(t *testing.T, url string, want int) []string {
	t.Helper()
	return followSince(t, url, want, 0)
}

// followSince is follow with the -since flag.
func followSince(t *testing.T, url string, want int, since time.Duration) []string {
	t.Helper()
	var out, errOut logtest.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	cfg := Config{URL: url, User: "subscriber", Password: natsPasswords["NATS_SUBSCRIBER_PASSWORD"],
		Durable: "cmdb", Filter: "jmssync.asset.>", Since: since}
	go func() { done <- Run(ctx, cfg, &out, &errOut) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(lines(&out)) < want && time.Now().Before(deadline) {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("subscriber stopped: %v (stderr %q)", err, lines(&errOut))
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(200 * time.Millisecond) // nothing more should come
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("subscriber: %v", err)
	}
	if e := lines(&errOut); len(e) > 0 {
		t.Errorf("stderr: %q", e)
	}
	return lines(&out)
}

func TestSubscriberPrintsOneLinePerChange(t *testing.T) {
	url := startDeployedNATS(t)
	js := applier(t, url)

	web := &events.AssetState{Name: "web-01", Address: "10.0.0.5", Platform: "Linux", Nodes: []string{"/DEFAULT/阿里云/生产"}, IsActive: true}
	moved := *web
	moved.Address = "10.0.0.6"
	created := publishFact(t, js, events.Created, 1, "i-bp1web01", "生产", nil, web)
	publishFact(t, js, events.Updated, 2, "i-bp1web01", "生产", web, &moved)
	// The same update again, as a redelivered intent republishes it after
	// the stream's duplicate window (so under another message id here):
	// printed once.
	publish(t, js, buildFact(events.Updated, 2, "i-bp1web01", "生产", web, &moved), "redelivered")
	db := &events.AssetState{Name: "db-01", Address: "10.0.1.7", Platform: "Linux", IsActive: true}
	publishFact(t, js, events.Deleted, 5, "i-bp1db01", "生产", db, nil)

	got := follow(t, url, 3)
	want := []string{
		"created     aliyun/生产/cn-hangzhou  i-bp1web01  name=web-01 address=10.0.0.5 asset=" + created.AssetID.String(),
		"updated     aliyun/生产/cn-hangzhou  i-bp1web01  name=web-01 address=10.0.0.6 (address 10.0.0.5 -> 10.0.0.6) asset=" + created.AssetID.String(),
		"deleted     aliyun/生产/cn-hangzhou  i-bp1db01  name=db-01 address=10.0.1.7 asset=" + asset.AssetID(install, orgID, asset.Aliyun, "i-bp1db01").String(),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The consumer is durable: a restart goes on after the last ack.
	deact := moved
	deact.IsActive = false
	publishFact(t, js, events.Deactivated, 3, "i-bp1web01", "生产", &moved, &deact)
	got = follow(t, url, 1)
	if len(got) != 1 || !strings.HasPrefix(got[0], "deactivated aliyun/生产/cn-hangzhou  i-bp1web01") || !strings.Contains(got[0], "(active true -> false)") {
		t.Fatalf("after restart: %q", got)
	}
}

// A durable made with -since starts again with the flag still set (the
// server refuses to change a durable's start time): it goes on after its
// last ack.
func TestSubscriberRestartsWithSince(t *testing.T) {
	url := startDeployedNATS(t)
	js := applier(t, url)
	web := &events.AssetState{Name: "web-01", Address: "10.0.0.5", Platform: "Linux", IsActive: true}
	publishFact(t, js, events.Created, 1, "i-bp1web01", "生产", nil, web)
	if got := followSince(t, url, 1, time.Hour); len(got) != 1 || !strings.HasPrefix(got[0], "created ") {
		t.Fatalf("first start: %q", got)
	}
	moved := *web
	moved.Address = "10.0.0.6"
	publishFact(t, js, events.Updated, 2, "i-bp1web01", "生产", web, &moved)
	if got := followSince(t, url, 1, time.Hour); len(got) != 1 || !strings.HasPrefix(got[0], "updated ") {
		t.Fatalf("second start with -since: %q", got)
	}
}

// TestSubscriberIsReadOnly: the subscriber user follows facts but cannot
// publish one (deploy/nats/nats.conf).
func TestSubscriberIsReadOnly(t *testing.T) {
	url := startDeployedNATS(t)
	applier(t, url)
	nc, err := nats.Connect(url, nats.UserInfo("subscriber", natsPasswords["NATS_SUBSCRIBER_PASSWORD"]))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "jmssync.asset.created.aliyun.x.cn-hangzhou", []byte(`{}`)); err == nil {
		t.Fatal("the subscriber user published a fact")
	}
}

func TestDecodeSkipsOtherSchemas(t *testing.T) {
	if _, err := Decode([]byte(`{"schema":"jmssync.asset.applied/v2","op":"created"}`)); err == nil || !strings.Contains(err.Error(), "v2") {
		t.Fatalf("v2: %v", err)
	}
	if _, err := Decode([]byte(`not json`)); err == nil {
		t.Fatal("want an error for a malformed message")
	}
	f, err := Decode([]byte(`{"schema":"jmssync.asset.applied/v1","op":"adopted","asset_id":"a","intent_generation":7,"new_field":1,
		"provider":"huaweicloud","account_id":"x","region":"cn-north-4","identity":{"provider":"huaweicloud","instance_id":"i"},
		"before":{"name":"n","address":"1.2.3.4","platform":"Linux","is_active":true},"after":{"name":"n","address":"1.2.3.4","platform":"Linux","is_active":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Line(); got != "adopted     huaweicloud/x/cn-north-4  i  name=n address=1.2.3.4 asset=a" {
		t.Fatalf("line %q", got)
	}
}
