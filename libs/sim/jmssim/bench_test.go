package jmssim

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func benchClient(b *testing.B, s *Server) *client {
	c := newClient(b, s)
	c.hc.Transport = &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	return c
}

func report(b *testing.B, reqs int64, items int64, start time.Time) {
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(reqs)/el, "req/s")
	if items > 0 {
		b.ReportMetric(float64(items)/el, "items/s")
	}
}

// BenchmarkListHosts pages through 20,000 hosts with limit=1000 (one op = one page).
func BenchmarkListHosts(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("limit=%d", size), func(b *testing.B) {
			s := Start(b, Options{Knobs: Knobs{Licensed: true}})
			if err := s.Seed(Seed{Generate: []SeedGenerate{{Count: 20000, Labels: []string{"jmssync:bench"}, Node: "/DEFAULT/Cloud/Acct"}}}); err != nil {
				b.Fatal(err)
			}
			c := benchClient(b, s)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				off := (i * size) % 20000
				c.must(200, "GET", fmt.Sprintf("/api/v1/assets/hosts/?limit=%d&offset=%d", size, off), nil)
			}
			report(b, int64(b.N), int64(b.N*size), start)
		})
	}
}

// BenchmarkBulkCreate creates hosts in bulk requests of 100 (one op = one request).
func BenchmarkBulkCreate(b *testing.B) {
	s := Start(b, Options{Knobs: Knobs{Licensed: true}})
	c := benchClient(b, s)
	n := 0
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		items := make([]any, 100)
		for j := range items {
			h := host(fmt.Sprintf("bulk-%08d", n), fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255))
			h["labels"] = []any{"jmssync:bench", "provider:aliyun"}
			h["nodes_display"] = []any{"/DEFAULT/Cloud/Acct"}
			items[j] = h
			n++
		}
		c.must(201, "POST", "/api/v1/assets/hosts/", items)
	}
	report(b, int64(b.N), int64(b.N*100), start)
}

// BenchmarkMixed runs a sync-like mix in parallel against 10,000 hosts:
// list pages, detail reads, patches and single creates.
func BenchmarkMixed(b *testing.B) {
	s := Start(b, Options{Knobs: Knobs{Licensed: true}})
	if err := s.Seed(Seed{Generate: []SeedGenerate{{Count: 10000}}}); err != nil {
		b.Fatal(err)
	}
	st := s.State()
	ids := make([]string, 0, len(st.Orgs[0].Assets))
	for _, a := range st.Orgs[0].Assets {
		ids = append(ids, a.ID)
	}
	c := benchClient(b, s)
	var seq, reqs atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			switch i % 10 {
			case 0:
				c.must(200, "GET", fmt.Sprintf("/api/v1/assets/hosts/?limit=100&offset=%d", (i*100)%10000), nil)
			case 1, 2:
				c.must(200, "PATCH", "/api/v1/assets/hosts/"+ids[i%int64(len(ids))]+"/", map[string]any{"address": fmt.Sprintf("10.9.%d.%d", i>>8&255, i&255)})
			case 3:
				c.must(201, "POST", "/api/v1/assets/hosts/", host(fmt.Sprintf("mixed-%d", i), "10.8.0.1"))
			default:
				c.must(200, "GET", "/api/v1/assets/hosts/"+ids[i%int64(len(ids))]+"/", nil)
			}
			reqs.Add(1)
		}
	})
	report(b, reqs.Load(), 0, start)
}
