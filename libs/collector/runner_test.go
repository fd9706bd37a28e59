package collector

import (
	"context"
	"errors"
	"github.com/jmssync/jmssync/libs/logging/logtest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

// 20,000 instances in one region under a 256 KiB max payload: many chunks,
// each below the limit, and a close record whose counts and digest match what
// a consumer reassembles.
func TestPassLargeRegionChunksUnderMaxPayload(t *testing.T) {
	const maxPayload = 256 << 10
	_, _, js := startBus(t, natstest.WithMaxPayload(maxPayload))
	sc := scope("1234567890", "cn-hangzhou")
	src := newFakeSource("1234567890")
	src.set(sc.Region, genInstances(sc, 20000))
	r := newRunner(t, js, Options{})

	c, err := r.RunPass(t.Context(), Target{Scope: sc, Source: src})
	if err != nil {
		t.Fatalf("RunPass: %v", err)
	}
	if c.Status != events.PassComplete || c.InstanceCount != 20000 || c.ChunkCount < 20 {
		t.Fatalf("close = %s %s, %d instances in %d chunks; want complete, 20000 in many chunks", c.Status, c.Reason, c.InstanceCount, c.ChunkCount)
	}
	if c.AccountIdentity != "1234567890" || c.Collector != "replica-1" || c.FencingToken == 0 || len(c.Probes) != 1 {
		t.Fatalf("close = %+v", c)
	}

	msgs := readSubject(t, js, natsx.SnapshotFilter(natsScope(sc)))
	if len(msgs) != c.ChunkCount {
		t.Fatalf("%d chunks on the bus, close says %d", len(msgs), c.ChunkCount)
	}
	var d asset.Digester
	seen := map[int]bool{}
	for _, m := range msgs {
		if m.size >= maxPayload {
			t.Fatalf("chunk of %d bytes is not below the %d max payload", m.size, maxPayload)
		}
		ch, err := events.DecodeAs[*events.SnapshotChunk](m.data)
		if err != nil {
			t.Fatalf("decode chunk: %v", err)
		}
		if ch.PassID != c.PassID || seen[ch.Index] || ch.Index >= c.ChunkCount {
			t.Fatalf("chunk %d of pass %s: duplicate or foreign", ch.Index, ch.PassID)
		}
		seen[ch.Index] = true
		for _, in := range ch.Instances {
			if err := d.Add(in); err != nil {
				t.Fatal(err)
			}
		}
	}
	if d.Count() != c.InstanceCount || d.Sum() != c.Digest {
		t.Fatalf("reassembled %d instances, digest %s; close says %d, %s", d.Count(), d.Sum(), c.InstanceCount, c.Digest)
	}
	stored := closesOn(t, js, sc)
	if len(stored) != 1 || stored[0].Digest != c.Digest || stored[0].PassID != c.PassID {
		t.Fatalf("stored closes = %+v", stored)
	}
	if at, ok := r.LastComplete(sc); !ok || at.IsZero() {
		t.Fatal("LastComplete not recorded")
	}
}

const secret = "SK-very-secret-4711"

// Every failure of the listing ends the pass as failed with a reason; the
// detail names the account and region and carries no secret, and no
// complete close is ever stored.
func TestPassFailures(t *testing.T) {
	sc := scope("acct-1", "cn-shanghai")
	secretErr := errors.New("signature for key " + secret + " rejected")
	tests := []struct {
		name       string
		setup      func(f *fakeSource)
		wantReason string
		// registered: the secret is known to the logger (as main registers
		// configured secrets). Otherwise the runner must not log the
		// ListError's wrapped error at all.
		registered bool
	}{
		{"bad credentials", func(f *fakeSource) {
			f.identErr[sc.Region] = &ListError{Reason: events.ReasonAuth,
				Detail: "account acct-1: region cn-shanghai: credentials rejected (InvalidAccessKeyId.NotFound)", Err: secretErr}
		}, events.ReasonAuth, false},
		{"throttling beyond the budget", func(f *fakeSource) {
			f.listErr[sc.Region] = &ListError{Reason: events.ReasonThrottled, Detail: "still throttled after 7 calls", Err: secretErr, Calls: 7}
		}, events.ReasonThrottled, false},
		{"failed page", func(f *fakeSource) {
			f.listErr[sc.Region] = Failf(events.ReasonAPIError, secretErr, "account acct-1: region cn-shanghai: page 3: HTTP 500")
		}, events.ReasonAPIError, false},
		{"unclassified error with a secret in its text", func(f *fakeSource) {
			f.listErr[sc.Region] = secretErr
		}, events.ReasonAPIError, true},
		{"instance of another region", func(f *fakeSource) {
			in := genInstances(sc, 3)
			in[1].Region = "cn-beijing"
			f.set(sc.Region, in)
		}, ReasonScopeMismatch, false},
		{"instance of another account", func(f *fakeSource) {
			in := genInstances(sc, 3)
			in[2].AccountID = "acct-2"
			f.set(sc.Region, in)
		}, ReasonScopeMismatch, false},
		{"invalid instance", func(f *fakeSource) {
			in := genInstances(sc, 3)
			in[0].PrivateIPs = []string{"not-an-ip"}
			f.set(sc.Region, in)
		}, ReasonInvalidInstance, false},
		{"instance listed twice", func(f *fakeSource) {
			in := genInstances(sc, 3)
			in[2] = in[0]
			f.set(sc.Region, in)
		}, events.ReasonChurn, false},
		{"empty identity", func(f *fakeSource) { f.identity = "" }, events.ReasonIdentityUnknown, false},
		{"source panics", func(f *fakeSource) { f.panicList = true }, events.ReasonAPIError, false},
		{"timeout", func(f *fakeSource) {
			f.onList = func(ctx context.Context, _ string) error { <-ctx.Done(); return AsListError(ctx.Err()) }
		}, events.ReasonTimeout, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, js := startBus(t)
			var logs logtest.Buffer
			src := newFakeSource("acct-1-identity")
			src.set(sc.Region, genInstances(sc, 5))
			tt.setup(src)
			var logOpts []logging.Option
			if tt.registered {
				logOpts = append(logOpts, logging.WithSecrets(secret))
			}
			r := newRunner(t, js, Options{Logger: logging.New(&logs, "debug", "collector-test", logOpts...), PassTimeout: 300 * time.Millisecond})

			c, err := r.RunPass(t.Context(), Target{Scope: sc, Source: src})
			if err != nil {
				t.Fatalf("RunPass: %v", err)
			}
			if c.Status != events.PassFailed || c.Reason != tt.wantReason {
				t.Fatalf("close = %s/%s (%s), want failed/%s", c.Status, c.Reason, c.Detail, tt.wantReason)
			}
			if !strings.Contains(c.Detail, "acct-1") || !strings.Contains(c.Detail, "cn-shanghai") {
				t.Errorf("detail %q does not name the account and region", c.Detail)
			}
			stored := closesOn(t, js, sc)
			if len(stored) != 1 || stored[0].Status != events.PassFailed || stored[0].ChunkCount != 0 {
				t.Fatalf("stored closes = %+v, want one failed close without chunks", stored)
			}
			if n := len(readSubject(t, js, natsx.SnapshotFilter(natsScope(sc)))); n != 0 {
				t.Errorf("%d chunks published by a failed listing", n)
			}
			raw := readSubject(t, js, natsx.PassSubject(natsScope(sc)))
			if strings.Contains(string(raw[0].data), secret) {
				t.Errorf("close record carries the secret: %s", raw[0].data)
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("logs carry the secret: %s", logs.String())
			}
			if _, ok := r.LastComplete(sc); ok {
				t.Error("a failed pass counted as complete")
			}
		})
	}
}

// A chunk that cannot be published after others were: the pass fails with
// reason publish, counting the chunks already published, and no complete
// close exists.
func TestPublishFailureAfterSomeChunks(t *testing.T) {
	_, _, js := startBus(t, natstest.WithMaxPayload(64<<10))
	// The chunks of one pass share a subject; allow two per subject and
	// refuse the rest, while close records (another subject) still go in.
	st, err := js.Stream(t.Context(), natsx.StreamSnapshots)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxMsgsPerSubject, cfg.Discard, cfg.DiscardNewPerSubject = 2, jetstream.DiscardNew, true
	if _, err := js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatalf("update stream: %v", err)
	}
	sc := scope("acct-1", "cn-shenzhen")
	src := newFakeSource("acct-1")
	src.set(sc.Region, genInstances(sc, 2000))
	r := newRunner(t, js, Options{})

	c, err := r.RunPass(t.Context(), Target{Scope: sc, Source: src})
	if err != nil {
		t.Fatalf("RunPass: %v", err)
	}
	if c.Status != events.PassFailed || c.Reason != events.ReasonPublish || c.ChunkCount != 2 {
		t.Fatalf("close = %s/%s chunks=%d (%s); want failed/publish after 2 chunks", c.Status, c.Reason, c.ChunkCount, c.Detail)
	}
	for _, s := range closesOn(t, js, sc) {
		if s.Status == events.PassComplete {
			t.Fatal("a complete close was stored")
		}
	}
}

// A lease taken by someone else during the listing cancels the pass: failed
// with lease_lost, and the lease is no longer held.
func TestLeaseLostMidPass(t *testing.T) {
	_, _, js := startBus(t)
	sc := scope("acct-1", "cn-qingdao")
	src := newFakeSource("acct-1")
	src.set(sc.Region, genInstances(sc, 10))
	listing := make(chan struct{})
	src.onList = func(ctx context.Context, _ string) error {
		close(listing)
		<-ctx.Done()
		return AsListError(ctx.Err())
	}
	r := newRunner(t, js, Options{LeaseTTL: 900 * time.Millisecond})
	kv, err := js.KeyValue(t.Context(), natsx.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		<-listing
		_, _ = kv.Put(context.WithoutCancel(t.Context()), natsx.LeaseKey(natsScope(sc)),
			[]byte(`{"holder":"intruder","acquired":"2030-01-01T00:00:00Z","expires":"2030-01-01T00:01:00Z"}`))
	}()

	start := time.Now()
	c, err := r.RunPass(t.Context(), Target{Scope: sc, Source: src})
	if err != nil {
		t.Fatalf("RunPass: %v", err)
	}
	if c.Status != events.PassFailed || c.Reason != events.ReasonLeaseLost {
		t.Fatalf("close = %s/%s (%s), want failed/lease_lost", c.Status, c.Reason, c.Detail)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("lease loss noticed after %s, want about LeaseTTL/3", d)
	}
	if len(r.Held()) != 0 {
		t.Errorf("still holds %v", r.Held())
	}
	// Held elsewhere: RunPass refuses without running a pass.
	if _, err := r.RunPass(t.Context(), Target{Scope: sc, Source: src}); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("RunPass on a lease held elsewhere: %v, want ErrLeaseHeld", err)
	}
}

// The fencing token grows across holders of a lease.
func TestFencingTokenGrowsAcrossHolders(t *testing.T) {
	url, _, js := startBus(t)
	_, js2 := natstest.Dial(t, url)
	sc := scope("acct-1", "cn-hangzhou")
	src := newFakeSource("acct-1")
	src.set(sc.Region, genInstances(sc, 3))
	a := newRunner(t, js, Options{Replica: "a"})
	b := newRunner(t, js2, Options{Replica: "b"})

	c1, err := a.RunPass(t.Context(), Target{Scope: sc, Source: src})
	if err != nil || c1.Status != events.PassComplete {
		t.Fatalf("a: %v %+v", err, c1)
	}
	if _, err := b.RunPass(t.Context(), Target{Scope: sc, Source: src}); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("b while a holds: %v, want ErrLeaseHeld", err)
	}
	if err := a.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	c2, err := b.RunPass(t.Context(), Target{Scope: sc, Source: src})
	if err != nil || c2.Status != events.PassComplete {
		t.Fatalf("b: %v %+v", err, c2)
	}
	c3, err := b.RunPass(t.Context(), Target{Scope: sc, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if !(c1.FencingToken < c2.FencingToken && c2.FencingToken < c3.FencingToken) {
		t.Fatalf("fencing tokens %d, %d, %d do not grow", c1.FencingToken, c2.FencingToken, c3.FencingToken)
	}
	if c1.Digest != c2.Digest {
		t.Error("same listing, different digests")
	}
}

func TestNewValidatesOptions(t *testing.T) {
	_, _, js := startBus(t)
	tests := []struct {
		name string
		o    Options
	}{
		{"no jetstream", Options{Replica: "r", Provider: asset.Aliyun}},
		{"no replica", Options{JS: js, Provider: asset.Aliyun}},
		{"unknown provider", Options{JS: js, Replica: "r", Provider: "aws"}},
		{"negative interval", Options{JS: js, Replica: "r", Provider: asset.Aliyun, Interval: -time.Second}},
		{"tiny lease", Options{JS: js, Replica: "r", Provider: asset.Aliyun, LeaseTTL: time.Millisecond}},
	}
	for _, tt := range tests {
		if _, err := New(tt.o); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	r, err := New(Options{JS: js, Replica: "r", Provider: asset.HuaweiCloud})
	if err != nil {
		t.Fatal(err)
	}
	if r.o.LeaseTTL != DefaultLeaseTTL || r.o.Interval != DefaultInterval || r.o.AccountConcurrency != DefaultAccountConcurrency {
		t.Errorf("defaults not applied: %+v", r.o)
	}
	// A target of another provider, or without a source, is refused.
	_, err = r.RunPass(t.Context(), Target{Scope: scope("a", "cn-north-4"), Source: newFakeSource("a")})
	if !errors.Is(err, ErrInvalidTarget) {
		t.Errorf("aliyun target on a huaweicloud runner: %v", err)
	}
	hw := events.Scope{Provider: asset.HuaweiCloud, AccountID: "a", Region: "cn-north-4"}
	if _, err := r.RunPass(t.Context(), Target{Scope: hw}); !errors.Is(err, ErrInvalidTarget) {
		t.Errorf("target without source: %v", err)
	}
}
