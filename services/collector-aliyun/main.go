// Command collector-aliyun lists Alibaba Cloud ECS instances of the
// configured accounts and regions and publishes them as passes on NATS
// JetStream. Configuration comes from JMSSYNC_* environment variables.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/services/collector-aliyun/aliyuncollector"
)

func main() {
	cfg, err := config.Load[aliyuncollector.Config](config.WithPrefix("JMSSYNC_"))
	if err != nil {
		fmt.Fprintln(os.Stderr, aliyuncollector.Service+": configuration:", err)
		os.Exit(2)
	}
	log := logging.New(os.Stdout, cfg.LogLevel, aliyuncollector.Service, logging.WithSecrets(config.SecretValues(&cfg)...))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := aliyuncollector.Run(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg("collector stopped")
		os.Exit(1)
	}
}
