package collectortest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/events"
)

// WaitFor polls ok until it holds or limit passes.
func WaitFor(t testing.TB, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CheckSplitAndTakeover runs two replicas over targets (four regions or
// more, an even number), checks that they split the regions without overlap,
// kills one as a crash would (nothing released) and checks that the other
// takes every region within the lease TTL plus one renewal period; then that
// no two passes of a region overlapped and fencing tokens never went back.
func CheckSplitAndTakeover(t *testing.T, js jetstream.JetStream, targets []collector.Target, leaseTTL time.Duration,
	newRunner func(replica string) *collector.Runner,
) {
	t.Helper()
	a, b := newRunner("replica-a"), newRunner("replica-b")
	ctxA, killA := context.WithCancel(t.Context())
	ctxB, stopB := context.WithCancel(t.Context())
	defer stopB()
	go func() { _ = a.Run(ctxA, targets) }()
	go func() { _ = b.Run(ctxB, targets) }()

	half := len(targets) / 2
	WaitFor(t, 10*time.Second, "an even split", func() bool { return len(a.Held()) == half && len(b.Held()) == half })
	owner := map[string]bool{}
	for _, s := range a.Held() {
		owner[s.Region] = true
	}
	for _, s := range b.Held() {
		if owner[s.Region] {
			t.Fatalf("region %s held by both replicas", s.Region)
		}
	}
	killA()
	killed := time.Now()
	WaitFor(t, 10*time.Second, "the survivor takes every region", func() bool { return len(b.Held()) == len(targets) })
	if took := time.Since(killed); took > leaseTTL+leaseTTL/2+time.Second {
		t.Fatalf("takeover took %s with a lease TTL of %s", took, leaseTTL)
	}
	WaitFor(t, 10*time.Second, "the survivor's passes of every region", func() bool {
		for _, tg := range targets {
			if at, ok := b.LastComplete(tg.Scope); !ok || at.Before(killed) {
				return false
			}
		}
		return true
	})
	stopB()
	passes, _ := ReadPasses(t, js)
	last := map[string]*events.PassClose{}
	for _, p := range passes {
		c := p.Close
		if prev := last[c.Scope.Region]; prev != nil {
			if c.FencingToken < prev.FencingToken {
				t.Fatalf("%s: fencing token went back from %d to %d", c.Scope.Region, prev.FencingToken, c.FencingToken)
			}
			if c.StartedAt.Before(prev.FinishedAt) {
				t.Fatalf("%s: passes %s (%s) and %s (%s) overlapped", c.Scope.Region, prev.PassID, prev.Collector, c.PassID, c.Collector)
			}
		}
		last[c.Scope.Region] = c
	}
	if len(last) != len(targets) {
		t.Fatalf("passes for %d regions, want %d", len(last), len(targets))
	}
}
