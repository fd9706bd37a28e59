package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/ops"
	"github.com/jmssync/jmssync/libs/sim/aliyunsim"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/dingtalksim"
	"github.com/jmssync/jmssync/libs/sim/huaweisim"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
	"github.com/jmssync/jmssync/services/jms-sync/internal/cli"
)

// DemoOptions shape the demo.
type DemoOptions struct {
	PerRegion int           // instances per region (2 clouds × 2 regions)
	DataDir   string        // JetStream store ("" = a temporary directory)
	HTTPAddr  string        // ops endpoints ("" = a free loopback port)
	Timeout   time.Duration // give up after this long
	Seed      uint64
	// Progress shows the sync as it goes (on a terminal; nil: silent).
	Progress *cli.Progress
}

// demoSims are the four simulators the demo syncs between.
type demoSims struct {
	jms      *jmssim.Server
	aliyun   *aliyunsim.Server
	huawei   *huaweisim.Server
	dingtalk *dingtalksim.Server
	closers  []func() error
	// The clouds' inventories, for tests that change them.
	aliyunInv, huaweiInv *cloudinv.Inventory
}

const (
	demoAliyunKey, demoAliyunSecret, demoAliyunAccount = "LTAIdemo0001", "demo-aliyun-secret", "1888000000000001"
	demoHuaweiAK, demoHuaweiSK, demoHuaweiDomain       = "HWDEMOAK0001", "demo-huawei-secret-key", "0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a"
	demoRobot, demoRobotSecret                         = "demo-robot-token", "SECdemorobotsecret"
)

func startDemoSims(o DemoOptions) (_ *demoSims, err error) {
	s := &demoSims{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	s.jms = jmssim.New(jmssim.Options{Seed: o.Seed})
	if err := s.listen(s.jms.Listen, s.jms.Close); err != nil {
		return nil, err
	}
	s.aliyunInv = cloudinv.New(cloudinv.Spec{Provider: cloudinv.Aliyun, Seed: o.Seed, Regions: []string{"cn-hangzhou", "cn-beijing"}, PerRegion: o.PerRegion})
	s.aliyun = aliyunsim.New(aliyunsim.Options{
		Inventory: s.aliyunInv,
		Keys:      []cloudinv.Key{{ID: demoAliyunKey, Secret: demoAliyunSecret, Account: demoAliyunAccount}},
	})
	if err := s.listen(s.aliyun.Listen, s.aliyun.Close); err != nil {
		return nil, err
	}
	s.huaweiInv = cloudinv.New(cloudinv.Spec{Provider: cloudinv.Huawei, Seed: o.Seed, Regions: []string{"cn-north-4", "cn-east-3"}, PerRegion: o.PerRegion})
	s.huawei = huaweisim.New(huaweisim.Options{
		Inventory: s.huaweiInv,
		Keys:      []cloudinv.Key{{ID: demoHuaweiAK, Secret: demoHuaweiSK, Account: demoHuaweiDomain}},
	})
	if err := s.listen(s.huawei.Listen, s.huawei.Close); err != nil {
		return nil, err
	}
	s.dingtalk = dingtalksim.New(dingtalksim.Options{Robots: []dingtalksim.Robot{{Token: demoRobot, Name: "jms-sync demo", Secret: demoRobotSecret}}})
	if err := s.listen(s.dingtalk.Listen, s.dingtalk.Close); err != nil {
		return nil, err
	}
	return s, nil
}

// listen starts one simulator on a free loopback port and remembers how to stop it.
func (s *demoSims) listen(listen func(string) error, close func() error) error {
	if err := listen(""); err != nil {
		return err
	}
	s.closers = append(s.closers, close)
	return nil
}

func (s *demoSims) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]()
	}
	s.closers = nil
}

// env is the configuration that aims every service at the simulators,
// exactly as an operator would aim them at the real systems.
func (s *demoSims) env(httpAddr string) map[string]string {
	return map[string]string{
		"JMSSYNC_INSTALL_ID":                          "demo",
		"JMSSYNC_HTTP_ADDR":                           httpAddr,
		"JMSSYNC_LOG_LEVEL":                           "warn",
		"JMSSYNC_JUMPSERVER_URL":                      s.jms.URL,
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_ID":            jmssim.DefaultKeyID,
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_SECRET":        jmssim.DefaultSecret,
		"JMSSYNC_ALIYUN_ENDPOINT":                     s.aliyun.URL,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ID":                "demo-aliyun",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_NAME":              "演示阿里云",
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID":     demoAliyunKey,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET": demoAliyunSecret,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS":           "cn-hangzhou,cn-beijing",
		"JMSSYNC_HUAWEI_ENDPOINT":                     s.huawei.URL,
		"JMSSYNC_HUAWEI_IAM_ENDPOINT":                 s.huawei.URL,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ID":                "demo-huawei",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_NAME":              "演示华为云",
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ACCESS_KEY_ID":     demoHuaweiAK,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_SECRET_ACCESS_KEY": demoHuaweiSK,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_REGIONS":           "cn-north-4,cn-east-3",
		"JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK":           s.dingtalk.WebhookURL(demoRobot),
		"JMSSYNC_DINGTALK_ROBOTS_0_SECRET":            demoRobotSecret,
		"JMSSYNC_INTERVAL":                            "1h",
		"JMSSYNC_JITTER":                              "0s",
		"JMSSYNC_RECONCILE_DEBOUNCE":                  "1s",
		"JMSSYNC_NOTIFY_RUN_TIMEOUT":                  "30s",
	}
}

// DemoResult is what the demo saw at the end.
type DemoResult struct {
	Instances    int
	Hosts        int
	ByNode       map[string]int
	Cards        int
	FirstCard    string
	JumpServer   string
	Elapsed      time.Duration
	StoreDir     string
	FailedPasses int
}

// Demo starts the simulators with a demo inventory, runs the whole
// pipeline on the embedded JetStream, waits until JumpServer holds every
// host and DingTalk got the run's card, and reports.
func Demo(ctx context.Context, o DemoOptions, out io.Writer, log zerolog.Logger) (*DemoResult, error) {
	if o.PerRegion == 0 {
		o.PerRegion = 250
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	started := time.Now()
	sims, err := startDemoSims(o)
	if err != nil {
		return nil, fmt.Errorf("simulators: %w", err)
	}
	defer sims.close()
	dataDir := o.DataDir
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "jms-sync-demo-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dataDir)
	}
	httpAddr := o.HTTPAddr
	if httpAddr == "" {
		httpAddr = "127.0.0.1:0"
	}
	cfgs, err := LoadConfigs(sims.env(httpAddr))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	bus, err := OpenBus(ctx, "", dataDir, log)
	if err != nil {
		return nil, err
	}
	defer bus.Close()
	svcs, err := Build(ctx, cfgs, bus, log)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svcs.Run(runCtx, log) }()
	ln, err := ops.Listen(httpAddr)
	if err != nil {
		stop()
		return nil, err
	}
	go func() { _ = ops.ServeListener(runCtx, ln, ops.Options{Checks: svcs.Checks(bus), Logger: log}) }()

	fmt.Fprintf(out, "jms-sync demo: JumpServer %s, Aliyun %s, Huawei Cloud %s, DingTalk %s\n",
		sims.jms.URL, sims.aliyun.URL, sims.huawei.URL, sims.dingtalk.URL)
	fmt.Fprintf(out, "syncing %d instances (2 clouds x 2 regions x %d); health at http://%s/readyz …\n",
		4*o.PerRegion, o.PerRegion, ln.Addr())

	res, err := waitForDemo(ctx, sims, bus, o.Progress)
	o.Progress.Done()
	stop()
	if rerr := <-done; rerr != nil && err == nil {
		err = rerr
	}
	if res != nil {
		res.Instances = 4 * o.PerRegion
		res.Elapsed = time.Since(started)
		res.StoreDir = dataDir
		res.JumpServer = sims.jms.URL
	}
	return res, err
}

// waitForDemo polls until the hosts stop changing, nothing is left to
// apply, and the notifier delivered at least one run card.
func waitForDemo(ctx context.Context, sims *demoSims, bus *Bus, progress *cli.Progress) (*DemoResult, error) {
	var last, stableSince = -1, time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return demoSummary(sims), fmt.Errorf("demo did not settle: %w", ctx.Err())
		case <-tick.C:
		}
		hosts := sims.jms.AssetCount("root")
		if progress.Enabled() {
			queued, _ := pendingIntents(ctx, bus)
			progress.Update("JumpServer holds %d hosts; %d intents queued; %d DingTalk messages", hosts, queued,
				len(sims.dingtalk.Accepted(demoRobot)))
		}
		if hosts != last {
			last, stableSince = hosts, time.Now()
			continue
		}
		pending, err := pendingIntents(ctx, bus)
		if err != nil || pending > 0 || hosts == 0 || time.Since(stableSince) < 2*time.Second {
			continue
		}
		if len(sims.dingtalk.Accepted(demoRobot)) == 0 {
			continue
		}
		return demoSummary(sims), nil
	}
}

func pendingIntents(ctx context.Context, bus *Bus) (uint64, error) {
	st, err := bus.JS.Stream(ctx, natsx.StreamIntents)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

func demoSummary(sims *demoSims) *DemoResult {
	r := &DemoResult{ByNode: map[string]int{}}
	for _, org := range sims.jms.State().Orgs {
		for _, a := range org.Assets {
			r.Hosts++
			for _, n := range a.Nodes {
				r.ByNode[n]++
			}
		}
	}
	msgs := sims.dingtalk.Accepted(demoRobot)
	r.Cards = len(msgs)
	if len(msgs) > 0 {
		r.FirstCard = msgs[0].Title
	}
	return r
}

// Print writes the demo's summary for a person.
func (r *DemoResult) Print(w io.Writer) {
	fmt.Fprintf(w, "\nsynced %d cloud instances into JumpServer %s in %s\n", r.Instances, r.JumpServer, r.Elapsed.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  JumpServer now holds %d hosts:\n", r.Hosts)
	nodes := make([]string, 0, len(r.ByNode))
	for n := range r.ByNode {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		fmt.Fprintf(w, "    %-40s %d\n", n, r.ByNode[n])
	}
	if skipped := r.Instances - r.Hosts; skipped > 0 {
		fmt.Fprintf(w, "  %d instances were listed but not mapped (no usable address, or starting/stopping): kept out of JumpServer, never deleted\n", skipped)
	}
	fmt.Fprintf(w, "  DingTalk received %d message(s)", r.Cards)
	if r.FirstCard != "" {
		fmt.Fprintf(w, ", the first: %q", strings.TrimSpace(r.FirstCard))
	}
	fmt.Fprintln(w)
}
