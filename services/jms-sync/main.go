// Command jms-sync runs the whole pipeline in one process with an embedded
// JetStream server, and the operator commands built on it.
//
//	jms-sync demo                 simulators + a full sync, then a summary
//	jms-sync serve [-config f]    every service, continuously
//	jms-sync validate [-config f] check the configuration, list every problem
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

	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/services/jms-sync/internal/app"
)

const usage = `jms-sync keeps JumpServer's assets in step with Alibaba Cloud and Huawei Cloud servers.

Usage:
  jms-sync demo [flags]       start simulators of JumpServer, both clouds and DingTalk, sync them, print a summary
  jms-sync serve [flags]      run every service continuously (embedded JetStream unless JMSSYNC_NATS_URL is set)
  jms-sync validate [flags]   check the configuration and list every problem

Configuration: JMSSYNC_* environment variables, and optionally the Python jms-sync's
config.yaml (-config); the environment wins.
`

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1], os.Args[2:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jms-sync:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "the Python jms-sync's config.yaml (optional)")
	dataDir := fs.String("data", "data", "directory of the embedded JetStream store")
	perRegion := fs.Int("per-region", 250, "demo: instances per region")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	switch cmd {
	case "demo":
		log := logging.New(stderr, "warn", "jms-sync")
		res, err := app.Demo(ctx, app.DemoOptions{PerRegion: *perRegion}, stdout, log)
		if res != nil {
			res.Print(stdout)
		}
		if err != nil {
			return 1, err
		}
		return 0, nil
	case "validate", "serve":
		env, err := app.LoadEnvironment(*configFile, nil)
		if env != nil {
			for _, w := range env.Warnings {
				fmt.Fprintln(stderr, "warning:", w)
			}
		}
		if err != nil {
			return 2, err
		}
		cfgs, err := app.LoadConfigs(env.Vars)
		if err != nil {
			return 2, err
		}
		if cmd == "validate" {
			fmt.Fprintln(stdout, "configuration is valid")
			return 0, nil
		}
		secrets := append(env.Secrets, cfgs.SecretValues()...)
		log := logging.New(stdout, env.Vars["JMSSYNC_LOG_LEVEL"], "jms-sync", logging.WithSecrets(secrets...))
		if err := app.Serve(ctx, env, cfgs, *dataDir, log); err != nil {
			return 1, err
		}
		return 0, nil
	}
	return 2, fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
}
