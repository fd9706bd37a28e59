// Command sim serves the JumpServer v4, Aliyun ECS, Huawei Cloud ECS and
// DingTalk robot simulators on loopback ports with a seeded inventory, for
// the demo, docker-compose and the benchmarks. `sim --help` lists every knob.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(1)
	}
}

// run serves the simulators until ctx ends.
func run(ctx context.Context, cfg config, out io.Writer) error {
	sims, err := start(cfg)
	if err != nil {
		return err
	}
	defer sims.close()
	sims.describe(out, cfg)
	<-ctx.Done()
	return nil
}
