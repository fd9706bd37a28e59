package svc

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/logging"
)

// EnvPrefix is the prefix of every service's environment variables.
const EnvPrefix = "JMSSYNC_"

// Exit codes of [Main].
const (
	ExitRun    = 1 // the service stopped with an error
	ExitConfig = 2 // the configuration does not load
)

// Config is what Main needs of a service's configuration besides loading it.
type Config interface {
	// LogLevelName is the configured log level ("info" when empty).
	LogLevelName() string
}

// Main is a service's main: it loads C from JMSSYNC_* environment variables
// (see config.Load), masks its secrets in every log, logs JSON to stdout at
// C's level, and runs run until SIGINT or SIGTERM. It exits 2 when the
// configuration does not load (the problems go to stderr), 1 when run
// returns an error (logged as "<name> stopped"), and 0 otherwise.
func Main[C Config](name string, run func(context.Context, C, zerolog.Logger) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitCode(ctx, name, run, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitCode is Main without the process: it returns the exit code. opts come
// after the prefix (tests pass config.WithEnvironment).
func exitCode[C Config](ctx context.Context, name string, run func(context.Context, C, zerolog.Logger) error,
	stdout, stderr io.Writer, opts ...config.Option) int {
	cfg, err := config.Load[C](append([]config.Option{config.WithPrefix(EnvPrefix)}, opts...)...)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, name+": configuration:", err)
		return ExitConfig
	}
	logging.RegisterSecrets(config.SecretValues(&cfg)...)
	log := logging.New(stdout, cfg.LogLevelName(), name)
	if err := run(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg(name + " stopped")
		return ExitRun
	}
	return 0
}
