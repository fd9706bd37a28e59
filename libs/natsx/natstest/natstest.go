// Package natstest runs a real, embedded NATS server with JetStream for tests:
// one per test, on a random port, with its store in t.TempDir(), shut down by
// t.Cleanup. Only _test.go files should import it, so no binary links the
// server.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsserver "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Credentials of the unrestricted user added by [WithUsers]; [Connect] uses
// them when users are configured.
const (
	AdminUser     = "admin"
	AdminPassword = "admin-test-password"
)

// User is a NATS user for permission tests. A nil Publish or Subscribe list
// allows everything in that direction.
type User struct {
	Name      string
	Password  string
	Publish   []string // subjects the user may publish to
	Subscribe []string // subjects the user may subscribe to
}

// Option changes the server options before it starts.
type Option func(*config)

type config struct {
	opts  server.Options
	users []User
}

// WithUsers requires user/password authentication with these users (and
// AdminUser, unrestricted), each limited to its allow lists: the bus is a
// trust boundary and tests prove it.
func WithUsers(users ...User) Option {
	return func(c *config) { c.users = append(c.users, users...) }
}

// WithToken requires token authentication.
func WithToken(token string) Option {
	return func(c *config) { c.opts.Authorization = token }
}

// WithPort listens on port instead of a random one (a test that starts
// the server after its client).
func WithPort(port int) Option {
	return func(c *config) { c.opts.Port = port }
}

// WithMaxPayload sets the server's max_payload (default 1 MiB).
func WithMaxPayload(n int32) Option {
	return func(c *config) { c.opts.MaxPayload = n }
}

// Start runs a JetStream-enabled server for this test and returns it with its
// client URL.
func Start(t testing.TB, opts ...Option) (*server.Server, string) {
	t.Helper()
	s, _ := start(t, opts)
	return s, s.ClientURL()
}

func start(t testing.TB, opts []Option) (*server.Server, config) {
	t.Helper()
	c := config{opts: natsserver.DefaultTestOptions} // a copy: never take the global's address
	c.opts.Port = -1
	c.opts.JetStream = true
	c.opts.StoreDir = t.TempDir()
	for _, o := range opts {
		o(&c)
	}
	if len(c.users) > 0 {
		c.opts.Users = append(c.opts.Users, &server.User{Username: AdminUser, Password: AdminPassword})
		for _, u := range c.users {
			p := &server.Permissions{}
			if u.Publish != nil {
				p.Publish = &server.SubjectPermission{Allow: u.Publish}
			}
			if u.Subscribe != nil {
				p.Subscribe = &server.SubjectPermission{Allow: u.Subscribe}
			}
			c.opts.Users = append(c.opts.Users, &server.User{Username: u.Name, Password: u.Password, Permissions: p})
		}
	}
	return run(t, &c.opts, "new server"), c
}

// run starts a server with opts, shut down by t.Cleanup, and waits until
// it takes connections.
func run(t testing.TB, opts *server.Options, what string) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: %s: %v", what, err)
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("natstest: server not ready for connections")
	}
	return s
}

// Connect starts a server (see [Start]) and returns a client connection and
// its JetStream context. With [WithUsers] it connects as AdminUser.
func Connect(t testing.TB, opts ...Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	s, c := start(t, opts)
	var nopts []nats.Option
	if len(c.users) > 0 {
		nopts = append(nopts, nats.UserInfo(AdminUser, AdminPassword))
	}
	return Dial(t, s.ClientURL(), nopts...)
}

// Dial connects to url (closed by t.Cleanup) and returns the connection and
// its JetStream context.
func Dial(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("natstest: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}

// StartConfigFile runs an embedded JetStream server configured by the NATS
// configuration file at path (its users and permissions: the deployed
// deploy/nats/nats.conf in permission tests), on a random loopback port
// without monitoring, its store in t.TempDir(). env is set first with
// t.Setenv, for the variables the file reads (passwords), so the test may
// not run in parallel. It returns the client URL.
func StartConfigFile(t testing.TB, path string, env map[string]string) string {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("natstest: %s: %v", path, err)
	}
	if len(opts.Users) == 0 {
		t.Fatalf("natstest: %s defines no users", path)
	}
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.HTTPHost, opts.HTTPPort = "", 0
	opts.StoreDir = t.TempDir()
	opts.NoLog, opts.NoSigs = true, true
	return run(t, opts, "server from "+path).ClientURL()
}
