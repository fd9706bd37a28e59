package collector

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errThrottled = errors.New("throttled")

func TestBackoffRetriesOnlyThrottling(t *testing.T) {
	var slept []time.Duration
	b := Backoff{Base: 10 * time.Millisecond, Max: 40 * time.Millisecond, Attempts: 4,
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	isThrottled := func(err error) bool { return errors.Is(err, errThrottled) }

	n := 0
	calls, err := b.Do(t.Context(), isThrottled, func() error {
		n++
		if n < 3 {
			return errThrottled
		}
		return nil
	})
	if err != nil || calls != 3 || len(slept) != 2 {
		t.Fatalf("calls=%d err=%v slept=%v, want 3 calls, 2 sleeps, success", calls, err, slept)
	}

	slept = nil
	calls, err = b.Do(t.Context(), isThrottled, func() error { return errThrottled })
	if !errors.Is(err, errThrottled) || calls != 5 {
		t.Fatalf("budget: calls=%d err=%v, want 5 calls and the throttling error", calls, err)
	}
	for i, d := range slept {
		if d < 0 || d > b.Delay(i) {
			t.Fatalf("sleep %d = %v, outside [0, %v]", i, d, b.Delay(i))
		}
	}

	other := errors.New("auth")
	calls, err = b.Do(t.Context(), isThrottled, func() error { return other })
	if calls != 1 || err != other {
		t.Fatalf("non-throttling error retried: calls=%d err=%v", calls, err)
	}
}

func TestBackoffDelayCaps(t *testing.T) {
	b := Backoff{Base: time.Second, Max: 5 * time.Second}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for n, w := range want {
		if got := b.Delay(n); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
}

func TestBackoffStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls, err := Backoff{Attempts: 5}.Do(ctx, func(error) bool { return true }, func() error { return errThrottled })
	if calls != 1 || !errors.Is(err, errThrottled) {
		t.Fatalf("calls=%d err=%v, want to stop after the first call", calls, err)
	}
}

func TestAsListError(t *testing.T) {
	if le := AsListError(context.DeadlineExceeded); le.Reason != "timeout" {
		t.Errorf("deadline → %q", le.Reason)
	}
	le := Failf("auth", nil, "account %s region %s", "a1", "r1")
	if got := AsListError(le); got != le || got.Error() != "auth: account a1 region r1" {
		t.Errorf("got %v", got)
	}
}
