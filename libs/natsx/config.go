package natsx

import (
	"github.com/jmssync/jmssync/libs/config"
)

// Config is how every service finds NATS, read from the environment
// (NATS_URL, NATS_USER, NATS_PASSWORD[_FILE], NATS_TOKEN[_FILE],
// NATS_CREDS_FILE under the service's prefix). Each service should connect
// as its own NATS user: the bus is a trust boundary. There are no TLS
// settings: a tls:// URL is verified against the system's roots.
type Config struct {
	URL       string        `env:"URL" envDefault:"nats://127.0.0.1:4222"`
	User      string        `env:"USER"`
	Password  config.Secret `env:"PASSWORD"`
	Token     config.Secret `env:"TOKEN"`
	CredsFile string        `env:"CREDS_FILE"`
}

// Validate rejects ambiguous credentials.
func (c Config) Validate() error {
	n := 0
	for _, set := range []bool{c.User != "" || c.Password.IsSet(), c.Token.IsSet(), c.CredsFile != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return config.Invalid("CREDS_FILE", "give one of user/password, token or a creds file")
	}
	if c.Password.IsSet() && c.User == "" {
		return config.Invalid("USER", "a password needs a user")
	}
	return nil
}

// ConnectOptions turns the config into Connect's options for a service
// that must keep running while NATS is away (it retries in the background).
// Set AuthHint (see [Config.AuthHint]) to name the variables in errors.
func (c Config) ConnectOptions(name string) ConnectOptions {
	return ConnectOptions{URL: c.URL, Name: name, User: c.User, Password: c.Password, Token: c.Token,
		CredsFile: c.CredsFile, RetryOnFailedConnect: true}
}

// AuthHint says which variables (under prefix, e.g. "JMSSYNC_NATS_") the
// credentials come from, for an error when the server refuses them. It
// names variables, never their values.
func (c Config) AuthHint(prefix string) string {
	switch {
	case c.User != "" || c.Password.IsSet():
		return "check " + prefix + "USER and " + prefix + "PASSWORD"
	case c.Token.IsSet():
		return "check " + prefix + "TOKEN"
	case c.CredsFile != "":
		return "check " + prefix + "CREDS_FILE"
	}
	return "no credentials are set: set " + prefix + "USER and " + prefix + "PASSWORD, " +
		prefix + "TOKEN or " + prefix + "CREDS_FILE"
}
