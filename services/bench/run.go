package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/natsx/natsembed"
	"github.com/jmssync/jmssync/libs/sim/aliyunsim"
	"github.com/jmssync/jmssync/libs/sim/huaweisim"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

const (
	defaultOrgID = "00000000-0000-0000-0000-000000000002"
	dingToken    = "bench-robot"
	dingSecret   = "SECbenchrobot"
	scopeCount   = 4 // 2 clouds × 2 regions
)

var (
	aliyunRegions = []string{"cn-hangzhou", "cn-beijing"}
	huaweiRegions = []string{"cn-north-4", "cn-east-3"}
)

// run is the whole benchmark; the Result is returned even on failure, with
// whatever was measured.
func run(ctx context.Context, cfg config, logw io.Writer) (*Result, error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(logw, "%s bench: "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	}
	root, err := workspaceRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "jms-sync-bench-")
	if err != nil {
		return nil, err
	}
	keep := os.Getenv("BENCH_KEEP") == "1" // keep the processes' logs
	if keep {
		logf("logs kept in %s", tmp)
	}
	defer func() {
		if !keep {
			_ = os.RemoveAll(tmp)
		}
	}()
	res := newResult(cfg, root)
	res.LoadAvgStart = loadAvg()

	logf("building sim and jms-sync into %s", tmp)
	simBin, jmsBin, err := buildBinaries(root, filepath.Join(tmp, "bin"))
	if err != nil {
		return nil, err
	}

	// Simulators.
	var ports [5]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	jmsAddr, aliAddr, hwAddr, dingAddr := addr(ports[0]), addr(ports[1]), addr(ports[2]), addr(ports[3])
	httpAddr := addr(ports[4])
	simArgs := []string{
		"-jumpserver-addr", jmsAddr, "-aliyun-addr", aliAddr, "-huawei-addr", hwAddr, "-dingtalk-addr", dingAddr,
		"-seed", strconv.FormatUint(cfg.Seed, 10), "-per-region", strconv.Itoa(cfg.perRegion()),
		"-aliyun-regions", strings.Join(aliyunRegions, ","), "-huawei-regions", strings.Join(huaweiRegions, ","),
		"-jms-licensed", "-jms-latency", cfg.Latency.String(), "-jms-per-item", cfg.Item.String(),
		"-jms-workers", strconv.Itoa(cfg.Workers), "-cloud-latency", cfg.CloudLatency.String(),
		"-dingtalk-token", dingToken, "-dingtalk-secret", dingSecret, "-dingtalk-rate", "100000",
	}
	res.SimArgs = simArgs
	logf("starting sim: %d instances (%d per region), JumpServer %s + %s/item, %d workers, clouds %s",
		4*cfg.perRegion(), cfg.perRegion(), cfg.Latency, cfg.Item, cfg.Workers, cfg.CloudLatency)
	sim, err := startProc("sim", simBin, simArgs, baseEnv(), filepath.Join(tmp, "sim.log"))
	if err != nil {
		return nil, err
	}
	defer sim.stop(5 * time.Second)
	sc := &simClient{hc: &http.Client{Timeout: 2 * time.Minute}, jms: "http://" + jmsAddr, aliyun: "http://" + aliAddr, huawei: "http://" + hwAddr}
	if err := sc.waitReady(ctx, 30*time.Second); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, sim.tail(20))
	}

	setup := benchSetup{Install: "bench", OrgID: defaultOrgID, RootNode: "DEFAULT",
		AliyunAccount: "bench-aliyun", AliyunName: "Bench Aliyun", HuaweiAccount: "bench-huawei", HuaweiName: "Bench Huawei"}
	inv0, err := sc.instances(ctx)
	if err != nil {
		return nil, err
	}
	exp0 := setup.expect(inv0)
	res.Instances, res.ExpectedHosts, res.Skipped = exp0.Total, len(exp0.Hosts), exp0.Skipped
	res.Floor = ComputeFloor(cfg.N, cfg.perRegion(), len(exp0.Hosts), cfg.Workers, cfg.Latency, cfg.Item, cfg.CloudLatency)
	logf("inventory: %d instances, %d expected hosts (skipped %v); floor %.2fs", exp0.Total, len(exp0.Hosts), exp0.Skipped, res.Floor.Seconds)

	// NATS.
	natsURL := ""
	if cfg.NATS == "harness" {
		ns, err := natsembed.Start(natsembed.Options{DataDir: filepath.Join(tmp, "nats")})
		if err != nil {
			return nil, err
		}
		defer ns.Shutdown()
		natsURL = ns.URL()
	}

	// jms-sync.
	env := jmsEnv(cfg, setup, sc, httpAddr, "http://"+dingAddr, natsURL)
	res.JMSSyncEnv = redactEnv(env)
	if err := sc.jmsResetCounters(ctx); err != nil {
		return nil, err
	}
	cloudBase, err := sc.cloudCounters(ctx)
	if err != nil {
		return nil, err
	}
	logf("starting jms-sync serve (NATS: %s)", cfg.NATS)
	t0 := time.Now()
	jms, err := startProc("jms-sync", jmsBin, []string{"serve", "-data", filepath.Join(tmp, "data")}, env, filepath.Join(tmp, "jms-sync.log"))
	if err != nil {
		return nil, err
	}
	defer jms.stop(10 * time.Second)
	fail := func(err error) (*Result, error) {
		keep = true
		if st, serr := readProcStats(jms.pid()); serr == nil {
			res.Resources.PeakRSSMB = kbToMB(st.HWMKB)
			res.Resources.CPUSeconds = st.CPUSecs
		}
		return res, fmt.Errorf("%w\n(logs kept in %s)\n--- jms-sync log tail ---\n%s", err, tmp, jms.tail(30))
	}
	if natsURL == "" {
		if natsURL, err = findEmbeddedNATS(ctx, jms, ports[4]); err != nil {
			return fail(err)
		}
		logf("jms-sync's embedded NATS is at %s", natsURL)
	}
	nc, err := nats.Connect(natsURL, nats.Name("jms-sync-bench"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return fail(err)
	}
	defer nc.Close()
	tr, err := newTracker(nc)
	if err != nil {
		return fail(err)
	}
	mon := monitor(ctx, jms)
	defer mon.stop()
	var profiles sync.WaitGroup
	defer profiles.Wait()
	if cfg.Profile != "" {
		profiles.Go(func() {
			saveProfile(ctx, logf, httpAddr, fmt.Sprintf("profile?seconds=%d", cfg.ProfileSeconds), cfg.Profile+"-cpu.pprof")
		})
	}

	// 1. Cold sync: started by the collectors' first cycle (at once: the
	// all-in-one's collectors wait for no peer), no trigger.
	logf("cold sync: waiting for %d hosts", len(exp0.Hosts))
	if err := waitAssets(ctx, sc, jms, len(exp0.Hosts), cfg.Timeout); err != nil {
		return fail(fmt.Errorf("cold sync: %w; %s", err, tr.describe(t0)))
	}
	cyc, err := tr.waitCycle(ctx, t0, scopeCount, cfg.Timeout)
	if err != nil {
		return fail(fmt.Errorf("cold sync: %w", err))
	}
	if err := waitQuiet(ctx, sc, time.Second, time.Minute); err != nil {
		return fail(err)
	}
	st0, err := sc.jmsState(ctx)
	if err != nil {
		return fail(err)
	}
	v0 := verify(st0, exp0, nil, false)
	res.ColdVerification = v0
	if !v0.OK {
		logf("cold sync verification FAILED: %v", v0.Problems)
	}
	ct, err := sc.jmsCounters(ctx)
	if err != nil {
		return fail(err)
	}
	cloud, err := sc.cloudCounters(ctx)
	if err != nil {
		return fail(err)
	}
	ps, _ := readProcStats(jms.pid())
	res.Cold = coldResult(t0, st0, exp0, cyc, ct, cloud.sub(cloudBase), ps)
	if cfg.Profile != "" {
		saveProfile(ctx, logf, httpAddr, "heap", cfg.Profile+"-heap.pprof")
	}
	res.Cold.Ratio = res.Cold.WallSeconds / res.Floor.Seconds
	res.Cold.Timeline, _ = sc.jmsTimeline(ctx, t0)
	logf("cold sync: %.2fs (floor %.2fs, ×%.2f), JumpServer %s, cloud calls %d",
		res.Cold.WallSeconds, res.Floor.Seconds, res.Cold.Ratio, res.Cold.JumpServer.methods(), res.Cold.CloudCalls.Total)

	// 2. Steady cycle: nothing changed.
	phase := func(name string) (func() (phaseResult, error), error) {
		if err := sc.jmsResetCounters(ctx); err != nil {
			return nil, err
		}
		cb, err := sc.cloudCounters(ctx)
		if err != nil {
			return nil, err
		}
		p0, _ := readProcStats(jms.pid())
		start := time.Now()
		if err := tr.trigger(ctx); err != nil {
			return nil, err
		}
		return func() (phaseResult, error) {
			c, err := tr.waitCycle(ctx, start, scopeCount, cfg.Timeout)
			if err != nil {
				return phaseResult{}, fmt.Errorf("%s: %w", name, err)
			}
			if err := waitQuiet(ctx, sc, time.Second, time.Minute); err != nil {
				return phaseResult{}, err
			}
			ct, err := sc.jmsCounters(ctx)
			if err != nil {
				return phaseResult{}, err
			}
			cl, err := sc.cloudCounters(ctx)
			if err != nil {
				return phaseResult{}, err
			}
			p1, _ := readProcStats(jms.pid())
			return phaseResult{Trigger: start, Cycle: c, WallSeconds: c.RunsClosed.Sub(start).Seconds(),
				ListSeconds: c.PassesDone.Sub(start).Seconds(), JumpServer: summarizeRequests(ct), Counters: ct,
				CloudCalls: cl.sub(cb), CPUSeconds: p1.CPUSecs - p0.CPUSecs}, nil
		}, nil
	}
	logf("steady cycle: trigger")
	wait, err := phase("steady cycle")
	if err != nil {
		return fail(err)
	}
	steady, err := wait()
	if err != nil {
		return fail(err)
	}
	res.Steady = steadyResult(steady)
	logf("steady cycle: %.2fs, JumpServer %s (writes %d), cloud calls %d",
		res.Steady.WallSeconds, res.Steady.JumpServer.methods(), res.Steady.JumpServer.Writes, res.Steady.CloudCalls.Total)

	// 3. Churn.
	k := max(int(cfg.Churn*float64(cfg.N)+0.5), 1)
	if cfg.Churn == 0 {
		k = 0
	}
	logf("churn: %d each added, renamed, re-IP'd, released", k)
	changes, err := makeChurn(ctx, sc, setup, inv0, exp0, assetsByID(st0), k, cfg.Seed)
	if err != nil {
		return fail(fmt.Errorf("churn: %w", err))
	}
	inv1, err := sc.instances(ctx)
	if err != nil {
		return fail(err)
	}
	exp1 := setup.expect(inv1)
	released := map[string]bool{}
	for _, c := range changes {
		if c.Kind == "release" {
			released[c.AssetID] = true
		}
		if h, ok := exp1.Hosts[c.AssetID]; ok && c.Kind == "rename" {
			// Names are sticky by design (reconciler/internal/plan,
			// e2e "rename keeps the sticky name"): a console rename
			// must not rename the asset.
			h.StickyName = c.OldName
			exp1.Hosts[c.AssetID] = h
		}
		if c.Kind == "add" {
			if _, ok := exp1.Hosts[c.AssetID]; !ok {
				c.NotExpected = true // the generated instance has no address or is not settled
			}
		}
	}
	wait, err = phase("churn cycle 1")
	if err != nil {
		return fail(err)
	}
	churn1, err := wait()
	if err != nil {
		return fail(err)
	}
	st1, err := sc.jmsState(ctx)
	if err != nil {
		return fail(err)
	}
	churnTimeline, _ := sc.jmsTimeline(ctx, churn1.Trigger)
	logf("churn cycle 1: %.2fs; second cycle for the releases (absent from 2 passes)", churn1.WallSeconds)
	wait, err = phase("churn cycle 2")
	if err != nil {
		return fail(err)
	}
	churn2, err := wait()
	if err != nil {
		return fail(err)
	}
	st2, err := sc.jmsState(ctx)
	if err != nil {
		return fail(err)
	}
	res.Churn = churnResult(changes, st1, st2, churn1, churn2)
	res.Churn.Timeline1 = churnTimeline
	logf("churn: p50 %.3fs, p99 %.3fs over %d changes (%d not written)", res.Churn.P50, res.Churn.P99, res.Churn.Measured, res.Churn.NotWritten)

	// 4. Final check and resources.
	final := verify(st2, exp1, released, true)
	res.Verification = final
	if !v0.OK {
		res.Verification.OK = false
		res.Verification.Problems = append([]string{"cold sync state was wrong (see cold_verification)"}, res.Verification.Problems...)
	}
	fin, err := readProcStats(jms.pid())
	if err != nil {
		return fail(err)
	}
	mon.stop()
	res.Resources = resources{PeakRSSMB: kbToMB(fin.HWMKB), FinalRSSMB: kbToMB(fin.RSSKB), CPUSeconds: fin.CPUSecs,
		ColdCPUSeconds: res.Cold.CPUSeconds, Threads: fin.Threads, NATSInProcess: cfg.NATS == "embedded", Samples: mon.samples()}
	res.Background = backgroundOf(ct)
	res.BackgroundSteady = backgroundOf(steady.Counters)
	res.BackgroundChurn = sumBackground(backgroundOf(churn1.Counters), backgroundOf(churn2.Counters))
	res.Applied, res.DeadLetters, res.Alerts = tr.snapshot()
	res.Targets = evaluateTargets(res, cfg)
	res.LoadAvgEnd = loadAvg()
	if done, werr := jms.exited(); done {
		return fail(fmt.Errorf("jms-sync exited during the benchmark: %v", werr))
	}
	logf("peak RSS %.1f MB, CPU %.1fs; verification ok=%v", res.Resources.PeakRSSMB, res.Resources.CPUSeconds, res.Verification.OK)
	if !res.Verification.OK {
		keep = true
		logf("logs kept in %s", tmp)
	}
	return res, nil
}

// loadAvg is /proc/loadavg's first three fields: the machine is shared,
// and a loaded machine stretches every time measured.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// baseEnv is the little of the harness's environment a child needs.
func baseEnv() []string {
	var out []string
	// GOMEMLIMIT and GOGC pass through: they are the Go runtime's memory knobs.
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "TZ", "GOMEMLIMIT", "GOGC"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// jmsEnv aims jms-sync at the simulators (as the demo's env() does) with
// the capacity settings an operator of this JumpServer would choose: the
// API's largest bulk size and as many requests in flight as it has workers.
func jmsEnv(cfg config, s benchSetup, sc *simClient, httpAddr, dingURL, natsURL string) []string {
	vars := map[string]string{
		"JMSSYNC_INSTALL_ID":                          s.Install,
		"JMSSYNC_HTTP_ADDR":                           httpAddr,
		"JMSSYNC_LOG_LEVEL":                           "warn",
		"JMSSYNC_JUMPSERVER_URL":                      sc.jms,
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_ID":            jmssim.DefaultKeyID,
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_SECRET":        jmssim.DefaultSecret,
		"JMSSYNC_JUMPSERVER_LICENSED":                 "true",
		"JMSSYNC_JUMPSERVER_BATCH_SIZE":               strconv.Itoa(cfg.Batch),
		"JMSSYNC_JUMPSERVER_CONCURRENCY":              strconv.Itoa(cfg.Concurrency),
		"JMSSYNC_ALIYUN_ENDPOINT":                     sc.aliyun,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ID":                s.AliyunAccount,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_NAME":              s.AliyunName,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_ID":     aliyunsim.DefaultAccessKeyID,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_ACCESS_KEY_SECRET": aliyunsim.DefaultAccessKeySecret,
		"JMSSYNC_ALIYUN_ACCOUNTS_0_REGIONS":           strings.Join(aliyunRegions, ","),
		"JMSSYNC_HUAWEI_ENDPOINT":                     sc.huawei,
		"JMSSYNC_HUAWEI_IAM_ENDPOINT":                 sc.huawei,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ID":                s.HuaweiAccount,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_NAME":              s.HuaweiName,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_ACCESS_KEY_ID":     huaweisim.DefaultAK,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_SECRET_ACCESS_KEY": huaweisim.DefaultSK,
		"JMSSYNC_HUAWEI_ACCOUNTS_0_REGIONS":           strings.Join(huaweiRegions, ","),
		"JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK":           dingURL + "/robot/send?access_token=" + dingToken,
		"JMSSYNC_DINGTALK_ROBOTS_0_SECRET":            dingSecret,
		"JMSSYNC_INTERVAL":                            "1h", // cycles come from the harness's triggers
		"JMSSYNC_JITTER":                              "0s",
		"JMSSYNC_RECONCILE_DEBOUNCE":                  cfg.Debounce.String(),
		"JMSSYNC_PPROF":                               strconv.FormatBool(cfg.Profile != ""),
	}
	if natsURL != "" {
		vars["JMSSYNC_NATS_URL"] = natsURL
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "JMSSYNC_") {
			vars[k] = v
		}
	}
	out := baseEnv()
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func redactEnv(env []string) map[string]string {
	out := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		// The Go runtime's memory knobs change what is measured: kept.
		if !strings.HasPrefix(k, "JMSSYNC_") && k != "GOGC" && k != "GOMEMLIMIT" {
			continue
		}
		for _, s := range []string{"SECRET", "WEBHOOK", "PASSWORD", "TOKEN"} {
			if strings.Contains(k, s) {
				v = "(redacted)"
			}
		}
		out[k] = v
	}
	return out
}

// findEmbeddedNATS finds the port jms-sync's embedded NATS listens on: its
// listening loopback ports other than the ops HTTP port.
func findEmbeddedNATS(ctx context.Context, p *proc, httpPort int) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if done, err := p.exited(); done {
			return "", fmt.Errorf("jms-sync exited: %v", err)
		}
		ports, _ := listeningPorts(p.pid())
		ports = slices.DeleteFunc(ports, func(x int) bool { return x == httpPort })
		if len(ports) == 1 {
			return "nats://" + addr(ports[0]), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", errors.New("could not find jms-sync's embedded NATS port in /proc")
}

// waitAssets polls the cheap counters until JumpServer holds want assets.
func waitAssets(ctx context.Context, sc *simClient, p *proc, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := -1
	for {
		if done, err := p.exited(); done {
			return fmt.Errorf("jms-sync exited: %v", err)
		}
		ct, err := sc.jmsCounters(ctx)
		if err == nil {
			last = ct.Assets
			if ct.Assets >= want {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("JumpServer holds %d of %d expected hosts after %s", last, want, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitQuiet waits until JumpServer saw no request for quiet (the
// background work after a run: nothing should come).
func waitQuiet(ctx context.Context, sc *simClient, quiet, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last int64 = -1
	since := time.Now()
	for {
		ct, err := sc.jmsCounters(ctx)
		if err != nil {
			return err
		}
		if n := ct.Reads + ct.Writes; n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("JumpServer never went quiet within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// procMonitor samples the process's RSS while it runs.
type procMonitor struct {
	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	rss    []rssSample
}

type rssSample struct {
	T      float64 `json:"t"` // seconds since the monitor started
	RSSMB  float64 `json:"rss_mb"`
	CPUSec float64 `json:"cpu_s"`
}

func monitor(ctx context.Context, p *proc) *procMonitor {
	ctx, cancel := context.WithCancel(ctx)
	m := &procMonitor{cancel: cancel, done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(m.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if st, err := readProcStats(p.pid()); err == nil {
				m.mu.Lock()
				m.rss = append(m.rss, rssSample{T: float64(time.Since(start).Milliseconds()) / 1000, RSSMB: kbToMB(st.RSSKB), CPUSec: st.CPUSecs})
				m.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *procMonitor) stop() {
	m.once.Do(func() { m.cancel(); <-m.done })
}

func (m *procMonitor) samples() []rssSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.rss)
}

func kbToMB(kb int64) float64 { return float64(kb) / 1024 }

// change is one churn mutation and what JumpServer must show for it.
type change struct {
	Kind        string // add, rename, reip, release
	Provider    asset.Provider
	InstanceID  string
	AssetID     string
	Name        string // new name (add, rename)
	OldName     string // the asset's name before a rename
	IP          string // new address (reip)
	NotExpected bool   // an added instance that maps to no host
}

// makeChurn applies k of each mutation through the clouds' control APIs:
// adds spread over the four regions; renames, re-IPs (of hosts addressed
// by their private IP) and releases of distinct expected hosts, picked with
// a seeded shuffle.
func makeChurn(ctx context.Context, sc *simClient, s benchSetup, inv []cloudInstance, exp expectation, before map[string]jmssim.AssetState, k int, seed uint64) ([]*change, error) {
	var hosts []expectedHost
	byID := map[string]cloudInstance{}
	for _, in := range inv {
		byID[string(in.Provider)+"/"+in.ID] = in
	}
	for _, h := range exp.Hosts {
		hosts = append(hosts, h)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].AssetID < hosts[j].AssetID })
	rng := rand.New(rand.NewPCG(seed, 8))
	rng.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
	if 3*k > len(hosts) {
		return nil, fmt.Errorf("%d changes of each kind need %d hosts, have %d", k, 3*k, len(hosts))
	}
	var out []*change
	next := 0
	take := func(ok func(expectedHost) bool) (expectedHost, error) {
		for ; next < len(hosts); next++ {
			if ok(hosts[next]) {
				next++
				return hosts[next-1], nil
			}
		}
		return expectedHost{}, errors.New("ran out of hosts to change")
	}
	for i := range k {
		h, err := take(func(expectedHost) bool { return true })
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("bench-renamed-%05d", i)
		if err := sc.mutate(ctx, h.Provider, "rename", map[string]string{"id": h.InstanceID, "name": name}, nil); err != nil {
			return nil, err
		}
		out = append(out, &change{Kind: "rename", Provider: h.Provider, InstanceID: h.InstanceID, AssetID: h.AssetID, Name: name,
			OldName: before[h.AssetID].Name})
	}
	for range k {
		h, err := take(func(h expectedHost) bool {
			in := byID[string(h.Provider)+"/"+h.InstanceID]
			return len(in.PrivateIPs()) > 0 && in.PrivateIPs()[0] == h.Address
		})
		if err != nil {
			return nil, err
		}
		c := &change{Kind: "reip", Provider: h.Provider, InstanceID: h.InstanceID, AssetID: h.AssetID}
		if err := sc.mutate(ctx, h.Provider, "reip", map[string]string{"id": h.InstanceID}, nil); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	for range k {
		h, err := take(func(expectedHost) bool { return true })
		if err != nil {
			return nil, err
		}
		if err := sc.mutate(ctx, h.Provider, "release", map[string]string{"id": h.InstanceID}, nil); err != nil {
			return nil, err
		}
		out = append(out, &change{Kind: "release", Provider: h.Provider, InstanceID: h.InstanceID, AssetID: h.AssetID})
	}
	regions := []struct {
		p asset.Provider
		r string
	}{{asset.Aliyun, aliyunRegions[0]}, {asset.Aliyun, aliyunRegions[1]}, {asset.HuaweiCloud, huaweiRegions[0]}, {asset.HuaweiCloud, huaweiRegions[1]}}
	for i := range k {
		reg := regions[i%len(regions)]
		name := fmt.Sprintf("bench-added-%05d", i)
		var in struct {
			ID string `json:"ID"`
		}
		if err := sc.mutate(ctx, reg.p, "add", map[string]string{"region": reg.r, "name": name}, &in); err != nil {
			return nil, err
		}
		if in.ID == "" {
			return nil, fmt.Errorf("add in %s answered no id", reg.r)
		}
		out = append(out, &change{Kind: "add", Provider: reg.p, InstanceID: in.ID, Name: name,
			AssetID: asset.AssetID(s.Install, s.OrgID, reg.p, in.ID).String()})
	}
	// The new addresses, read back from the clouds.
	after, err := sc.instances(ctx)
	if err != nil {
		return nil, err
	}
	now := map[string]cloudInstance{}
	for _, in := range after {
		now[string(in.Provider)+"/"+in.ID] = in
	}
	for _, c := range out {
		if c.Kind == "reip" {
			in := now[string(c.Provider)+"/"+c.InstanceID]
			if ips := in.PrivateIPs(); len(ips) > 0 {
				c.IP = ips[0]
			}
		}
	}
	return out, nil
}

// gitCommit is the short commit of the workspace, and whether it has
// uncommitted changes.
func gitCommit(root string) (string, bool) {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "nocommit", false
	}
	st, _ := exec.Command("git", "-C", root, "status", "--porcelain").Output()
	return strings.TrimSpace(string(out)), len(strings.TrimSpace(string(st))) > 0
}

// saveProfile fetches /debug/pprof/<what> from jms-sync's ops address into
// file, retrying while the endpoint is not up yet; failures are logged only
// (a profile is a diagnosis, not a result).
func saveProfile(ctx context.Context, logf func(string, ...any), httpAddr, what, file string) {
	url := "http://" + httpAddr + "/debug/pprof/" + what
	for range 50 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			logf("profile %s: %v", file, err)
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				if werr := os.WriteFile(file, body, 0o644); werr != nil {
					logf("profile %s: %v", file, werr)
				} else {
					logf("profile saved: %s", file)
				}
				return
			}
			err = fmt.Errorf("status %d %v", resp.StatusCode, rerr)
		}
		if ctx.Err() != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	logf("profile %s: %s not reachable", file, url)
}
