// Command reconciler verifies the collectors' passes and decides, for every
// configured scope, the intents that bring JumpServer in step. Configuration
// comes from JMSSYNC_* environment variables (see reconciler.Config).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

func main() {
	cfg, err := config.Load[reconciler.Config](config.WithPrefix("JMSSYNC_"))
	if err != nil {
		fmt.Fprintln(os.Stderr, reconciler.Name+": configuration:", err)
		os.Exit(2)
	}
	logging.RegisterSecrets(config.SecretValues(&cfg)...)
	log := logging.New(os.Stdout, cfg.LogLevel, reconciler.Name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := reconciler.Run(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg("reconciler stopped")
		os.Exit(1)
	}
}
