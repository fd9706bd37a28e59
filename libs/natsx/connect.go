package natsx

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/config"
)

// ConnectOptions describes a connection. Set at most one of User/Password,
// Token and CredsFile.
type ConnectOptions struct {
	URL       string // one or more server URLs, comma-separated
	Name      string // client name shown by the server (the service name)
	User      string
	Password  config.Secret
	Token     config.Secret
	CredsFile string // decentralised auth: .creds file (user JWT + seed)

	// ReconnectWait between attempts (2s when 0; the client adds jitter).
	ReconnectWait time.Duration
	// Timeout of each dial (5s when 0).
	Timeout time.Duration
	// RetryOnFailedConnect returns a connection even if no server is up yet
	// and keeps dialling in the background (a service starting before NATS).
	RetryOnFailedConnect bool
	// AuthHint is added to an error (and a log line) saying the server
	// refused the credentials: which variables hold them ([Config.AuthHint]).
	// Never a secret.
	AuthHint string
}

// IsAuthError reports whether err is the server refusing the connection's
// credentials (or its lack of them).
func IsAuthError(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired)
}

// Connect dials NATS and keeps reconnecting forever. Disconnects, reconnects,
// closure and asynchronous errors (permission violations, slow consumers)
// are logged with the redacted server URL; credentials never appear. ctx
// only guards the start: the dial itself is bounded by Timeout.
func Connect(ctx context.Context, o ConnectOptions, log zerolog.Logger) (*nats.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.URL == "" {
		o.URL = nats.DefaultURL
	}
	if o.ReconnectWait <= 0 {
		o.ReconnectWait = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	auth := 0
	for _, set := range []bool{o.User != "" || o.Password.IsSet(), o.Token.IsSet(), o.CredsFile != ""} {
		if set {
			auth++
		}
	}
	if auth > 1 {
		return nil, errors.New("natsx: set only one of user/password, token and creds file")
	}

	log = log.With().Str("component", "nats").Str("nats_name", o.Name).Logger()
	withHint := func(ev *zerolog.Event, err error) *zerolog.Event {
		if o.AuthHint != "" && IsAuthError(err) {
			ev = ev.Str("hint", o.AuthHint)
		}
		return ev
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(o.ReconnectWait),
		nats.Timeout(o.Timeout),
		nats.RetryOnFailedConnect(o.RetryOnFailedConnect),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("nats connected")
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			// A disconnect without an error is our own drain or close.
			ev := log.Debug()
			if err != nil {
				ev = log.Warn().Err(err)
			}
			ev.Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("server", nc.ConnectedUrlRedacted()).Uint64("reconnects", nc.Stats().Reconnects).Msg("nats reconnected")
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			ev := log.Info()
			if err := nc.LastError(); err != nil {
				ev = withHint(log.Warn().Err(err), err)
			}
			ev.Msg("nats connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := withHint(log.Error().Err(err), err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("nats async error")
		}),
	}
	switch {
	case o.User != "" || o.Password.IsSet():
		opts = append(opts, nats.UserInfo(o.User, o.Password.Reveal()))
	case o.Token.IsSet():
		opts = append(opts, nats.Token(o.Token.Reveal()))
	case o.CredsFile != "":
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		if o.AuthHint != "" && IsAuthError(err) {
			return nil, fmt.Errorf("nats connect %s: %w (%s)", redactURLs(o.URL), err, o.AuthHint)
		}
		return nil, fmt.Errorf("nats connect %s: %w", redactURLs(o.URL), err)
	}
	return nc, nil
}

// MaxPayload returns the largest message (payload + headers) the connected
// server accepts: chunk snapshots and size batches below it.
func MaxPayload(nc *nats.Conn) int64 { return nc.MaxPayload() }

// redactURLs drops user info from a comma-separated URL list.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "[unparsable url]"
			continue
		}
		if u.User != nil {
			u.User = url.User(config.Redacted)
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
