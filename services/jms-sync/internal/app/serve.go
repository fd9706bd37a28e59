package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/ops"
	"github.com/jmssync/jmssync/libs/telemetry"
)

// Serve runs every configured service in this process until ctx ends, on
// the embedded JetStream in dataDir unless JMSSYNC_NATS_URL names a server.
// Ending ctx is a clean stop, also while the services are still starting
// (a step that was cut short reports context.Canceled in its own words).
func Serve(ctx context.Context, env *Environment, cfgs *Configs, dataDir string, log zerolog.Logger) error {
	err := serve(ctx, env, cfgs, dataDir, log)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrLockLost) {
		return nil
	}
	return err
}

func serve(ctx context.Context, env *Environment, cfgs *Configs, dataDir string, log zerolog.Logger) error {
	// JMSSYNC_PPROF=true adds /debug/pprof/ to the ops endpoints.
	pprofOn := false
	if v := env.Vars["JMSSYNC_PPROF"]; v != "" {
		var err error
		if pprofOn, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("JMSSYNC_PPROF=%q: want true or false", v)
		}
	}
	shutdown, err := telemetry.Setup(ctx, "jms-sync", telemetry.Options{Logger: &log})
	if err != nil {
		return err
	}
	defer func() { _ = shutdown(context.WithoutCancel(ctx)) }()
	ext, err := natsConfig(env.Vars)
	if err != nil {
		return err
	}
	bus, err := OpenSharedConfig(ctx, ext, dataDir, false, -1, log)
	if err != nil {
		return err
	}
	defer bus.Close()
	lock, err := waitRunLock(ctx, bus, log)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	defer lock.Release(ctx)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-lock.Lost():
			cancel(ErrLockLost)
		case <-ctx.Done():
		}
	}()
	svcs, err := Build(ctx, cfgs, bus.Bus, log)
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
	go func() {
		opsDone <- ops.ServeListener(ctx, ln, ops.Options{Checks: svcs.Checks(bus.Bus), Logger: log, Pprof: pprofOn})
	}()
	log.Info().Str("ops", ln.Addr().String()).Int("collectors", len(svcs.Collectors)).
		Bool("notifier", svcs.Notifier != nil).Msg("jms-sync serving")
	err = svcs.Run(ctx, log)
	if oerr := <-opsDone; oerr != nil && err == nil {
		err = oerr
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrLockLost) {
		return cause
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// ErrLockLost: another jms-sync took the run lock over (this one could
// not renew it for longer than its TTL); serve stops rather than race it.
var ErrLockLost = errors.New("run lock lost to another jms-sync")

// waitRunLock takes the run lock, waiting while a `once` (or another
// serve) holds it.
func waitRunLock(ctx context.Context, bus *SharedBus, log zerolog.Logger) (*RunLock, error) {
	logged := false
	for {
		lock, err := AcquireRunLock(ctx, bus.JS, "serve", 0, log)
		if err == nil {
			return lock, nil
		}
		if !errors.Is(err, ErrLocked) {
			return nil, err
		}
		if !logged {
			log.Warn().Err(err).Msg("waiting for the run lock")
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
