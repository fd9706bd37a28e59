// Package memlimit steers the Go runtime's soft memory limit
// (runtime/debug.SetMemoryLimit) from the live heap.
//
// With GOGC=100 alone the heap grows to twice the live heap before a
// collection. In the all-in-one about half of the live heap at 10,000
// instances is the embedded JetStream server's block caches: pooled 4 and
// 8 MiB buffers that are reused, not garbage, yet GOGC gives them the same
// headroom as the rest. The limit here is GOGC=100's goal less Reserved
// (the share that needs no headroom), and never below the target: a small
// install keeps under the target, a large one gets nearly GOGC=100's headroom,
// and no live heap ever meets a fixed limit that would have the collector
// run without pause.
package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Reserved is the part of the live heap given no headroom: about the
// embedded server's block caches while a cycle writes and reads its
// streams (measured with make bench and heap profiles).
const Reserved = 64 << 20

// Limit is the soft memory limit for a live heap of live bytes:
// 2 × live − Reserved, and at least target.
func Limit(target, live uint64) int64 {
	l := max(float64(target), 2*float64(live)-Reserved)
	if l >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(l)
}

// liveMetric is the heap the previous collection marked live.
const liveMetric = "/gc/heap/live:bytes"

// Live returns the live heap of the previous collection (0 before the
// first one).
func Live() uint64 {
	s := []metrics.Sample{{Name: liveMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Run sets the soft limit to Limit(target, Live()) every interval until
// ctx ends, then puts back the limit it found; a zero target does
// nothing. The caller decides whether to run it at all: an operator's
// GOMEMLIMIT or GOGC should win.
func Run(ctx context.Context, target uint64, every time.Duration) {
	if target == 0 {
		return
	}
	prev := debug.SetMemoryLimit(Limit(target, Live()))
	defer debug.SetMemoryLimit(prev)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			debug.SetMemoryLimit(Limit(target, Live()))
		}
	}
}
