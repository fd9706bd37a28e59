package events

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jmssync/jmssync/libs/asset"
)

// SnapshotChunk is one part of a pass: some of the instances a collector
// listed in a scope. A pass is its chunks (Index 0…ChunkCount-1) and then a
// PassClose on the scope's pass subject.
type SnapshotChunk struct {
	Schema    string           `json:"schema"`
	PassID    string           `json:"pass_id"`
	Scope     Scope            `json:"scope"`
	Index     int              `json:"index"` // 0-based
	Instances []asset.Instance `json:"instances"`
}

// NewSnapshotChunk builds a chunk. A nil instances slice becomes empty.
func NewSnapshotChunk(passID string, scope Scope, index int, instances []asset.Instance) *SnapshotChunk {
	if instances == nil {
		instances = []asset.Instance{}
	}
	return &SnapshotChunk{Schema: SchemaSnapshotChunk, PassID: passID, Scope: scope, Index: index, Instances: instances}
}

func (*SnapshotChunk) SchemaID() string { return SchemaSnapshotChunk }

// MsgID is "<pass id>.<index>".
func (c *SnapshotChunk) MsgID() string { return c.PassID + "." + strconv.Itoa(c.Index) }

// Validate checks the chunk and every instance in it, including that each
// instance belongs to the chunk's scope.
func (c *SnapshotChunk) Validate() error {
	p := problems{schema: SchemaSnapshotChunk}
	p.schemaField(c.Schema)
	p.token("pass_id", c.PassID)
	p.scope("scope", c.Scope)
	if c.Index < 0 {
		p.add("index", "must be >= 0, not %d", c.Index)
	}
	if c.Instances == nil {
		p.add("instances", "required (may be empty)")
	}
	for i := range c.Instances {
		in := &c.Instances[i]
		field := fmt.Sprintf("instances[%d]", i)
		p.nested(field, in.Validate())
		if in.Provider.Valid() && !c.Scope.Contains(in) {
			p.add(field, "instance %s belongs to %s/%s/%s, not to scope %s",
				in.InstanceID, in.Provider, in.AccountID, in.Region, c.Scope)
		}
	}
	return p.err()
}

// SplitPass cuts the instances of one pass into chunks whose JSON encoding is
// at most maxBytes each (keep it below the server's max_payload, 1 MiB by
// default, minus room for headers). Order is kept. No instance gives no
// chunk. It fails if a single instance cannot fit.
func SplitPass(passID string, scope Scope, instances []asset.Instance, maxBytes int) ([]*SnapshotChunk, error) {
	if len(instances) == 0 {
		return nil, nil
	}
	// Size of the envelope with no instance, for the largest index this pass can have.
	empty, err := json.Marshal(NewSnapshotChunk(passID, scope, len(instances), nil))
	if err != nil {
		return nil, fmt.Errorf("encode chunk envelope: %w", err)
	}
	var chunks []*SnapshotChunk
	start, size := 0, len(empty)
	for i := range instances {
		b, err := json.Marshal(&instances[i])
		if err != nil {
			return nil, fmt.Errorf("encode instance %s: %w", instances[i].InstanceID, err)
		}
		n := len(b)
		if i > start {
			n++ // the comma
		}
		if len(empty)+len(b) > maxBytes {
			return nil, fmt.Errorf("split pass %s: instance %s encodes to %d bytes, over the chunk limit %d",
				passID, instances[i].InstanceID, len(b), maxBytes)
		}
		if size+n > maxBytes {
			chunks = append(chunks, NewSnapshotChunk(passID, scope, len(chunks), instances[start:i:i]))
			start, size, n = i, len(empty), len(b)
		}
		size += n
	}
	chunks = append(chunks, NewSnapshotChunk(passID, scope, len(chunks), instances[start:len(instances):len(instances)]))
	return chunks, nil
}
