package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/natsx"
)

// Files in the data directory next to the JetStream store:
//
//	jms-sync.pid  locked (flock) by the process running the embedded server
//	nats.url      that server's client URL, so the other commands of the
//	              same machine (once, confirm, prune, plan) reach it instead
//	              of opening the store a second time
const (
	storeLockFile = "jms-sync.pid"
	urlFile       = "nats.url"
)

// ErrStoreBusy: another process runs the embedded server on the data
// directory and did not publish its address (a short-lived `plan` read),
// or a command may not attach to it.
var ErrStoreBusy = errors.New("the data directory is in use by another jms-sync process")

// errLocked is lockFile's answer when another process holds the lock.
var errLocked = errors.New("locked by another process")

// SharedBus is the bus of the operator commands: the external server
// (JMSSYNC_NATS_URL), the embedded server a running jms-sync already serves
// from the data directory, or an embedded server of our own on it.
type SharedBus struct {
	*Bus
	// Attached is the URL of another process's embedded server we connected
	// to ("" when the server is ours or external).
	Attached string
	release  func()
}

// OpenShared opens the bus for a command. The data directory's store is
// opened by at most one process (a file lock). With attach, a process that
// finds it locked connects to the address the owner published instead
// (once, confirm, prune beside serve); without, it waits for the lock
// (serve must own the server it runs on: an attached process loses its
// server when the owner exits). It waits up to wait (forever when
// negative). The owner publishes its server's address.
//
// OpenShared takes no credentials (tests, the embedded server); the
// commands use OpenSharedConfig.
func OpenShared(ctx context.Context, url, dataDir string, attach bool, wait time.Duration, log zerolog.Logger) (*SharedBus, error) {
	return OpenSharedConfig(ctx, natsx.Config{URL: url}, dataDir, attach, wait, log)
}

// OpenSharedConfig is OpenShared on the external server ext (with its
// credentials: see natsConfig) when ext.URL is set.
func OpenSharedConfig(ctx context.Context, ext natsx.Config, dataDir string, attach bool, wait time.Duration, log zerolog.Logger) (*SharedBus, error) {
	if ext.URL != "" {
		b, err := OpenBusConfig(ctx, ext, dataDir, log)
		if err != nil {
			return nil, err
		}
		return &SharedBus{Bus: b, release: func() {}}, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	deadline := time.Now().Add(wait)
	logged := false
	for {
		unlock, err := lockFile(filepath.Join(dataDir, storeLockFile))
		if err == nil {
			return ownStore(ctx, dataDir, unlock, log)
		}
		if !errors.Is(err, errLocked) {
			return nil, err
		}
		if !attach && !logged {
			log.Warn().Str("data", dataDir).Msg("another jms-sync process uses the data directory; waiting for it to finish")
			logged = true
		}
		if u := readURL(dataDir); attach && u != "" {
			b, err := OpenBus(ctx, u, dataDir, log)
			if err == nil {
				log.Info().Str("nats", u).Msg("attached to the embedded JetStream of the running jms-sync")
				return &SharedBus{Bus: b, Attached: u, release: func() {}}, nil
			}
			log.Debug().Err(err).Str("nats", u).Msg("published address not reachable yet")
		}
		if wait >= 0 && time.Now().After(deadline) {
			return nil, fmt.Errorf("%w (%s)", ErrStoreBusy, dataDir)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func ownStore(ctx context.Context, dataDir string, unlock func(), log zerolog.Logger) (*SharedBus, error) {
	b, err := OpenBus(ctx, "", dataDir, log)
	if err != nil {
		unlock()
		return nil, err
	}
	urlPath := filepath.Join(dataDir, urlFile)
	sb := &SharedBus{Bus: b}
	if err := writeFileAtomic(urlPath, []byte(b.embedded.URL()+"\n")); err != nil {
		b.Close()
		unlock()
		return nil, fmt.Errorf("publish the server address: %w", err)
	}
	sb.release = func() { _ = os.Remove(urlPath); unlock() }
	return sb, nil
}

// Close closes the connection, stops our embedded server if any and frees
// the data directory.
func (b *SharedBus) Close() {
	if b == nil {
		return
	}
	b.Bus.Close()
	if b.release != nil {
		b.release()
		b.release = nil
	}
}

func readURL(dataDir string) string {
	data, err := os.ReadFile(filepath.Join(dataDir, urlFile))
	if err != nil {
		return ""
	}
	u := strings.TrimSpace(string(data))
	if !strings.HasPrefix(u, "nats://") {
		return ""
	}
	return u
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// natsEnvPrefix is the prefix of the NATS variables, the same for the
// all-in-one and every standalone service (natsx.Config under JMSSYNC_).
const natsEnvPrefix = "JMSSYNC_NATS_"

// natsConfig is the external NATS server of the all-in-one: JMSSYNC_NATS_URL
// with the credentials every standalone service reads (JMSSYNC_NATS_USER
// and _PASSWORD, _TOKEN, _CREDS_FILE, the secrets also as _FILE), loaded
// and validated the same way. Its URL is "" (the embedded server, which
// needs no credentials) when JMSSYNC_NATS_URL is not set.
func natsConfig(vars map[string]string) (natsx.Config, error) {
	url := strings.TrimSpace(vars[natsEnvPrefix+"URL"])
	if url == "" {
		return natsx.Config{}, nil
	}
	c, err := config.Load[natsx.Config](config.WithPrefix(natsEnvPrefix), config.WithEnvironment(vars))
	if err != nil {
		return natsx.Config{}, fmt.Errorf("nats: %w", err)
	}
	c.URL = url
	return c, nil
}

// connectNATS dials c (failing at once rather than retrying: a command
// reports it) with its credentials; an authorization error names the
// variables they come from. timeout bounds each dial (natsx's default
// when 0).
func connectNATS(ctx context.Context, c natsx.Config, name string, timeout time.Duration, log zerolog.Logger) (*nats.Conn, error) {
	o := c.ConnectOptions(name)
	o.RetryOnFailedConnect = false
	o.Timeout = timeout
	o.AuthHint = c.AuthHint(natsEnvPrefix)
	return natsx.Connect(ctx, o, log)
}
