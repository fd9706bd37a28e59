package applier

import "testing"

func TestFetchBatch(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		fetch, batch, concurrency int
		want                      int
	}{
		{"defaults: every request of a batch in parallel", 0, 100, 4, 400},
		{"large bulk and pool: bounded", 0, 1000, 8, maxDefaultFetch},
		{"explicit value wins over the bound", 5000, 1000, 8, 5000},
		{"explicit small value", 10, 1000, 8, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{FetchBatch: tc.fetch, JumpServer: JumpServerConfig{BatchSize: tc.batch, Concurrency: tc.concurrency}}
			if got := c.fetchBatch(); got != tc.want {
				t.Fatalf("fetchBatch() = %d, want %d", got, tc.want)
			}
		})
	}
}
