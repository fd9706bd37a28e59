package reconciler

import (
	"testing"
	"time"
)

// TestConfirmWaitsForPendingPasses: a pass on the bus that the reconciler
// has not verified yet might list an instance again, so a confirm must not
// act on the older picture: it is refused as passes_pending.
func TestConfirmWaitsForPendingPasses(t *testing.T) {
	e := newEnv(t)
	cfg := loadConfig(t, baseEnv())
	_, stop := e.start(cfg) // creates the durable pass consumer
	e.mirrorReady("Default")
	stop()

	e.pass(scopeA, vms(scopeA, 0, 3)) // nobody consumes it now
	s, err := New(t.Context(), cfg, Deps{JS: e.js, Now: e.now})
	if err != nil {
		t.Fatal(err)
	}
	s.catchUp = 300 * time.Millisecond
	res, _, err := s.Confirm(t.Context(), "any-plan")
	if err != nil {
		t.Fatal(err)
	}
	if res.Refused != "passes_pending" {
		t.Fatalf("confirm with an unverified pass pending: refused %q, want passes_pending", res.Refused)
	}
}
