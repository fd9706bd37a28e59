package reconciler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// Dead-letter reasons besides natsx's own.
const (
	ReasonUnknownSchema = "unknown_schema" // a message of a schema this build does not know
	ReasonInvalid       = "invalid"        // decoded but breaks its contract
	ReasonWrongSubject  = "wrong_subject"  // a valid message on a subject it does not belong to
)

// decodeReason maps an events.Decode error to a dead-letter reason.
func decodeReason(err error) string {
	switch {
	case errors.Is(err, events.ErrUnknownSchema):
		return ReasonUnknownSchema
	case errors.Is(err, events.ErrInvalid):
		return ReasonInvalid
	}
	return natsx.ReasonMalformed
}

// chunkSet is what was read of one pass's chunks.
type chunkSet struct {
	instances []asset.Instance // in chunk order
	chunks    int              // distinct chunk indexes received
	bad       int              // malformed chunks (dead-lettered, not counted)
}

// passReader reads passes from the SNAPSHOTS stream.
type passReader struct {
	js  jetstream.JetStream
	log zerolog.Logger
}

// readChunks reads the chunks of pass passID of scope s, by subject, below
// stream sequence before (the close record's; 0: no bound). A chunk that
// does not decode, or belongs to another pass or scope, is skipped (and
// copied to jmssync.dlq.reconciler when deadLetter; the dry run writes
// nothing): the pass then misses a chunk and fails verification.
func (r *passReader) readChunks(ctx context.Context, s events.Scope, passID string, before uint64, deadLetter bool) (chunkSet, error) {
	stream, err := r.js.Stream(ctx, natsx.StreamSnapshots)
	if err != nil {
		return chunkSet{}, fmt.Errorf("stream %s: %w", natsx.StreamSnapshots, err)
	}
	subject := natsx.SnapshotSubject(natsScope(s), passID)
	type part struct {
		index     int
		instances []asset.Instance
	}
	var parts []part
	var set chunkSet
	seen := map[int]bool{}
	for seq := uint64(1); ; {
		m, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return chunkSet{}, fmt.Errorf("read %s: %w", subject, err)
		}
		if before > 0 && m.Sequence >= before {
			break
		}
		seq = m.Sequence + 1
		c, derr := events.DecodeAs[*events.SnapshotChunk](m.Data)
		reason := decodeReason(derr)
		if derr == nil && (c.PassID != passID || !sameScope(c.Scope, s)) {
			derr, reason = fmt.Errorf("chunk of pass %s in %s on the subject of pass %s in %s", c.PassID, c.Scope, passID, s), ReasonWrongSubject
		}
		if derr != nil {
			set.bad++
			r.log.Warn().Err(derr).Str("subject", m.Subject).Uint64("stream_seq", m.Sequence).Str("reason", reason).
				Msg("bad chunk: skipped, the pass misses it")
			if deadLetter {
				if err := r.deadLetterChunk(ctx, m, reason, derr); err != nil {
					return chunkSet{}, err
				}
			}
			continue
		}
		if seen[c.Index] {
			continue // a republished chunk (outside the duplicate window)
		}
		seen[c.Index] = true
		parts = append(parts, part{c.Index, c.Instances})
	}
	slices.SortFunc(parts, func(a, b part) int { return a.index - b.index })
	n := 0
	for _, p := range parts {
		n += len(p.instances)
	}
	set.instances = make([]asset.Instance, 0, n)
	for _, p := range parts {
		set.instances = append(set.instances, p.instances...)
	}
	set.chunks = len(parts)
	return set, nil
}

// deadLetterChunk copies a chunk to the reconciler's DLQ subject with the
// same headers natsx.Consume sets on its dead letters.
func (r *passReader) deadLetterChunk(ctx context.Context, m *jetstream.RawStreamMsg, reason string, cause error) error {
	out := nats.NewMsg(natsx.DLQSubject(Name))
	out.Data = m.Data
	for k, vs := range m.Header {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		out.Header[k] = slices.Clone(vs)
	}
	text := logging.Redact(cause.Error())
	if len(text) > 1024 {
		text = text[:1024]
	}
	out.Header.Set(natsx.HeaderDLQReason, reason)
	out.Header.Set(natsx.HeaderDLQError, text)
	out.Header.Set(natsx.HeaderDLQService, Name)
	out.Header.Set(natsx.HeaderDLQSubject, m.Subject)
	out.Header.Set(natsx.HeaderDLQStream, natsx.StreamSnapshots)
	out.Header.Set(natsx.HeaderDLQStreamSeq, strconv.FormatUint(m.Sequence, 10))
	if id := m.Header.Get(jetstream.MsgIDHeader); id != "" {
		out.Header.Set(natsx.HeaderDLQMsgID, id)
	}
	out.Header.Set(natsx.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	// Deterministic: reading the pass again does not dead-letter twice.
	id := fmt.Sprintf("dlq:%s:%s:%d", natsx.StreamSnapshots, Name, m.Sequence)
	if _, err := r.js.PublishMsg(ctx, out, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("dead-letter chunk %d: %w", m.Sequence, err)
	}
	return nil
}

// loadPass reassembles a verified pass from its chunks and checks it
// against what VerifyPass recorded (count and digest).
func (r *passReader) loadPass(ctx context.Context, s events.Scope, stats *plan.PassStats) (*plan.Pass, error) {
	set, err := r.readChunks(ctx, s, stats.PassID, 0, false)
	if err != nil {
		return nil, err
	}
	if len(set.instances) != stats.InstanceCount {
		return nil, fmt.Errorf("%w: pass %s of %s: %d of %d instances left", ErrPassUnavailable, stats.PassID, s, len(set.instances), stats.InstanceCount)
	}
	if d, err := asset.Digest(set.instances); err != nil || d != stats.Digest {
		return nil, fmt.Errorf("%w: pass %s of %s: digest differs", ErrPassUnavailable, stats.PassID, s)
	}
	return &plan.Pass{ID: stats.PassID, Instances: set.instances}, nil
}

func sameScope(a, b events.Scope) bool {
	return a.Provider == b.Provider && a.AccountID == b.AccountID && a.Region == b.Region
}
