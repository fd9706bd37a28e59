package applier

import (
	"slices"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// TestRenamedAccountMovesTheHost: when the desired node changes (an account
// renamed in the config), the host moves to the new node and leaves the one
// jms-sync put it in, instead of being listed under both names. (Nodes an
// operator added are kept: TestOperatorChangesSurvive.)
func TestRenamedAccountMovesTheHost(t *testing.T) {
	e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{Licensed: true}}, nil)
	e.start(testHooks{})
	e.publish(creates(e, 0, 1, 1), "")
	waitFor(t, 10*time.Second, "the create", func() bool { return e.factCount() == 1 })
	id := assetIDOf(e, 0).String()
	if nodes := e.hosts()[id].Nodes; !slices.Equal(nodes, []string{testNodePath}) {
		t.Fatalf("created in %v", nodes)
	}
	d := desired(0)
	d.NodePath = "/DEFAULT/阿里云/prod-renamed"
	e.publish([]*events.Intent{intent(e, events.OpUpdate, 0, 2, d)}, "")
	waitFor(t, 10*time.Second, "the update", func() bool { return e.factCount() == 2 })
	nodes := e.hosts()[id].Nodes
	if !slices.Contains(nodes, "/DEFAULT/阿里云/prod-renamed") || slices.Contains(nodes, testNodePath) {
		t.Fatalf("after the rename the host is in %v; want the new node and not the old one", nodes)
	}
	if len(e.dlq()) != 0 {
		t.Fatal("dead letters")
	}
}
