package natsx_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

func TestTokenRoundTrip(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain region", "cn-hangzhou", "cn-hangzhou"},
		{"digits", "1234567890123456", "1234567890123456"},
		{"mixed case kept", "Prod-01", "Prod-01"},
		{"chinese", "中文", "_E4_B8_AD_E6_96_87"},
		{"dots", "prod.main", "prod_2Emain"},
		{"spaces", "my account", "my_20account"},
		{"wildcards", "a*b>c", "a_2Ab_3Ec"},
		{"underscore escaped", "user_1", "user_5F1"},
		{"reserved dollar", "$SYS", "_24SYS"},
		{"arn-like", "acs:ram::123:role/x=y", "acs_3Aram_3A_3A123_3Arole_2Fx_3Dy"},
		{"empty", "", "_"},
		{"invalid utf8 bytes", "\xff\x00", "_FF_00"},
		{"mixed", "华为云 prod.1", "_E5_8D_8E_E4_B8_BA_E4_BA_91_20prod_2E1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := natsx.EncodeToken(tt.in)
			if got != tt.want {
				t.Fatalf("EncodeToken(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for i := range len(got) {
				c := got[i]
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
					t.Fatalf("unsafe byte %q in %q", c, got)
				}
			}
			back, err := natsx.DecodeToken(got)
			if err != nil || back != tt.in {
				t.Fatalf("DecodeToken(%q) = %q, %v; want %q", got, back, err, tt.in)
			}
		})
	}
}

func TestDecodeTokenRejectsNonCanonical(t *testing.T) {
	for _, tok := range []string{"", "a_2e", "_41", "a_4", "a_", "a b", "a.b", "a*", "中"} {
		if _, err := natsx.DecodeToken(tok); !errors.Is(err, natsx.ErrInvalidToken) {
			t.Errorf("DecodeToken(%q) err = %v, want ErrInvalidToken", tok, err)
		}
	}
}

func TestSubjectBuilders(t *testing.T) {
	s := natsx.Scope{Provider: "aliyun", Account: "生产.main", Region: "cn-hangzhou"}
	acct := "_E7_94_9F_E4_BA_A7_2Emain"
	tests := []struct {
		name, got, want string
	}{
		{"snapshot", natsx.SnapshotSubject(s, "p-01"), "jmssync.snapshot.aliyun." + acct + ".cn-hangzhou.p-01"},
		{"snapshot filter", natsx.SnapshotFilter(s), "jmssync.snapshot.aliyun." + acct + ".cn-hangzhou.*"},
		{"pass", natsx.PassSubject(s), "jmssync.pass.aliyun." + acct + ".cn-hangzhou"},
		{"intent", natsx.IntentSubject(s), "jmssync.intent.aliyun." + acct + ".cn-hangzhou"},
		{"asset", natsx.AssetSubject("created", s), "jmssync.asset.created.aliyun." + acct + ".cn-hangzhou"},
		{"run", natsx.RunSubject("r1"), "jmssync.run.r1"},
		{"run closed", natsx.RunSubject("r1", "closed"), "jmssync.run.r1.closed"},
		{"alert", natsx.AlertSubject("deletion-held"), "jmssync.alert.deletion-held"},
		{"dlq", natsx.DLQSubject("applier"), "jmssync.dlq.applier"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
		for tok := range strings.SplitSeq(tt.got, ".") {
			if tok == "" || strings.ContainsAny(tok, " >") || (strings.Contains(tok, "*") && tt.name != "snapshot filter") {
				t.Errorf("%s: bad token %q in %q", tt.name, tok, tt.got)
			}
		}
	}

	if got, pass, err := natsx.ParseSnapshotSubject(natsx.SnapshotSubject(s, "pass 7")); err != nil || got != s || pass != "pass 7" {
		t.Errorf("ParseSnapshotSubject = %v %q %v", got, pass, err)
	}
	if got, err := natsx.ParsePassSubject(natsx.PassSubject(s)); err != nil || got != s {
		t.Errorf("ParsePassSubject = %v %v", got, err)
	}
	if got, err := natsx.ParseIntentSubject(natsx.IntentSubject(s)); err != nil || got != s {
		t.Errorf("ParseIntentSubject = %v %v", got, err)
	}
	if op, got, err := natsx.ParseAssetSubject(natsx.AssetSubject("deleted", s)); err != nil || got != s || op != "deleted" {
		t.Errorf("ParseAssetSubject = %q %v %v", op, got, err)
	}
	if got, err := natsx.ParseScope(s.Token()); err != nil || got != s {
		t.Errorf("ParseScope = %v %v", got, err)
	}
	for _, bad := range []string{"jmssync.pass.a.b", "jmssync.intent.a.b.c", "other.pass.a.b.c", "jmssync.pass.a._.c"} {
		if _, err := natsx.ParsePassSubject(bad); err == nil {
			t.Errorf("ParsePassSubject(%q) accepted", bad)
		}
	}
	if err := (natsx.Scope{Provider: "aliyun", Region: "x"}).Validate(); !errors.Is(err, natsx.ErrInvalidScope) {
		t.Errorf("empty account accepted: %v", err)
	}
}

func TestEnsureTopologyIdempotentAndConcurrent(t *testing.T) {
	_, url := natstest.Start(t)
	const services = 4
	var wg sync.WaitGroup
	errs := make(chan error, services*2)
	for range services {
		_, js := natstest.Dial(t, url)
		wg.Go(func() {
			for range 2 {
				errs <- natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("EnsureTopology: %v", err)
		}
	}

	_, js := natstest.Dial(t, url)
	for _, want := range natsx.Streams(natsx.TopologyOptions{}) {
		st, err := js.Stream(t.Context(), want.Name)
		if err != nil {
			t.Fatalf("stream %s: %v", want.Name, err)
		}
		got := st.CachedInfo().Config
		if got.Retention != want.Retention || got.MaxAge != want.MaxAge || got.Duplicates != want.Duplicates || !equal(got.Subjects, want.Subjects) {
			t.Errorf("stream %s config = %+v", want.Name, got)
		}
	}
	if st, _ := js.Stream(t.Context(), natsx.StreamIntents); st.CachedInfo().Config.Retention != jetstream.WorkQueuePolicy {
		t.Error("INTENTS is not a work queue")
	}

	// Update path: a changed limit is applied in place.
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{MaxAge: map[string]time.Duration{natsx.StreamAssets: 48 * time.Hour}}); err != nil {
		t.Fatal(err)
	}
	st, _ := js.Stream(t.Context(), natsx.StreamAssets)
	if st.CachedInfo().Config.MaxAge != 48*time.Hour {
		t.Errorf("ASSETS max age not updated: %v", st.CachedInfo().Config.MaxAge)
	}

	// Buckets exist; the state bucket takes per-key TTLs (leases).
	if _, err := js.KeyValue(t.Context(), natsx.BucketAssets); err != nil {
		t.Fatal(err)
	}
	state, err := js.KeyValue(t.Context(), natsx.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.Create(t.Context(), "lease."+natsx.Scope{Provider: "aliyun", Account: "1", Region: "cn-hangzhou"}.Token(), []byte("owner"), jetstream.KeyTTL(time.Minute)); err != nil {
		t.Fatalf("create with TTL: %v", err)
	}

	// A consumer declared twice is the same consumer.
	cfg := natsx.DefaultConsumer("applier", natsx.SubjectsIntents)
	for range 2 {
		if _, err := natsx.EnsureConsumer(t.Context(), js, natsx.StreamIntents, cfg); err != nil {
			t.Fatal(err)
		}
	}
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }
