package jumpserver

import "testing"

func TestBatchSizeSpreadsOverWorkers(t *testing.T) {
	for _, tc := range []struct{ n, limit, workers, want int }{
		{9779, 1000, 8, 612},  // two even rounds, not 8×1000 + 2×890
		{8000, 1000, 8, 1000}, // exactly one round of full batches
		{8001, 1000, 8, 501},
		{100, 1000, 8, 25}, // small: no batch below minSplit
		{30, 1000, 8, 25},
		{100, 20, 8, 20},       // the limit wins over minSplit
		{100000, 1000, 8, 962}, // 13 even rounds
		{1, 1000, 1, 25},
		{0, 1000, 8, 1000},
		{5, 0, 8, 1},
	} {
		if got := batchSize(tc.n, tc.limit, tc.workers); got != tc.want {
			t.Errorf("batchSize(%d, %d, %d) = %d, want %d", tc.n, tc.limit, tc.workers, got, tc.want)
		}
	}
}
