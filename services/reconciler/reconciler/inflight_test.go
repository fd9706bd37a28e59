package reconciler

import (
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/natsx"
)

// A cycle deciding before the applier has applied the previous one's
// intents does not queue them again (a cold sync whose scopes report
// apart would otherwise create every asset twice over).
func TestCycleDoesNotRepeatIntentsInFlight(t *testing.T) {
	e := newEnv(t)
	s, _ := e.start(loadConfig(t, baseEnv()))
	e.mirrorReady("Default")
	ins := vms(scopeA, 0, 5)
	e.pass(scopeA, ins)
	e.wait("first cycle", func() bool { return s.Cycles() >= 1 && len(e.intents(1)) == 5 })
	seq := e.lastSeq(natsx.StreamIntents)

	e.pass(scopeA, append(ins, vms(scopeA, 5, 6)...)) // one more instance; nothing applied yet
	// Wait for the cycle that saw the new pass (an earlier one may run on
	// the first pass alone), then give any stray repeat time to show.
	e.wait("the new instance's create", func() bool { return len(e.intents(seq+1)) >= 1 })
	time.Sleep(300 * time.Millisecond)
	got := e.intents(seq + 1)
	if want := vm(scopeA, 5).InstanceID; len(got) != 1 || got[0].Identity.InstanceID != want {
		t.Fatalf("second cycle issued %d intents, want only the create of %s", len(got), want)
	}

	// Once applied, the mirror holds them and nothing is in flight.
	if n := e.apply(); n != 6 {
		t.Fatalf("applied %d", n)
	}
	seq = e.lastSeq(natsx.StreamIntents)
	before := s.Cycles()
	e.pass(scopeA, append(ins, vms(scopeA, 5, 6)...))
	e.wait("another cycle", func() bool { return s.Cycles() > before })
	if got := e.intents(seq + 1); len(got) != 0 {
		t.Fatalf("third cycle issued %d intents", len(got))
	}
	s.mu.Lock()
	left := len(s.inflight)
	s.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d intents still recorded in flight", left)
	}
}
