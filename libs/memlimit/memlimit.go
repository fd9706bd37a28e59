// Package memlimit steers the Go runtime's soft memory limit
// (runtime/debug.SetMemoryLimit) from the live heap.
//
// With GOGC=100 alone the heap grows to twice the live heap before a
// collection. In the all-in-one about half of the live heap is the embedded
// JetStream server's block caches: pooled buffers of 4 and 8 MiB that are
// reused, not garbage, yet GOGC gives them the same headroom. A soft limit
// of Target while the live heap is small, and of Factor × the live heap
// above that, keeps a 10,000-instance install well under 200 MB and still
// grows with a large inventory, where a fixed limit would have the collector
// run without pause once the live heap neared it.
package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Factor is the limit's multiple of the live heap once that exceeds
// Target/Factor: the headroom GOGC=50 would give.
const Factor = 1.5

// Limit is the soft memory limit for a live heap of live bytes: target,
// or Factor × live when that is larger.
func Limit(target, live uint64) int64 {
	l := max(float64(target), Factor*float64(live))
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
// ctx ends, then puts back the limit it found. The caller decides whether
// to run it at all: an operator's GOMEMLIMIT or GOGC should win.
func Run(ctx context.Context, target uint64, every time.Duration) {
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
