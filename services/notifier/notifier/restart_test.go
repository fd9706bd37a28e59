package notifier

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/sim/dingtalksim"
)

// A notifier that stops in the middle of a run rebuilds it from the streams:
// the card counts the results received before and after the restart.
func TestRestartMidRunRebuildsFromTheStreams(t *testing.T) {
	cfg := baseConfig()
	cfg.Robots = []Robot{robot("ops", tokA, secretA)}
	e := start(t, cfg, dingtalksim.Robot{Token: tokA, Secret: secretA})
	const run = "0190a1b2-0000-7000-8000-0000000000e1"
	s := scopeOf("prod", "cn-hangzhou")
	e.open(run, events.RunScope{Scope: s, ExpectedIntents: 2})
	e.fact(run, s, events.Created, "before-restart")
	time.Sleep(100 * time.Millisecond) // let the first notifier see both
	e.stop()

	// A second notifier on the same bus (the first one's run aggregation is
	// memory only; the second must rebuild it).
	cfg2 := cfg
	cfg2.Robots = []Robot{robot("ops", tokA, secretA)}
	cfg2.Robots[0].Webhook = config.Secret(e.sim.WebhookURL(tokA))
	svc2, err := New(t.Context(), cfg2, Deps{JS: e.js, Clock: e.clock, Logger: logging.New(e.logs, "debug", Name)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc2.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e.wait("second caught up", func() bool { return svc2.caughtUp.Check("").Fn(t.Context()) == nil })
	if svc2.Pending() != 0 {
		t.Fatal("nothing should be queued yet")
	}
	e.fact(run, s, events.Created, "after-restart")
	e.drive("card", func() bool { return len(e.sim.Accepted(tokA)) >= 1 })
	e.drive("quiet", func() bool { return svc2.Pending() == 0 })
	got := e.sim.Accepted(tokA)
	text := got[0].Text
	for _, want := range []string{"| 新增资产 | 2 个 |", "before-restart", "after-restart"} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q:\n%s", want, text)
		}
	}
}
