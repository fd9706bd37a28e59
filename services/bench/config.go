package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is the benchmark's setting, from BENCH_* variables.
type config struct {
	N            int           // BENCH_N: instances over 2 clouds × 2 regions
	Latency      time.Duration // BENCH_LATENCY_MS: JumpServer per request
	Item         time.Duration // BENCH_ITEM_MS: JumpServer per item of a bulk request
	Workers      int           // BENCH_WORKERS: JumpServer worker pool
	CloudLatency time.Duration // BENCH_CLOUD_LATENCY_MS: per cloud API call
	Churn        float64       // BENCH_CHURN: share of N added, renamed, re-IP'd and released (each)
	Out          string        // BENCH_OUT: results folder (relative to the workspace root)

	Seed        uint64        // BENCH_SEED (1)
	Batch       int           // BENCH_BATCH: JMSSYNC_JUMPSERVER_BATCH_SIZE (the API's maximum, 1000)
	Concurrency int           // BENCH_CONCURRENCY: JMSSYNC_JUMPSERVER_CONCURRENCY (= BENCH_WORKERS)
	Debounce    time.Duration // BENCH_DEBOUNCE: JMSSYNC_RECONCILE_DEBOUNCE (5s, the product's default)
	NATS        string        // BENCH_NATS: "embedded" (jms-sync's own, the default) or "harness" (the harness runs NATS)
	Timeout     time.Duration // BENCH_TIMEOUT: bound of each wait (10m)
	Write       bool          // BENCH_WRITE (1): write the results files
	// BENCH_PROFILE: a path prefix; when set, jms-sync serves pprof and the
	// harness saves <prefix>-cpu.pprof (the first BENCH_PROFILE_SECONDS of
	// the run, 20 by default) and <prefix>-heap.pprof (after the cold sync).
	Profile        string
	ProfileSeconds int
}

func loadConfig() (config, error) {
	c := config{N: 10000, Latency: 20 * time.Millisecond, Item: 2 * time.Millisecond, Workers: 8,
		CloudLatency: 50 * time.Millisecond, Churn: 0.01, Out: "bench/results", Seed: 1, Batch: 1000,
		Debounce: 5 * time.Second, NATS: "embedded", Timeout: 10 * time.Minute, Write: true}
	var errs []error
	intVar := func(name string, p *int, min int) {
		if v, ok := os.LookupEnv(name); ok && strings.TrimSpace(v) != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < min {
				errs = append(errs, fmt.Errorf("%s=%q: want an integer ≥ %d", name, v, min))
				return
			}
			*p = n
		}
	}
	msVar := func(name string, p *time.Duration) {
		if v, ok := os.LookupEnv(name); ok && strings.TrimSpace(v) != "" {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want milliseconds ≥ 0", name, v))
				return
			}
			*p = time.Duration(f * float64(time.Millisecond))
		}
	}
	durVar := func(name string, p *time.Duration) {
		if v, ok := os.LookupEnv(name); ok && strings.TrimSpace(v) != "" {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d < 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a duration such as 1s", name, v))
				return
			}
			*p = d
		}
	}
	intVar("BENCH_N", &c.N, 4)
	msVar("BENCH_LATENCY_MS", &c.Latency)
	msVar("BENCH_ITEM_MS", &c.Item)
	intVar("BENCH_WORKERS", &c.Workers, 0)
	msVar("BENCH_CLOUD_LATENCY_MS", &c.CloudLatency)
	if v := strings.TrimSpace(os.Getenv("BENCH_CHURN")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 0.2 {
			errs = append(errs, fmt.Errorf("BENCH_CHURN=%q: want a fraction in [0, 0.2]", v))
		} else {
			c.Churn = f
		}
	}
	if v := strings.TrimSpace(os.Getenv("BENCH_OUT")); v != "" {
		c.Out = v
	}
	seed := int(c.Seed)
	intVar("BENCH_SEED", &seed, 1)
	c.Seed = uint64(seed)
	intVar("BENCH_BATCH", &c.Batch, 1)
	c.Concurrency = max(c.Workers, 1)
	intVar("BENCH_CONCURRENCY", &c.Concurrency, 1)
	durVar("BENCH_DEBOUNCE", &c.Debounce)
	durVar("BENCH_TIMEOUT", &c.Timeout)
	if v := strings.TrimSpace(os.Getenv("BENCH_NATS")); v != "" {
		if v != "harness" && v != "embedded" {
			errs = append(errs, fmt.Errorf("BENCH_NATS=%q: harness or embedded", v))
		}
		c.NATS = v
	}
	c.Profile = strings.TrimSpace(os.Getenv("BENCH_PROFILE"))
	c.ProfileSeconds = 20
	intVar("BENCH_PROFILE_SECONDS", &c.ProfileSeconds, 1)
	if v := strings.TrimSpace(os.Getenv("BENCH_WRITE")); v == "0" || v == "false" {
		c.Write = false
	}
	if c.Batch > jmsMaxBatch {
		errs = append(errs, fmt.Errorf("BENCH_BATCH=%d: the API takes at most %d", c.Batch, jmsMaxBatch))
	}
	return c, errors.Join(errs...)
}

// perRegion is N spread over 2 clouds × 2 regions (rounded up).
func (c config) perRegion() int { return ceilDiv(c.N, 4) }
