package huaweisim

import (
	"math"
	"sync"
	"time"
)

// limiter is a per-AK token bucket driven by the server clock.
type limiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	b := float64(burst)
	if b <= 0 {
		b = math.Max(1, rate)
	}
	return &limiter{rate: rate, burst: b, buckets: map[string]*bucket{}}
}

func (l *limiter) limitInt() int { return int(math.Ceil(l.rate)) }

// allow takes one token from ak's bucket. A zero rate allows everything.
func (l *limiter) allow(ak string, now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[ak]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[ak] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *limiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buckets = map[string]*bucket{}
}
