package notify

import (
	"sync"
	"time"
)

// Limiter allows at most N events in any rolling window (DingTalk: 20
// messages per robot per minute; jms-sync keeps a margin). It is driven by
// the times it is given, so it needs no clock of its own. Safe for
// concurrent use.
type Limiter struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	sent   []time.Time // inside the window, oldest first
	until  time.Time   // blocked until (after a refusal for rate)
}

// NewLimiter allows n events per window (n < 1 is treated as 1).
func NewLimiter(n int, window time.Duration) *Limiter {
	return &Limiter{n: max(n, 1), window: window}
}

func (l *Limiter) trim(now time.Time) {
	i := 0
	for i < len(l.sent) && !l.sent[i].After(now.Add(-l.window)) {
		i++
	}
	l.sent = l.sent[i:]
}

// Wait returns how long to wait before the next event is allowed at now (0:
// allowed now).
func (l *Limiter) Wait(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trim(now)
	var d time.Duration
	if len(l.sent) >= l.n {
		d = l.sent[len(l.sent)-l.n].Add(l.window).Sub(now)
	}
	if b := l.until.Sub(now); b > d {
		d = b
	}
	return max(d, 0)
}

// Available is how many events are allowed at now without waiting.
func (l *Limiter) Available(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trim(now)
	if now.Before(l.until) {
		return 0
	}
	return l.n - len(l.sent)
}

// Record counts one event at now.
func (l *Limiter) Record(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trim(now)
	l.sent = append(l.sent, now)
}

// Block allows nothing before until.
func (l *Limiter) Block(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.until) {
		l.until = until
	}
}
