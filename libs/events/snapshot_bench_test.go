package events_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// Snapshot encoding and decoding are on the path of every pass: a collector
// splits and encodes the instances of a region into chunks of at most the
// NATS max payload, and the reconciler decodes and validates every chunk.

const benchChunkLimit = 1<<20 - 4096 // 1 MiB max payload minus room for headers

var benchScope = events.Scope{Provider: asset.Aliyun, AccountID: "prod", AccountName: "生产", Region: "cn-hangzhou"}

// benchPassInstances are n realistic instances of one scope (names, two
// addresses, tags, OS name, creation time).
func benchPassInstances(n int) []asset.Instance {
	out := make([]asset.Instance, n)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		in := asset.Instance{
			Provider: benchScope.Provider, AccountID: benchScope.AccountID, Region: benchScope.Region,
			Zone: "cn-hangzhou-b", InstanceID: fmt.Sprintf("i-bp1%017d", i), Name: fmt.Sprintf("web-prod-%05d", i),
			Hostname: fmt.Sprintf("web-prod-%05d", i), OSType: asset.Linux, OSName: "CentOS 7.9 64位",
			ImageName: "centos_7_9_x64_20G_alibase_20240628.vhd", State: asset.Running, Status: "Running",
			PrivateIPs: []string{fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256)},
			VPCID:      "vpc-bp1prod", InstanceType: "ecs.g6.large", CreatedAt: t0.Add(-time.Duration(i) * time.Hour),
			Tags: map[string]string{"env": "prod", "team": "payments"},
		}
		if i%3 == 0 {
			in.PublicIPs = []string{fmt.Sprintf("47.%d.%d.%d", i/65536%256, i/256%256, i%256)}
		}
		if i%5 == 0 {
			in.OSType, in.OSName = asset.Windows, "Windows Server 2022 数据中心版 64位中文版"
		}
		out[i] = in
	}
	return out
}

// BenchmarkSplitPass10k: a region of 10,000 instances cut into chunks (each
// instance encoded once to measure it).
func BenchmarkSplitPass10k(b *testing.B) {
	ins := benchPassInstances(10_000)
	chunks, err := events.SplitPass("pass-1", benchScope, ins, benchChunkLimit)
	if err != nil || len(chunks) == 0 {
		b.Fatalf("split: %d chunks, %v", len(chunks), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := events.SplitPass("pass-1", benchScope, ins, benchChunkLimit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(chunks)), "chunks")
}

// benchChunk is one full chunk (as large as the limit allows) and its
// encoding.
func benchChunk(b *testing.B) (*events.SnapshotChunk, []byte) {
	b.Helper()
	chunks, err := events.SplitPass("pass-1", benchScope, benchPassInstances(10_000), benchChunkLimit)
	if err != nil {
		b.Fatal(err)
	}
	data, err := events.Encode(chunks[0])
	if err != nil {
		b.Fatal(err)
	}
	return chunks[0], data
}

// BenchmarkEncodeChunk: validate and encode one full chunk, as a collector
// publishes it.
func BenchmarkEncodeChunk(b *testing.B) {
	c, data := benchChunk(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := events.Encode(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.Instances)), "instances/chunk")
}

// BenchmarkDecodeChunk: decode and validate one full chunk, as the
// reconciler reads it.
func BenchmarkDecodeChunk(b *testing.B) {
	c, data := benchChunk(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m, err := events.DecodeAs[*events.SnapshotChunk](data)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Instances) != len(c.Instances) {
			b.Fatalf("decoded %d instances, want %d", len(m.Instances), len(c.Instances))
		}
	}
	b.ReportMetric(float64(len(c.Instances)), "instances/chunk")
}
