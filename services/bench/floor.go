package main

import (
	"fmt"
	"time"
)

// API limits of the simulated services (the real APIs' limits, which the
// simulators enforce): see libs/sim/aliyunsim and libs/sim/huaweisim doc.go,
// libs/jumpserver (MaxBatchSize) and the JumpServer 4.10 page cap.
const (
	aliyunMaxPage  = 100  // DescribeInstances MaxResults/PageSize 1-100
	huaweiMaxPage  = 1000 // ListServersDetails limit, capped at 1000
	jmsMaxBatch    = 1000 // largest bulk create/update (libs/jumpserver MaxBatchSize)
	jmsMaxPageSize = 1000 // JumpServer 4.10 list page cap
)

// Floor is the least wall time the simulators' knobs allow for a cold sync.
// It depends only on N (through the per-region count and the number of hosts
// to create), the APIs' largest page and batch sizes, the per-request and
// per-item costs and the JumpServer worker pool — never on the number of
// requests jms-sync happens to make.
//
//	list  = max over clouds of ceil(perRegion / maxPage(cloud)) × cloudLatency
//	        (regions and clouds listed in parallel, the pages of one region
//	        one after another: each page needs the previous one's token)
//	write = ceil(w / B) × L + w × c,   w = ceil(E / W)
//	        (E hosts to create spread evenly over the W JumpServer workers,
//	        each worker sending its share in bulk requests of at most B
//	        items, each request costing L plus c per item)
//	floor = list + write
//
// list and write are added: a host can only be created once its instance is
// listed, and jms-sync decides on complete passes (a partial listing must not
// delete anything), so the two phases do not overlap. The JumpServer reads a
// sync needs (one page of an empty inventory: L) are left out, which makes
// the floor slightly lower than any real tool can reach.
type Floor struct {
	PerRegion      int     `json:"per_region"`
	Hosts          int     `json:"hosts"` // E: hosts a correct sync creates
	Workers        int     `json:"workers"`
	Batch          int     `json:"batch"`
	PageSize       int     `json:"jms_page_size"`
	LatencyMS      float64 `json:"latency_ms"`
	ItemMS         float64 `json:"item_ms"`
	CloudLatencyMS float64 `json:"cloud_latency_ms"`
	AliyunPages    int     `json:"aliyun_pages_per_region"`
	HuaweiPages    int     `json:"huawei_pages_per_region"`
	ListSeconds    float64 `json:"list_seconds"`
	PerWorkerItems int     `json:"per_worker_items"`
	PerWorkerReqs  int     `json:"per_worker_requests"`
	WriteSeconds   float64 `json:"write_seconds"`
	Seconds        float64 `json:"seconds"`
	// BatchRoundsSeconds is the coarser bound of whole batches of B items
	// in rounds of W: ceil(ceil(E/B)/W) × (L + B×c), for comparison.
	BatchRoundsSeconds float64 `json:"batch_rounds_seconds"`
	// SteadyMaxRequests is the budget for a cycle without changes.
	SteadyMaxRequests int    `json:"steady_max_requests"`
	Formula           string `json:"formula"`
}

func ceilDiv(a, b int) int {
	if b <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

// ComputeFloor evaluates the formula above.
func ComputeFloor(n, perRegion, hosts, workers int, latency, item, cloudLatency time.Duration) Floor {
	if workers <= 0 {
		workers = hosts // an unlimited pool: one request per host
	}
	f := Floor{
		PerRegion: perRegion, Hosts: hosts, Workers: workers, Batch: jmsMaxBatch, PageSize: jmsMaxPageSize,
		LatencyMS: ms(latency), ItemMS: ms(item), CloudLatencyMS: ms(cloudLatency),
		AliyunPages: max(ceilDiv(perRegion, aliyunMaxPage), 1),
		HuaweiPages: max(ceilDiv(perRegion, huaweiMaxPage), 1),
	}
	f.ListSeconds = float64(max(f.AliyunPages, f.HuaweiPages)) * cloudLatency.Seconds()
	if hosts > 0 {
		f.PerWorkerItems = ceilDiv(hosts, workers)
		f.PerWorkerReqs = ceilDiv(f.PerWorkerItems, jmsMaxBatch)
		f.WriteSeconds = float64(f.PerWorkerReqs)*latency.Seconds() + float64(f.PerWorkerItems)*item.Seconds()
		rounds := ceilDiv(ceilDiv(hosts, jmsMaxBatch), workers)
		f.BatchRoundsSeconds = f.ListSeconds + float64(rounds)*(latency.Seconds()+float64(jmsMaxBatch)*item.Seconds())
	}
	f.Seconds = f.ListSeconds + f.WriteSeconds
	f.SteadyMaxRequests = ceilDiv(n, 1000) + 10
	f.Formula = fmt.Sprintf("list = max(ceil(%d/%d), ceil(%d/%d)) x %gms = %.3fs; "+
		"write = ceil(%d/%d) x %gms + %d x %gms = %.3fs (w = ceil(E=%d / W=%d) = %d, B=%d); floor = list + write = %.3fs",
		perRegion, aliyunMaxPage, perRegion, huaweiMaxPage, f.CloudLatencyMS, f.ListSeconds,
		f.PerWorkerItems, jmsMaxBatch, f.LatencyMS, f.PerWorkerItems, f.ItemMS, f.WriteSeconds,
		hosts, workers, f.PerWorkerItems, jmsMaxBatch, f.Seconds)
	return f
}

// ChurnFloor is the least time from a trigger to the write of any one
// change: a full listing (the change may be on the last page) plus one
// request carrying that change.
func ChurnFloor(fl Floor, latency, item time.Duration) float64 {
	return fl.ListSeconds + latency.Seconds() + item.Seconds()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
