package main

import (
	"math"
	"testing"
	"time"
)

func TestFloorAt10k(t *testing.T) {
	f := ComputeFloor(10000, 2500, 9779, 8, 20*time.Millisecond, 2*time.Millisecond, 50*time.Millisecond)
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	// Aliyun: 25 pages of 100 per region, in parallel with everything else.
	if f.AliyunPages != 25 || f.HuaweiPages != 3 || !near(f.ListSeconds, 1.25) {
		t.Errorf("listing: %d/%d pages, %.3fs", f.AliyunPages, f.HuaweiPages, f.ListSeconds)
	}
	// 1223 hosts per worker: 2 requests (≤ 1000 each) × 20ms + 1223 × 2ms.
	if f.PerWorkerItems != 1223 || f.PerWorkerReqs != 2 || !near(f.WriteSeconds, 0.040+2.446) {
		t.Errorf("write: %d items, %d requests, %.3fs", f.PerWorkerItems, f.PerWorkerReqs, f.WriteSeconds)
	}
	if !near(f.Seconds, f.ListSeconds+f.WriteSeconds) || f.SteadyMaxRequests != 20 {
		t.Errorf("floor %.3fs, steady budget %d", f.Seconds, f.SteadyMaxRequests)
	}
}

func TestStats(t *testing.T) {
	var xs []float64
	for i := 1; i <= 100; i++ {
		xs = append(xs, float64(i))
	}
	s := stats(xs)
	if s.P50 != 50 || s.P99 != 99 || s.Max != 100 || s.Measured != 100 {
		t.Errorf("%+v", s)
	}
	if s := stats(nil); s.Measured != 0 {
		t.Errorf("%+v", s)
	}
}
