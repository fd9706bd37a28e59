package jumpserver

import "testing"

func TestBurstDefault(t *testing.T) {
	for _, tc := range []struct {
		name               string
		concurrency, burst int
		want               int
	}{
		{"defaults", 0, 0, 2 * DefaultConcurrency},
		{"twice the workers", 8, 0, 16},
		{"explicit burst kept", 8, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Concurrency: tc.concurrency, Burst: tc.burst}.withDefaults()
			if c.Burst != tc.want {
				t.Fatalf("burst = %d, want %d", c.Burst, tc.want)
			}
		})
	}
}
