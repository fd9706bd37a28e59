package natsx_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

func TestCollectorKeysAndTrigger(t *testing.T) {
	s := natsx.Scope{Provider: "aliyun", Account: "生产.main", Region: "cn-hangzhou"}
	acct := "_E7_94_9F_E4_BA_A7_2Emain"
	tests := []struct {
		name, got, want string
	}{
		{"lease", natsx.LeaseKey(s), "lease.aliyun." + acct + ".cn-hangzhou"},
		{"replica", natsx.ReplicaKey("huaweicloud", "pod-7f9c"), "replica.huaweicloud.pod-7f9c"},
		{"replica encoded", natsx.ReplicaKey("aliyun", "host.1:42"), "replica.aliyun.host_2E1_3A42"},
		{"replica filter", natsx.ReplicaKeyFilter("aliyun"), "replica.aliyun.*"},
		{"trigger", natsx.TriggerSubject("aliyun"), "jmssync.trigger.collect.aliyun"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if natsx.LeaseKey(s) == natsx.LeaseKey(natsx.Scope{Provider: "aliyun", Account: "生产", Region: "main.cn-hangzhou"}) {
		t.Error("distinct scopes share a lease key")
	}
	if natsx.ReplicaKey("aliyun", "a.b") == natsx.ReplicaKey("aliyun", "a_2Eb") {
		t.Error("distinct replicas share a presence key")
	}
	if strings.HasPrefix(natsx.TriggerSubject("aliyun"), strings.TrimSuffix(natsx.SubjectsSnapshots, ">")) {
		t.Error("trigger subject captured by a stream")
	}
}

// The keys are valid in the state bucket, take per-key TTLs, and the filter
// lists exactly one provider's replicas.
func TestCollectorKeysInStateBucket(t *testing.T) {
	_, js := natstest.Connect(t)
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(t.Context(), natsx.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{
		natsx.LeaseKey(natsx.Scope{Provider: "aliyun", Account: "acct 1", Region: "cn-hangzhou"}),
		natsx.ReplicaKey("aliyun", "r1"),
		natsx.ReplicaKey("aliyun", "r/2"),
		natsx.ReplicaKey("huaweicloud", "r1"),
	}
	for _, k := range keys {
		if _, err := kv.Create(t.Context(), k, []byte("x"), jetstream.KeyTTL(time.Minute)); err != nil {
			t.Fatalf("create %q: %v", k, err)
		}
	}
	lister, err := kv.ListKeysFiltered(t.Context(), natsx.ReplicaKeyFilter("aliyun"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range lister.Keys() {
		got = append(got, k)
	}
	if len(got) != 2 {
		t.Fatalf("filter listed %v, want the two aliyun replicas", got)
	}
}
