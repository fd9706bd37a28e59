// Command notifier closes jms-sync runs and sends their DingTalk cards and
// alerts. Configuration comes from JMSSYNC_* environment variables (see
// notifier.Config).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/services/notifier/notifier"
)

func main() {
	cfg, err := config.Load[notifier.Config](config.WithPrefix("JMSSYNC_"))
	if err != nil {
		fmt.Fprintln(os.Stderr, notifier.Name+": configuration:", err)
		os.Exit(2)
	}
	logging.RegisterSecrets(config.SecretValues(&cfg)...)
	log := logging.New(os.Stdout, cfg.LogLevel, notifier.Name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := notifier.Run(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg("notifier stopped")
		os.Exit(1)
	}
}
