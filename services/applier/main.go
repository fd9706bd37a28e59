// Command applier applies jms-sync intents to JumpServer: the only
// component that writes there. Configuration comes from JMSSYNC_*
// environment variables (see applier.Config).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/services/applier/applier"
)

func main() {
	cfg, err := config.Load[applier.Config](config.WithPrefix("JMSSYNC_"))
	if err != nil {
		fmt.Fprintln(os.Stderr, applier.Name+": configuration:", err)
		os.Exit(2)
	}
	logging.RegisterSecrets(config.SecretValues(&cfg)...)
	log := logging.New(os.Stdout, cfg.LogLevel, applier.Name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := applier.Run(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg("applier stopped")
		os.Exit(1)
	}
}
