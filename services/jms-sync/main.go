// Command jms-sync runs the whole pipeline in one process with an embedded
// JetStream server, and the operator commands built on it.
//
//	jms-sync demo                      simulators + a full sync, then a summary
//	jms-sync serve [-config f]         every service, continuously
//	jms-sync once [-config f]          one full cycle, then exit (for cron)
//	jms-sync plan [-config f]          dry run: what the next cycle would change
//	jms-sync confirm <plan-id>         release a held deletion plan
//	jms-sync prune -scope p/acct/reg   delete the assets of a removed scope
//	jms-sync adopt [-yes]              take over the Python jms-sync's assets
//	jms-sync explain <instance>        what was seen, decided and done for one instance
//	jms-sync validate [-config f]      check the configuration and credentials
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/services/jms-sync/internal/app"
	"github.com/jmssync/jmssync/services/jms-sync/internal/cli"
)

const usage = `jms-sync keeps JumpServer's assets in step with Alibaba Cloud and Huawei Cloud servers.

Usage:
  jms-sync demo [flags]             start simulators of JumpServer, both clouds and DingTalk, sync them, print a summary
  jms-sync serve [flags]            run every service continuously (embedded JetStream unless JMSSYNC_NATS_URL is set)
  jms-sync once [flags]             one full cycle for every account and region, then exit (for cron)
  jms-sync plan [flags]             dry run: list the creates, updates, deletes and held deletions; writes nothing
  jms-sync confirm [flags] <plan>   apply a held deletion plan (its id is in the alert and in plan's output)
  jms-sync prune -scope provider/account-id/region
                                    delete the assets of a scope that is no longer configured
  jms-sync adopt [flags] [-yes]     take over the hosts the Python jms-sync created (their comment has
                                    "instance_id: <id>"): without -yes only the plan; with -yes they keep their
                                    ids and get the ownership labels. Run it before the first serve or once
  jms-sync explain [flags] <instance-id|asset-name|address|asset-id>
                                    what was seen, decided and done for one instance; reads only
  jms-sync validate [flags]         check the configuration and the credentials; list every problem

Flags:
  -config file   the Python jms-sync's config.yaml (optional)
  -data dir      the embedded JetStream store (default "data"); once, plan, confirm, prune, adopt
                 and explain
                 reach a serve running on the same directory through it
  -timeout d     once, plan, confirm, prune, adopt, explain: give up after d (default 30m)
  -limit n       plan: list at most n changes per kind (default 50; 0 = all)
  -offline       validate: skip the checks that contact JumpServer and the clouds
  -yes           adopt: issue the adoptions (without it adopt writes nothing)
  -json          adopt, explain: print JSON instead of text
  -per-region n  demo: instances per region (default 250)

Exit status:
  0  done: every pass complete, every intent applied (adopt: the plan shown, or every match adopted)
  1  a pass failed, an intent was dead-lettered, a check failed, or an error
     (adopt: also a configured scope without a complete pass: the plan is partial)
  2  bad usage or an invalid configuration
  3  once: everything ran, but deletions are held (confirm them) or creates wait under the asset cap
  4  once, confirm, prune, adopt: another jms-sync (serve or once) holds the run lock
  5  confirm, prune: refused (no such held plan, or the scope is still configured);
     adopt -yes: nothing to adopt; explain: nothing is known about the instance

Configuration: JMSSYNC_* environment variables, and optionally the Python jms-sync's
config.yaml (-config); the environment wins. On a terminal once, plan and demo show
their progress; otherwise they log JSON lines on stderr.
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

type flags struct {
	configFile string
	dataDir    string
	perRegion  int
	timeout    time.Duration
	limit      int
	offline    bool
	scope      string
	yes        bool
	json       bool
	args       []string
}

// parse reads flags anywhere among the arguments (confirm <plan> -config f).
func parse(cmd string, args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configFile, "config", "", "the Python jms-sync's config.yaml (optional)")
	fs.StringVar(&f.dataDir, "data", "data", "directory of the embedded JetStream store")
	fs.IntVar(&f.perRegion, "per-region", 250, "demo: instances per region")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "once, plan, confirm, prune: give up after this long")
	fs.IntVar(&f.limit, "limit", 50, "plan: changes listed per kind (0 = all)")
	fs.BoolVar(&f.offline, "offline", false, "validate: skip network checks")
	fs.StringVar(&f.scope, "scope", "", "prune: provider/account-id/region")
	fs.BoolVar(&f.yes, "yes", false, "adopt: issue the adoptions (without it nothing is written)")
	fs.BoolVar(&f.json, "json", false, "adopt, explain: print JSON")
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return f, nil
		}
		f.args = append(f.args, args[0])
		args = args[1:]
	}
}

func run(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) (int, error) {
	f, err := parse(cmd, args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return app.ExitUsage, err
	}
	terminal := cli.IsTerminal(stderr)
	switch cmd {
	case "demo":
		log := logging.New(stderr, "warn", "jms-sync")
		app.SteerMemory(ctx, app.DefaultProcessConfig(), log)
		res, err := app.Demo(ctx, app.DemoOptions{PerRegion: f.perRegion, Progress: cli.NewProgress(stderr, false)}, stdout, log)
		if res != nil {
			res.Print(stdout)
		}
		if err != nil {
			return app.ExitFailed, err
		}
		return app.ExitOK, nil
	case "validate":
		env, err := app.LoadEnvironment(f.configFile, nil)
		if env == nil {
			return app.ExitUsage, err
		}
		res := app.Validate(ctx, env, app.ValidateOptions{Offline: f.offline, Log: logging.New(io.Discard, "error", "jms-sync")})
		if err != nil { // the config file itself did not parse
			res.Config = append([]string{err.Error()}, res.Config...)
		}
		res.Print(stdout)
		return res.ExitCode(), nil
	case "serve", "once", "plan", "adopt":
	case "explain":
		if len(f.args) != 1 {
			return app.ExitUsage, errors.New("usage: jms-sync explain <instance-id|asset-name|address|asset-id>")
		}
	case "confirm":
		if len(f.args) != 1 {
			return app.ExitUsage, errors.New("usage: jms-sync confirm <plan-id>")
		}
	case "prune":
		if f.scope == "" && len(f.args) == 1 {
			f.scope = f.args[0]
		}
		if _, err := app.ParseScope(f.scope); err != nil {
			return app.ExitUsage, fmt.Errorf("usage: jms-sync prune -scope provider/account-id/region: %w", err)
		}
	default:
		return app.ExitUsage, fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
	}

	env, err := app.LoadEnvironment(f.configFile, nil)
	if env != nil {
		for _, w := range env.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
	}
	if err != nil {
		return app.ExitUsage, err
	}
	cfgs, err := app.LoadConfigs(env.Vars)
	if err != nil {
		return app.ExitUsage, err
	}
	secrets := append(env.Secrets, cfgs.SecretValues()...)
	// log.file of the old config (JMSSYNC_LOG_FILE): a rotating copy of the logs.
	maxMB, _ := strconv.Atoi(env.Vars["JMSSYNC_LOG_MAX_SIZE_MB"])
	backups, _ := strconv.Atoi(env.Vars["JMSSYNC_LOG_BACKUPS"])
	fileOpts := logging.FileOptions{Path: env.Vars["JMSSYNC_LOG_FILE"], MaxSizeMB: maxMB, Backups: backups}
	if cmd == "serve" {
		out, closer, err := logging.Output(stdout, fileOpts)
		if err != nil {
			return app.ExitUsage, err
		}
		defer closer.Close()
		log := logging.New(out, env.Vars["JMSSYNC_LOG_LEVEL"], "jms-sync", logging.WithSecrets(secrets...))
		app.SteerMemory(ctx, cfgs.Process, log)
		if err := app.Serve(ctx, env, cfgs, f.dataDir, log); err != nil {
			return app.ExitFailed, err
		}
		return app.ExitOK, nil
	}

	// once, plan, confirm, prune, adopt, explain: the report on stdout; progress on a
	// terminal, JSON logs otherwise (both on stderr).
	var log zerolog.Logger
	out, closer, err := logging.Output(stderr, fileOpts)
	if err != nil {
		return app.ExitUsage, err
	}
	defer closer.Close()
	if terminal {
		log = logging.New(out, "error", "jms-sync", logging.WithSecrets(secrets...))
	} else {
		log = logging.New(out, env.Vars["JMSSYNC_LOG_LEVEL"], "jms-sync", logging.WithSecrets(secrets...))
	}
	app.SteerMemory(ctx, cfgs.Process, log)
	o := app.CommandOptions{Env: env.Vars, Configs: cfgs, DataDir: f.dataDir, Timeout: f.timeout,
		Progress: cli.NewProgress(stderr, false), Log: log}
	switch cmd {
	case "once":
		res, err := app.Once(ctx, o)
		if errors.Is(err, app.ErrLocked) {
			return app.ExitLocked, err
		}
		if err != nil {
			return app.ExitFailed, err
		}
		res.Print(stdout)
		return res.ExitCode(), nil
	case "plan":
		res, err := app.Plan(ctx, o)
		if err != nil {
			return app.ExitFailed, err
		}
		res.Print(stdout, f.limit)
		return res.ExitCode(), nil
	case "adopt":
		res, err := app.Adopt(ctx, o, f.yes)
		if errors.Is(err, app.ErrLocked) {
			return app.ExitLocked, err
		}
		if err != nil {
			return app.ExitFailed, err
		}
		return report(stdout, res, f.json)
	case "explain":
		res, err := app.Explain(ctx, o, f.args[0])
		if err != nil && !errors.Is(err, app.ErrNothingKnown) {
			return app.ExitFailed, err
		}
		return report(stdout, res, f.json)
	}
	var res *app.CommandResult
	switch cmd {
	case "confirm":
		res, err = app.Confirm(ctx, o, f.args[0])
	default: // prune
		sc, _ := app.ParseScope(f.scope)
		res, err = app.Prune(ctx, o, sc)
	}
	if errors.Is(err, app.ErrLocked) {
		return app.ExitLocked, err
	}
	if err != nil {
		return app.ExitFailed, err
	}
	res.Print(stdout)
	return res.ExitCode(), nil
}

// printable is a command result that prints as text or JSON.
type printable interface {
	Print(io.Writer)
	PrintJSON(io.Writer) error
	ExitCode() int
}

// report prints res (JSON with -json) and returns its exit status.
func report(w io.Writer, res printable, asJSON bool) (int, error) {
	if asJSON {
		if err := res.PrintJSON(w); err != nil {
			return app.ExitFailed, err
		}
	} else {
		res.Print(w)
	}
	return res.ExitCode(), nil
}
