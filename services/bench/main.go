// Command bench measures a jms-sync sync end to end (issue 8): the
// all-in-one (`jms-sync serve`) against the simulators (`sim`), each a
// separate process on loopback, so that the memory and CPU measured are the
// product's alone.
//
//	go run ./services/bench            # N = 10,000 (minutes)
//	BENCH_N=200 go run ./services/bench # smoke
//
// It builds both binaries once, starts the simulators with N/4 instances
// per region (2 clouds × 2 regions, mixed OS, some stopped, some without
// private IP, duplicate names), JumpServer licensed with BENCH_LATENCY_MS per
// request, BENCH_ITEM_MS per bulk item and BENCH_WORKERS workers, clouds at
// BENCH_CLOUD_LATENCY_MS per call; then measures the cold sync, a steady
// cycle and a churn of BENCH_CHURN × N each added, renamed, re-IP'd and
// released, the process's peak RSS and CPU, and the floor (floor.go). At
// the end it checks JumpServer's state against the inventory and exits 1,
// loudly, if anything is missing, extra or wrong. Results go to
// BENCH_OUT/<date>-<commit>.md and .json.
//
// By default jms-sync starts its own embedded JetStream (the default
// deployment), so the RSS and CPU measured include NATS; the harness finds
// its port in /proc and watches pass, run and applied records through it.
// BENCH_NATS=harness runs the NATS server in the harness instead
// (libs/natsx/natsembed) and gives jms-sync JMSSYNC_NATS_URL, so that the
// process's RSS is jms-sync's alone.
//
// Any JMSSYNC_* variable in the harness's environment is passed to jms-sync
// and overrides the harness's setting.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg, os.Stderr)
	if res != nil {
		fmt.Println(res.Markdown())
		if cfg.Write {
			if paths, werr := res.write(cfg.Out); werr != nil {
				fmt.Fprintln(os.Stderr, "bench: writing results:", werr)
			} else {
				fmt.Fprintln(os.Stderr, "bench: results in", paths)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "\n!!!!!!!! BENCH FAILED !!!!!!!!")
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if res != nil && !res.Verification.OK {
		fmt.Fprintln(os.Stderr, "\n!!!!!!!! BENCH FAILED: JumpServer does not match the inventory !!!!!!!!")
		for _, p := range res.Verification.Problems {
			fmt.Fprintln(os.Stderr, "  -", p)
		}
		os.Exit(1)
	}
}
