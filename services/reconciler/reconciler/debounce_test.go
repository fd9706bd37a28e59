package reconciler

import (
	"testing"
	"time"
)

// TestCycleRunsOnceEveryScopeReported: with a long debounce, a cycle still
// runs as soon as every configured scope has reported, so a change reaches
// JumpServer without waiting out the quiet period.
func TestCycleRunsOnceEveryScopeReported(t *testing.T) {
	env := baseEnv()
	env["JMSSYNC_RECONCILE_DEBOUNCE"] = "1h"
	e := newEnv(t)
	s, _ := e.start(loadConfig(t, env))
	e.mirrorReady("Default")

	e.pass(scopeA, vms(scopeA, 0, 3))
	time.Sleep(300 * time.Millisecond)
	if n := s.Cycles(); n != 0 {
		t.Fatalf("%d cycles after one of two scopes reported; the debounce should still hold", n)
	}
	e.pass(scopeB, vms(scopeB, 0, 2))
	e.wait("a cycle once both scopes reported", func() bool { return s.Cycles() >= 1 && len(e.intents(1)) == 5 })
}
