package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
	"github.com/jmssync/jmssync/libs/sim/dingtalksim"
	"github.com/jmssync/jmssync/services/applier/applier"
	"github.com/jmssync/jmssync/services/collector-aliyun/aliyuncollector"
	"github.com/jmssync/jmssync/services/collector-huaweicloud/huaweicollector"
	"github.com/jmssync/jmssync/services/jms-sync/internal/app"
	"github.com/jmssync/jmssync/services/notifier/notifier"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

// The users of deploy/nats/nats.conf. Each takes its password from
// NATS_<USER>_PASSWORD (upper case, "-" as "_").
var deployedNATSUsers = []string{
	"collector-aliyun", "collector-huaweicloud", "reconciler", "applier", "notifier",
	"subscriber", "operator", "admin",
}

// deployedNATS is an embedded server running deploy/nats/nats.conf.
type deployedNATS struct {
	URL       string
	passwords map[string]string // by user
}

// startDeployedNATSConf runs an embedded JetStream server configured by the
// real deploy/nats/nats.conf (its users and permissions) on a random
// loopback port, its store in a temporary directory, the users' passwords
// set in the environment as docker-compose sets them. It must not run in
// parallel with other tests (t.Setenv).
func startDeployedNATSConf(t *testing.T) *deployedNATS {
	t.Helper()
	d := &deployedNATS{passwords: map[string]string{}}
	env := map[string]string{}
	for _, u := range deployedNATSUsers {
		pw := "e2e-" + u + "-password"
		d.passwords[u] = pw
		env["NATS_"+strings.ToUpper(strings.ReplaceAll(u, "-", "_"))+"_PASSWORD"] = pw
	}
	d.URL = natstest.StartConfigFile(t, filepath.Join("..", "..", "..", "..", "deploy", "nats", "nats.conf"), env)
	return d
}

// natsConfig is the configuration a service of user gets in docker-compose
// (JMSSYNC_NATS_URL, _USER, _PASSWORD).
func (d *deployedNATS) natsConfig(user string) natsx.Config {
	return natsx.Config{URL: d.URL, User: user, Password: config.Secret(d.passwords[user])}
}

// violations records the permission violations the server reports to the
// connections of a test.
type violations struct {
	mu   sync.Mutex
	list []string
}

var violationSubject = regexp.MustCompile(`(?i)permissions violation for (\w+) to "([^"]*)"`)

// handler is a nats.ErrHandler recording the permission violations of
// user's connection and logging every asynchronous error.
func (v *violations) handler(user string, log zerolog.Logger) nats.ErrHandler {
	return func(_ *nats.Conn, sub *nats.Subscription, err error) {
		if err == nil {
			return
		}
		ev := log.Error().Err(err).Str("nats_user", user)
		if sub != nil {
			ev = ev.Str("subject", sub.Subject)
		}
		ev.Msg("nats async error")
		if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			return
		}
		what := err.Error()
		if m := violationSubject.FindStringSubmatch(what); m != nil {
			what = fmt.Sprintf("%s %q", strings.ToLower(m[1]), m[2])
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		v.list = append(v.list, fmt.Sprintf("user %s: %s", user, what))
	}
}

func (v *violations) all() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.list)
}

// distinct returns the violations once each, in the order first seen,
// with how many times each was reported.
func (v *violations) distinct() []string {
	all := v.all()
	n := map[string]int{}
	var out []string
	for _, s := range all {
		if n[s] == 0 {
			out = append(out, s)
		}
		n[s]++
	}
	for i, s := range out {
		if n[s] > 1 {
			out[i] = fmt.Sprintf("%s (×%d)", s, n[s])
		}
	}
	return out
}

// connectAs connects with c the way every standalone service does
// (svc.Standalone: natsx.Connect, named after the user), with an error
// handler recording permission violations; the connection is closed at
// cleanup.
func connectAs(t *testing.T, ctx context.Context, c natsx.Config, v *violations, log zerolog.Logger) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	user := c.User
	co := c.ConnectOptions(user)
	co.RetryOnFailedConnect = false // fail at once: the test starts after the server
	co.AuthHint = c.AuthHint("JMSSYNC_NATS_")
	nc, err := natsx.Connect(ctx, co, log)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	// Nothing was sent on nc yet: no asynchronous error can be missed.
	nc.SetErrorHandler(v.handler(user, log))
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream as %s: %v", user, err)
	}
	return nc, js
}

// TestDeployedNATSPermissions runs every service on its own NATS
// connection, authenticated as its own user of deploy/nats/nats.conf
// (loaded into an embedded server), as docker-compose runs them: each
// declares the JetStream topology at start, the collectors run as
// standalone replicas (leases and presence), a first cycle at start and a
// second one triggered by the operator user. The sync must end with the
// expected hosts in JumpServer, an applied fact a subscriber reads, a
// DingTalk card, an answered reconciler command, no service failing, and
// not one permission violation on any connection.
func TestDeployedNATSPermissions(t *testing.T) {
	start := time.Now()
	d := startDeployedNATSConf(t)
	var v violations
	// Registered before the connections and the services: it runs after
	// they are stopped and closed, and even when the test failed early.
	t.Cleanup(func() {
		if all := v.all(); len(all) > 0 {
			t.Errorf("%d NATS permission violations (deploy/nats/nats.conf lacks a permission a service uses):\n  %s",
				len(all), strings.Join(v.distinct(), "\n  "))
		}
	})

	// The detector is not blind: a subject outside a user's permissions is
	// reported on its connection.
	t.Run("a violation is detected", func(t *testing.T) {
		var probe violations
		nc, err := nats.Connect(d.URL, nats.UserInfo("subscriber", d.passwords["subscriber"]),
			nats.ErrorHandler(probe.handler("subscriber", zerolog.Nop())))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if err := nc.Publish("jmssync.intent.probe", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		_ = nc.Flush()
		waitFor(t, 5*time.Second, "the subscriber's forbidden publish to be reported", func() bool {
			return len(probe.all()) == 1 && strings.Contains(probe.all()[0], `publish "jmssync.intent.probe"`)
		})
	})

	w := NewWorld(t, WorldOptions{PerRegion: 3, Seed: 53, DingTalk: true})
	env := w.Env()
	cfg, err := app.LoadConfigs(env)
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	if cfg.Aliyun == nil || cfg.Huawei == nil || cfg.Notifier == nil {
		t.Fatal("the configuration does not configure both collectors and the notifier")
	}
	s := &Stack{t: t, W: w, Env: env, Dir: t.TempDir(), Cfg: cfg, Wait: 30 * time.Second,
		log: &logBuffer{}, quiet: 500 * time.Millisecond}
	s.explicit = cfg.Reconciler.Debounce > time.Minute
	log := logging.New(s.log, env["JMSSYNC_LOG_LEVEL"], "jms-sync-e2e-perms")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s.ctx = ctx

	// Each service's own configuration, as docker-compose gives it.
	cfg.Aliyun.NATS = d.natsConfig(aliyuncollector.Service)
	cfg.Huawei.NATS = d.natsConfig(huaweicollector.Service)
	cfg.Reconciler.NATS = d.natsConfig(reconciler.Name)
	cfg.Applier.NATS = d.natsConfig(applier.Name)
	cfg.Notifier.NATS = d.natsConfig(notifier.Name)

	// connect opens a service's connection and declares the topology on
	// it, as svc.Standalone does before building the service.
	connect := func(c natsx.Config) (*nats.Conn, jetstream.JetStream) {
		t.Helper()
		nc, js := connectAs(t, ctx, c, &v, log.With().Str("component", c.User).Logger())
		if err := natsx.EnsureTopology(ctx, js, natsx.TopologyOptions{}); err != nil {
			t.Fatalf("%s declares the topology: %v", c.User, err)
		}
		return nc, js
	}
	svcs := &app.Services{}
	// collectors: standalone replicas (collector.Serve), not the
	// all-in-one's lone runner: they hold leases and presence keys.
	for _, c := range []struct {
		user     string
		provider asset.Provider
		sc       collector.ServiceConfig
		targets  func() ([]collector.Target, error)
	}{
		{aliyuncollector.Service, asset.Aliyun, cfg.Aliyun.ServiceConfig, func() ([]collector.Target, error) { return aliyuncollector.Targets(*cfg.Aliyun) }},
		{huaweicollector.Service, asset.HuaweiCloud, cfg.Huawei.ServiceConfig, func() ([]collector.Target, error) { return huaweicollector.Targets(*cfg.Huawei) }},
	} {
		nc, js := connect(c.sc.NATS)
		targets, err := c.targets()
		if err != nil {
			t.Fatalf("%s targets: %v", c.user, err)
		}
		c.sc.Replica = c.user + "-e2e"
		r, err := c.sc.Runner(js, nc, c.provider, log.With().Str("component", c.user).Logger())
		if err != nil {
			t.Fatalf("%s runner: %v", c.user, err)
		}
		svcs.Collectors = append(svcs.Collectors, &app.CollectorRun{Provider: c.provider, Runner: r, Targets: targets})
	}
	{
		_, js := connect(cfg.Applier.NATS)
		if svcs.Applier, err = applier.New(ctx, cfg.Applier, applier.Deps{JS: js, Logger: log.With().Str("component", applier.Name).Logger()}); err != nil {
			t.Fatalf("applier: %v", err)
		}
	}
	{
		_, js := connect(cfg.Reconciler.NATS)
		if svcs.Reconciler, err = reconciler.New(ctx, cfg.Reconciler, reconciler.Deps{JS: js, Logger: log.With().Str("component", reconciler.Name).Logger()}); err != nil {
			t.Fatalf("reconciler: %v", err)
		}
	}
	{
		_, js := connect(cfg.Notifier.NATS)
		if svcs.Notifier, err = notifier.New(ctx, *cfg.Notifier, notifier.Deps{JS: js, Logger: log.With().Str("component", notifier.Name).Logger()}); err != nil {
			t.Fatalf("notifier: %v", err)
		}
	}
	s.Svcs = svcs

	// The test watches the pipeline as the operator user: it reads
	// streams and buckets and triggers collections, nothing more.
	opNC, opJS := connectAs(t, ctx, d.natsConfig("operator"), &v, log.With().Str("component", "operator").Logger())
	s.Bus = &app.Bus{NC: opNC, JS: opJS}

	before := s.lastSeq(natsx.StreamSnapshots)
	s.done = make(chan error, 1)
	go func() { s.done <- svcs.Run(ctx, log) }()
	s.cancel = cancel // Stop reports an error any service's Run returned
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("last log lines:\n%s", s.log.tail(80))
		}
	})

	// The first cycle, at start.
	s.decided(s.waitPasses(before))
	s.Settle()
	want := s.Expect(nil)
	if len(want) == 0 {
		t.Fatal("the inventory maps to no host: the test assumes some")
	}
	w.CheckHosts(t, want)

	// A second cycle, triggered by the operator (the collectors answer
	// through allow_responses).
	for sc, c := range s.Sync() {
		if c.Status != events.PassComplete {
			t.Fatalf("triggered pass of %s: %s %s", sc, c.Status, c.Reason)
		}
	}
	w.CheckHosts(t, s.Expect(w.Names()))

	t.Run("the operator's plan command is answered", func(t *testing.T) {
		msg, err := opNC.Request(reconciler.SubjectPlan, nil, 20*time.Second)
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		var r reconciler.Reply
		if err := json.Unmarshal(msg.Data, &r); err != nil || !r.OK || r.Plan == nil {
			t.Fatalf("plan reply %s (%v)", msg.Data, err)
		}
	})

	t.Run("a subscriber reads the applied facts", func(t *testing.T) {
		_, js := connectAs(t, ctx, d.natsConfig("subscriber"), &v, log.With().Str("component", "subscriber").Logger())
		cons, err := js.OrderedConsumer(ctx, natsx.StreamAssets, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatalf("ordered consumer on %s: %v", natsx.StreamAssets, err)
		}
		created := map[string]bool{}
		for len(created) < len(want) {
			m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
			if err != nil {
				t.Fatalf("after %d of %d creations: %v", len(created), len(want), err)
			}
			f, err := events.DecodeAs[*events.AppliedFact](m.Data())
			if err != nil {
				t.Fatalf("applied fact on %s: %v", m.Subject(), err)
			}
			if _, ok := want[f.AssetID.String()]; !ok || f.Op != events.Created {
				t.Fatalf("applied fact %s of %s: not the creation of an expected host", f.Op, f.AssetID)
			}
			created[f.AssetID.String()] = true
		}
	})

	t.Run("the notifier sent a DingTalk card", func(t *testing.T) {
		waitFor(t, 20*time.Second, "a DingTalk card", func() bool { return len(w.Ding.Accepted(robotToken)) > 0 })
		cards := w.Ding.Accepted(robotToken)
		if !slices.ContainsFunc(cards, func(m dingtalksim.Message) bool {
			return strings.Contains(m.Title+m.Text, aliAccountName) || strings.Contains(m.Title+m.Text, hwAccountName)
		}) {
			t.Errorf("no card names a cloud account; cards: %+v", cards)
		}
	})

	// Stop everything now (the collectors hand their leases back on the
	// way out) so that a violation on the way out is seen too.
	s.Stop()
	t.Logf("%d hosts synced through deploy/nats/nats.conf's users in %s", len(want), time.Since(start).Round(time.Millisecond))
}
