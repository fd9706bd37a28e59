// Package collectortest reads back what collectors published, for the
// integration tests of every collector service: it reassembles passes from
// the SNAPSHOTS stream and checks each message against its JSON Schema.
// Only tests import it.
package collectortest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/events/schemacheck"
	"github.com/jmssync/jmssync/libs/natsx"
)

// Pass is one pass as a consumer sees it.
type Pass struct {
	Close     *events.PassClose
	Instances []asset.Instance // from its chunks, in chunk order
	Chunks    int
	MaxBytes  int // largest chunk message
}

// Verify reports what a reconciler would reject: a count, chunk or digest
// mismatch. A failed pass verifies only its chunk count.
func (p *Pass) Verify() []string {
	var bad []string
	if p.Chunks != p.Close.ChunkCount {
		bad = append(bad, "chunk count")
	}
	if p.Close.Status != events.PassComplete {
		return bad
	}
	if len(p.Instances) != p.Close.InstanceCount {
		bad = append(bad, "instance count")
	}
	if d, err := asset.Digest(p.Instances); err != nil || d != p.Close.Digest {
		bad = append(bad, "digest")
	}
	return bad
}

// IDs returns the sorted instance ids of the pass.
func (p *Pass) IDs() []string {
	ids := make([]string, len(p.Instances))
	for i, in := range p.Instances {
		ids[i] = in.InstanceID
	}
	slices.Sort(ids)
	return ids
}

// Raw is every message of the stream as stored, for secret scans.
type Raw struct {
	Subject string
	Data    []byte
}

// ReadPasses reads the whole SNAPSHOTS stream, checks every message against
// its schema (failing the test otherwise) and returns the closed passes in
// close order, plus every raw message.
func ReadPasses(t testing.TB, js jetstream.JetStream) ([]*Pass, []Raw) {
	t.Helper()
	ck, err := schemacheck.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, natsx.StreamSnapshots)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var raws []Raw
	byID := map[string]*Pass{}
	var order []*Pass
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted
		}
		raws = append(raws, Raw{Subject: m.Subject, Data: m.Data})
		if err := ck.Check(m.Data); err != nil {
			t.Fatalf("message %d on %s breaks its schema: %v", seq, m.Subject, err)
		}
		msg, err := events.Decode(m.Data)
		if err != nil {
			t.Fatalf("message %d on %s: %v", seq, m.Subject, err)
		}
		switch v := msg.(type) {
		case *events.SnapshotChunk:
			p := byID[v.PassID]
			if p == nil {
				p = &Pass{}
				byID[v.PassID] = p
			}
			p.Instances = append(p.Instances, v.Instances...)
			p.Chunks++
			p.MaxBytes = max(p.MaxBytes, len(m.Data))
		case *events.PassClose:
			p := byID[v.PassID]
			if p == nil {
				p = &Pass{}
				byID[v.PassID] = p
			}
			p.Close = v
			order = append(order, p)
		default:
			t.Fatalf("unexpected %T on %s", msg, m.Subject)
		}
	}
	return order, raws
}

// Latest returns the last closed pass of each region.
func Latest(passes []*Pass) map[string]*Pass {
	out := map[string]*Pass{}
	for _, p := range passes {
		out[p.Close.Scope.Region] = p
	}
	return out
}
