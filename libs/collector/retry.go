package collector

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff retries throttled calls with exponential backoff and full jitter.
// Clouds answer throttling with a 4xx that their SDKs do not retry (Aliyun
// Throttling, Huawei APIGW.0308), so collectors retry it themselves, within a
// budget: beyond it the pass fails as "throttled".
type Backoff struct {
	Base     time.Duration // first delay ceiling (default 200ms)
	Max      time.Duration // delay ceiling (default 10s)
	Attempts int           // retries after the first try (default 6)
	// Sleep waits for d or until ctx ends; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = 200 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.Attempts == 0 {
		b.Attempts = 6
	}
	if b.Sleep == nil {
		b.Sleep = sleepCtx
	}
	return b
}

// Delay is the ceiling for retry n (0-based) before jitter.
func (b Backoff) Delay(n int) time.Duration {
	b = b.withDefaults()
	d := b.Base
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Do calls fn until it succeeds, fails with an error for which throttled is
// false, or the budget is spent. It returns the number of calls made and the
// last error.
func (b Backoff) Do(ctx context.Context, throttled func(error) bool, fn func() error) (calls int, err error) {
	b = b.withDefaults()
	for n := 0; ; n++ {
		calls++
		err = fn()
		if err == nil || !throttled(err) || n >= b.Attempts {
			return calls, err
		}
		d := time.Duration(rand.Int64N(int64(b.Delay(n)) + 1))
		if serr := b.Sleep(ctx, d); serr != nil {
			return calls, err
		}
	}
}

// sleepCtx waits for d unless ctx ends first. A context that is already
// over wins even against a timer that fired at once (select would pick at
// random between the two).
func sleepCtx(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ctx.Err()
}
