package memlimit_test

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/memlimit"
)

const mib = 1 << 20

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		name         string
		target, live uint64
		want         int64
	}{
		{"no collection yet", 150 * mib, 0, 150 * mib},
		{"small heap keeps the target", 150 * mib, 40 * mib, 150 * mib},
		{"at the crossover", 150 * mib, 107 * mib, 150 * mib},
		{"above it: GOGC=100's goal less the reserve", 150 * mib, 110 * mib, 156 * mib},
		{"large heap: nearly GOGC=100", 150 * mib, 600 * mib, 1136 * mib},
		{"huge heap does not overflow", 150 * mib, math.MaxUint64, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := memlimit.Limit(tc.target, tc.live); got != tc.want {
				t.Fatalf("Limit(%d, %d) = %d, want %d", tc.target, tc.live, got, tc.want)
			}
		})
	}
}

func TestLiveAfterCollection(t *testing.T) {
	keep := make([]byte, 32*mib)
	runtime.GC()
	live := memlimit.Live()
	runtime.KeepAlive(keep)
	if live < 32*mib {
		t.Fatalf("live heap %d after a collection holding 32 MiB", live)
	}
}

// Run sets the limit at once, follows the live heap, and puts the
// previous limit back when it ends.
func TestRunSetsAndRestores(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		memlimit.Run(ctx, 64*mib, 5*time.Millisecond)
	}()
	keep := make([]byte, 96*mib) // live heap above the target: 2 × live − Reserved wins
	runtime.GC()
	want := memlimit.Limit(64*mib, memlimit.Live())
	if want <= 64*mib {
		t.Fatalf("test setup: live heap %d does not exceed the target", memlimit.Live())
	}
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) < 2*96*mib-memlimit.Reserved {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d never followed the live heap (want about %d)", debug.SetMemoryLimit(-1), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	runtime.KeepAlive(keep)
	cancel()
	<-done
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit after Run = %d, want the previous %d", got, before)
	}
}
