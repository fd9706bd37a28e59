package app

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/ops"
	"github.com/jmssync/jmssync/libs/telemetry"
)

// Serve runs every configured service in this process until ctx ends, on
// the embedded JetStream in dataDir unless JMSSYNC_NATS_URL names a server.
func Serve(ctx context.Context, env *Environment, cfgs *Configs, dataDir string, log zerolog.Logger) error {
	shutdown, err := telemetry.Setup(ctx, "jms-sync", telemetry.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = shutdown(context.WithoutCancel(ctx)) }()
	bus, err := OpenBus(ctx, env.Vars["JMSSYNC_NATS_URL"], dataDir, log)
	if err != nil {
		return err
	}
	defer bus.Close()
	svcs, err := Build(ctx, cfgs, bus, log)
	if err != nil {
		return err
	}
	addr := env.Vars["JMSSYNC_HTTP_ADDR"]
	if addr == "" {
		addr = "127.0.0.1:9464"
	}
	ln, err := ops.Listen(addr)
	if err != nil {
		return err
	}
	opsDone := make(chan error, 1)
	go func() { opsDone <- ops.ServeListener(ctx, ln, ops.Options{Checks: svcs.Checks(bus), Logger: log}) }()
	log.Info().Str("ops", ln.Addr().String()).Int("collectors", len(svcs.Collectors)).
		Bool("notifier", svcs.Notifier != nil).Msg("jms-sync serving")
	err = svcs.Run(ctx, log)
	if oerr := <-opsDone; oerr != nil && err == nil {
		err = oerr
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
