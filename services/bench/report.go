package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// Result is everything one benchmark run measured (the JSON file).
type Result struct {
	Date         string            `json:"date"`
	Commit       string            `json:"commit"`
	Dirty        bool              `json:"dirty"`
	GoVersion    string            `json:"go_version"`
	CPUs         int               `json:"cpus"`
	LoadAvgStart string            `json:"loadavg_start"`
	LoadAvgEnd   string            `json:"loadavg_end"`
	Config       configOut         `json:"config"`
	SimArgs      []string          `json:"sim_args"`
	JMSSyncEnv   map[string]string `json:"jms_sync_env"`

	Instances     int            `json:"instances"`
	ExpectedHosts int            `json:"expected_hosts"`
	Skipped       map[string]int `json:"skipped"`

	Floor     Floor     `json:"floor"`
	Cold      cold      `json:"cold_sync"`
	Steady    steady    `json:"steady_cycle"`
	Churn     churn     `json:"churn"`
	Resources resources `json:"resources"`

	Background       background `json:"background_cold"`
	BackgroundSteady background `json:"background_steady"`
	BackgroundChurn  background `json:"background_churn"`

	Applied     map[string]int `json:"applied_facts"`
	DeadLetters []string       `json:"dead_letters,omitempty"`
	Alerts      []string       `json:"alerts,omitempty"`

	ColdVerification verification `json:"cold_verification"`
	Verification     verification `json:"verification"`
	Targets          []target     `json:"targets"`
}

type configOut struct {
	N              int     `json:"n"`
	PerRegion      int     `json:"per_region"`
	LatencyMS      float64 `json:"latency_ms"`
	ItemMS         float64 `json:"item_ms"`
	Workers        int     `json:"workers"`
	CloudLatencyMS float64 `json:"cloud_latency_ms"`
	Churn          float64 `json:"churn"`
	Seed           uint64  `json:"seed"`
	Batch          int     `json:"batch"`
	Concurrency    int     `json:"concurrency"`
	Debounce       string  `json:"debounce"`
	NATS           string  `json:"nats"`
}

func newResult(cfg config, root string) *Result {
	commit, dirty := gitCommit(root)
	return &Result{
		Date: time.Now().Format("2006-01-02"), Commit: commit, Dirty: dirty, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Config: configOut{N: cfg.N, PerRegion: cfg.perRegion(), LatencyMS: ms(cfg.Latency), ItemMS: ms(cfg.Item), Workers: cfg.Workers,
			CloudLatencyMS: ms(cfg.CloudLatency), Churn: cfg.Churn, Seed: cfg.Seed, Batch: cfg.Batch, Concurrency: cfg.Concurrency,
			Debounce: cfg.Debounce.String(), NATS: cfg.NATS},
	}
}

type cold struct {
	// WallSeconds: process start → the last expected host written (its
	// creation time in JumpServer).
	WallSeconds float64 `json:"wall_seconds"`
	// FromListingSeconds: the first pass's start → the last host written.
	FromListingSeconds float64 `json:"from_listing_seconds"`
	// ListDoneSeconds: process start → the last pass closed.
	ListDoneSeconds float64 `json:"list_done_seconds"`
	// RunsClosedSeconds: process start → every run closed (results in).
	RunsClosedSeconds float64     `json:"runs_closed_seconds"`
	DecidedSeconds    float64     `json:"decided_seconds"` // start → the last run opened
	Ratio             float64     `json:"measured_over_floor"`
	JumpServer        jmsRequests `json:"jumpserver_requests"`
	CloudCalls        cloudCalls  `json:"cloud_calls"`
	CPUSeconds        float64     `json:"cpu_seconds"`
	PeakRSSMB         float64     `json:"peak_rss_mb"`
	Runs              int         `json:"runs"`
	Intents           int         `json:"intents"`
	Timeline          []timed     `json:"jumpserver_timeline"`
}

type phaseResult struct {
	Trigger     time.Time
	Cycle       cycleResult
	WallSeconds float64
	ListSeconds float64
	JumpServer  jmsRequests
	Counters    jmssim.Counters
	CloudCalls  cloudCalls
	CPUSeconds  float64
}

func coldResult(t0 time.Time, st jmssim.State, e expectation, c cycleResult, ct jmssim.Counters, cloud cloudCalls, ps procStats) cold {
	byID := assetsByID(st)
	var last time.Time
	for id := range e.Hosts {
		if a, ok := byID[id]; ok && a.Created.After(last) {
			last = a.Created
		}
	}
	var firstPass time.Time
	for _, p := range c.Passes {
		if firstPass.IsZero() || p.Started.Before(firstPass) {
			firstPass = p.Started
		}
	}
	out := cold{
		WallSeconds: last.Sub(t0).Seconds(), ListDoneSeconds: c.PassesDone.Sub(t0).Seconds(),
		RunsClosedSeconds: c.RunsClosed.Sub(t0).Seconds(), DecidedSeconds: c.Decided.Sub(t0).Seconds(), JumpServer: summarizeRequests(ct), CloudCalls: cloud,
		CPUSeconds: ps.CPUSecs, PeakRSSMB: kbToMB(ps.HWMKB), Runs: len(c.Runs), Intents: c.Expected,
	}
	if !firstPass.IsZero() {
		out.FromListingSeconds = last.Sub(firstPass).Seconds()
	}
	return out
}

type steady struct {
	WallSeconds    float64     `json:"wall_seconds"`    // trigger → the run closed
	ListSeconds    float64     `json:"list_seconds"`    // trigger → the last pass closed
	DecidedSeconds float64     `json:"decided_seconds"` // trigger → the last run opened
	JumpServer     jmsRequests `json:"jumpserver_requests"`
	CloudCalls     cloudCalls  `json:"cloud_calls"`
	CPUSeconds     float64     `json:"cpu_seconds"`
	Runs           int         `json:"runs"`
	Intents        int         `json:"intents"`
}

func steadyResult(p phaseResult) steady {
	return steady{WallSeconds: p.WallSeconds, ListSeconds: p.ListSeconds, DecidedSeconds: p.Cycle.Decided.Sub(p.Trigger).Seconds(), JumpServer: p.JumpServer, CloudCalls: p.CloudCalls,
		CPUSeconds: p.CPUSeconds, Runs: len(p.Cycle.Runs), Intents: p.Cycle.Expected}
}

type kindStats struct {
	Count      int     `json:"count"`
	Measured   int     `json:"measured"`
	NotWritten int     `json:"not_written"`
	P50        float64 `json:"p50_seconds"`
	P99        float64 `json:"p99_seconds"`
	Max        float64 `json:"max_seconds"`
}

type churn struct {
	PerKind    int                  `json:"per_kind"`
	Measured   int                  `json:"measured"`
	NotWritten int                  `json:"not_written"`
	P50        float64              `json:"p50_seconds"`
	P99        float64              `json:"p99_seconds"`
	Max        float64              `json:"max_seconds"`
	ByKind     map[string]kindStats `json:"by_kind"`
	// StickyRenames are console renames that (by design) caused no write:
	// the asset keeps its name. They are not in the percentiles.
	StickyRenames int `json:"sticky_renames"`
	// Releases measured from the first trigger (they need a second pass:
	// an instance is deactivated after being absent from 2 usable passes).
	ReleaseFromFirstTrigger kindStats `json:"release_from_first_trigger"`
	Cycle1                  steady    `json:"cycle1"`
	Cycle2                  steady    `json:"cycle2"`
	Missing                 []string  `json:"not_written_examples,omitempty"`
	Timeline1               []timed   `json:"jumpserver_timeline_cycle1"`
}

// churnResult measures each change from the trigger of the cycle that must
// write it to its write in JumpServer (the asset's created or updated time):
// adds, renames and re-IPs from the first trigger, releases from the second
// (the pass that makes the instance absent for the 2nd time).
func churnResult(changes []*change, st1, st2 jmssim.State, c1, c2 phaseResult) churn {
	a1, a2 := assetsByID(st1), assetsByID(st2)
	out := churn{ByKind: map[string]kindStats{}, Cycle1: steadyResult(c1), Cycle2: steadyResult(c2)}
	var all []float64
	by := map[string][]float64{}
	var relFirst []float64
	notWritten := map[string]int{}
	count := map[string]int{}
	for _, c := range changes {
		count[c.Kind]++
		if c.NotExpected {
			continue
		}
		var at time.Time
		var ok bool
		switch c.Kind {
		case "add":
			a, found := a1[c.AssetID]
			ok, at = found, a.Created
		case "rename":
			a, found := a1[c.AssetID]
			if found && a.Name == c.OldName && c.OldName != "" {
				out.StickyRenames++ // no write by design: names are sticky
				continue
			}
			ok, at = found && (a.Name == c.Name || strings.HasPrefix(a.Name, c.Name+"-")), a.Updated
		case "reip":
			a, found := a1[c.AssetID]
			ok, at = found && c.IP != "" && a.Address == c.IP, a.Updated
		case "release":
			a, found := a2[c.AssetID]
			ok, at = found && !a.IsActive, a.Updated
		}
		if !ok {
			notWritten[c.Kind]++
			if len(out.Missing) < 10 {
				out.Missing = append(out.Missing, fmt.Sprintf("%s %s/%s", c.Kind, c.Provider, c.InstanceID))
			}
			continue
		}
		from := c1.Trigger
		if c.Kind == "release" {
			from = c2.Trigger
			relFirst = append(relFirst, at.Sub(c1.Trigger).Seconds())
		}
		d := at.Sub(from).Seconds()
		all = append(all, d)
		by[c.Kind] = append(by[c.Kind], d)
	}
	for _, k := range []string{"add", "rename", "reip", "release"} {
		s := stats(by[k])
		s.Count, s.NotWritten = count[k], notWritten[k]
		out.ByKind[k] = s
		out.NotWritten += notWritten[k]
		out.PerKind = max(out.PerKind, count[k])
	}
	s := stats(all)
	out.Measured, out.P50, out.P99, out.Max = s.Measured, s.P50, s.P99, s.Max
	out.ReleaseFromFirstTrigger = stats(relFirst)
	out.ReleaseFromFirstTrigger.Count = count["release"]
	return out
}

// stats: nearest-rank percentiles.
func stats(xs []float64) kindStats {
	if len(xs) == 0 {
		return kindStats{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return kindStats{Measured: len(s), P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1]}
}

type resources struct {
	PeakRSSMB      float64     `json:"peak_rss_mb"` // VmHWM of jms-sync
	FinalRSSMB     float64     `json:"final_rss_mb"`
	CPUSeconds     float64     `json:"cpu_seconds"` // utime+stime, whole run
	ColdCPUSeconds float64     `json:"cold_cpu_seconds"`
	Threads        int         `json:"threads"`
	NATSInProcess  bool        `json:"nats_in_process"`
	Samples        []rssSample `json:"samples"`
}

func sumBackground(a, b background) background {
	return background{
		AssetsCreated: a.AssetsCreated + b.AssetsCreated, AssetsUpdated: a.AssetsUpdated + b.AssetsUpdated,
		AssetsDeleted: a.AssetsDeleted + b.AssetsDeleted, NodesCreated: a.NodesCreated + b.NodesCreated,
		AccountsCreated: a.AccountsCreated + b.AccountsCreated, PingTasks: a.PingTasks + b.PingTasks,
		GatherFactsTasks: a.GatherFactsTasks + b.GatherFactsTasks, AccountPushTasks: a.AccountPushTasks + b.AccountPushTasks,
		LabelsCreated: a.LabelsCreated + b.LabelsCreated, LabelRows: b.LabelRows, LabelLinks: b.LabelLinks, Assets: b.Assets,
		MaxInFlight: max(a.MaxInFlight, b.MaxInFlight), Errors: a.Errors + b.Errors,
	}
}

type target struct {
	Name     string `json:"name"`
	Want     string `json:"want"`
	Measured string `json:"measured"`
	Holds    bool   `json:"holds"`
}

func evaluateTargets(r *Result, cfg config) []target {
	t := []target{
		{Name: "cold sync", Want: fmt.Sprintf("≤ 2 × floor = %.2fs", 2*r.Floor.Seconds),
			Measured: fmt.Sprintf("%.2fs (×%.2f)", r.Cold.WallSeconds, r.Cold.Ratio), Holds: r.Cold.Ratio <= 2},
		{Name: "steady cycle writes", Want: "0", Measured: fmt.Sprint(r.Steady.JumpServer.Writes), Holds: r.Steady.JumpServer.Writes == 0},
		{Name: "steady cycle requests", Want: fmt.Sprintf("≤ ⌈N/1000⌉+10 = %d", r.Floor.SteadyMaxRequests),
			Measured: fmt.Sprint(r.Steady.JumpServer.Total), Holds: r.Steady.JumpServer.Total <= int64(r.Floor.SteadyMaxRequests)},
		{Name: "churn p99", Want: "< 2s after the trigger", Measured: fmt.Sprintf("%.3fs", r.Churn.P99),
			Holds: r.Churn.P99 < 2 && r.Churn.NotWritten == 0},
		{Name: "peak RSS", Want: "< 200 MB", Measured: fmt.Sprintf("%.1f MB", r.Resources.PeakRSSMB), Holds: r.Resources.PeakRSSMB < 200},
		{Name: "correct", Want: "JumpServer = inventory", Measured: verdict(r.Verification), Holds: r.Verification.OK},
	}
	if cfg.N != 10000 {
		for i := range t {
			if t[i].Name == "cold sync" || t[i].Name == "peak RSS" {
				t[i].Name += fmt.Sprintf(" (target is set for N=10,000; here N=%d)", cfg.N)
			}
		}
	}
	return t
}

func verdict(v verification) string {
	if v.OK {
		return fmt.Sprintf("ok: %d hosts, %d released deactivated, nothing extra", v.Present, v.Deactivated)
	}
	return fmt.Sprintf("WRONG: %d missing, %d wrong, %d extra", v.Missing, v.Wrong, v.Extra)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**NO**"
}

// Markdown renders the report.
func (r *Result) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	dirty := ""
	if r.Dirty {
		dirty = " (uncommitted changes)"
	}
	w("# jms-sync sync benchmark — %s, commit %s%s", r.Date, r.Commit, dirty)
	w("")
	c := r.Config
	w("N = %d instances (2 clouds × 2 regions × %d; %d expected hosts; skipped %v). JumpServer licensed, %gms/request + %gms/item, %d workers; clouds %gms/call. "+
		"jms-sync: batch %d, concurrency %d, debounce %s, NATS %s. %s, %d CPUs.",
		r.Instances, c.PerRegion, r.ExpectedHosts, r.Skipped, c.LatencyMS, c.ItemMS, c.Workers, c.CloudLatencyMS,
		c.Batch, c.Concurrency, c.Debounce, natsText(c.NATS), r.GoVersion, r.CPUs)
	w("")
	w("Load average of the (shared) machine at start / end: %s / %s.", r.LoadAvgStart, r.LoadAvgEnd)
	w("")
	w("Command: `BENCH_N=%d BENCH_LATENCY_MS=%g BENCH_ITEM_MS=%g BENCH_WORKERS=%d BENCH_CLOUD_LATENCY_MS=%g BENCH_CHURN=%g go run ./services/bench` (or `make bench`).",
		c.N, c.LatencyMS, c.ItemMS, c.Workers, c.CloudLatencyMS, c.Churn)
	w("")
	w("## Targets")
	w("")
	w("| target | want | measured | holds |")
	w("|---|---|---|---|")
	for _, t := range r.Targets {
		w("| %s | %s | %s | %s |", t.Name, t.Want, t.Measured, yes(t.Holds))
	}
	w("")
	w("## Results")
	w("")
	w("| phase | measure | value |")
	w("|---|---|---|")
	w("| cold sync | wall: process start → last expected host written | %.2f s |", r.Cold.WallSeconds)
	w("| | first pass started → last host written | %.2f s |", r.Cold.FromListingSeconds)
	w("| | start → last pass closed / → last run opened (decided) / → every run closed | %.2f s / %.2f s / %.2f s |", r.Cold.ListDoneSeconds, r.Cold.DecidedSeconds, r.Cold.RunsClosedSeconds)
	w("| | floor / measured ÷ floor | %.2f s / ×%.2f |", r.Floor.Seconds, r.Cold.Ratio)
	w("| | JumpServer requests by method | %s (total %d) |", r.Cold.JumpServer.methods(), r.Cold.JumpServer.Total)
	w("| | JumpServer requests by route | %s |", routes(r.Cold.JumpServer.ByRoute))
	w("| | cloud API calls | %d (%s) |", r.Cold.CloudCalls.Total, calls(r.Cold.CloudCalls))
	w("| | runs / intents | %d / %d |", r.Cold.Runs, r.Cold.Intents)
	w("| | CPU (process, to here) / peak RSS (to here) | %.2f s / %.1f MB |", r.Cold.CPUSeconds, r.Cold.PeakRSSMB)
	w("| steady cycle | wall: trigger → run closed (passes done / decided at) | %.2f s (%.2f s / %.2f s) |", r.Steady.WallSeconds, r.Steady.ListSeconds, r.Steady.DecidedSeconds)
	w("| | JumpServer writes / reads | %d / %d |", r.Steady.JumpServer.Writes, r.Steady.JumpServer.Reads)
	w("| | JumpServer requests by route | %s |", routes(r.Steady.JumpServer.ByRoute))
	w("| | cloud API calls | %d |", r.Steady.CloudCalls.Total)
	w("| | CPU | %.2f s |", r.Steady.CPUSeconds)
	ch := r.Churn
	w("| churn (%d each) | trigger → JumpServer write, p50 / p99 / max | %.3f s / %.3f s / %.3f s (%d changes, %d not written) |",
		ch.PerKind, ch.P50, ch.P99, ch.Max, ch.Measured, ch.NotWritten)
	for _, k := range []string{"add", "rename", "reip", "release"} {
		s := ch.ByKind[k]
		note := ""
		if k == "release" {
			note = " (from the 2nd trigger: deactivated after 2 absent passes)"
		}
		if k == "rename" {
			note = fmt.Sprintf(" (%d kept their name: sticky names, no write by design)", ch.StickyRenames)
		}
		w("| | %s%s p50 / p99 / max | %.3f / %.3f / %.3f s (%d of %d) |", k, note, s.P50, s.P99, s.Max, s.Measured, s.Count)
	}
	rf := ch.ReleaseFromFirstTrigger
	w("| | release from the 1st trigger p50 / p99 | %.3f / %.3f s |", rf.P50, rf.P99)
	w("| | cycle 1: wall (passes done / decided at) / JumpServer | %.2f s (%.2f s / %.2f s) / %s |", ch.Cycle1.WallSeconds, ch.Cycle1.ListSeconds, ch.Cycle1.DecidedSeconds, ch.Cycle1.JumpServer.methods())
	w("| | cycle 2: wall (passes done / decided at) / JumpServer | %.2f s (%.2f s / %.2f s) / %s |", ch.Cycle2.WallSeconds, ch.Cycle2.ListSeconds, ch.Cycle2.DecidedSeconds, ch.Cycle2.JumpServer.methods())
	w("| resources | peak RSS (VmHWM) / final RSS | %.1f MB / %.1f MB%s |", r.Resources.PeakRSSMB, r.Resources.FinalRSSMB, rssNote(r.Resources.NATSInProcess))
	w("| | CPU seconds (utime+stime), whole run / cold sync | %.2f s / %.2f s |", r.Resources.CPUSeconds, r.Resources.ColdCPUSeconds)
	bg := r.Background
	w("| JumpServer work (cold) | assets created / nodes / accounts | %d / %d / %d |", bg.AssetsCreated, bg.NodesCreated, bg.AccountsCreated)
	w("| | background tasks: ping / gather facts / account push | %d / %d / %d |", bg.PingTasks, bg.GatherFactsTasks, bg.AccountPushTasks)
	w("| | label rows created / rows / links | %d / %d / %d |", bg.LabelsCreated, bg.LabelRows, bg.LabelLinks)
	w("| | max in flight / errors (429, 5xx, 401, 403) | %d / %d |", bg.MaxInFlight, bg.Errors)
	bc := r.BackgroundChurn
	w("| JumpServer work (churn) | created / updated / deleted; tasks ping / facts / push; labels created | %d / %d / %d; %d / %d / %d; %d |",
		bc.AssetsCreated, bc.AssetsUpdated, bc.AssetsDeleted, bc.PingTasks, bc.GatherFactsTasks, bc.AccountPushTasks, bc.LabelsCreated)
	w("| check | JumpServer vs inventory | %s |", verdict(r.Verification))
	w("")
	w("## JumpServer writes over time")
	w("")
	w("Cold sync, seconds since process start (start includes waiting for a JumpServer worker): %s", writes(r.Cold.Timeline))
	w("")
	w("Churn cycle 1, seconds since the trigger: %s", writes(r.Churn.Timeline1))
	w("")
	w("## Floor")
	w("")
	w("%s", r.Floor.Formula)
	w("")
	w("The floor is the least time the simulators' knobs allow: the clouds' listing (largest pages: Aliyun %d, Huawei %d; pages of a region in sequence, regions and clouds in parallel) "+
		"plus the creation of the E expected hosts spread evenly over the %d JumpServer workers in bulk requests of at most %d (each request %gms + %gms per item). "+
		"It does not count any request jms-sync makes beyond the creates. For comparison, whole batches of %d in rounds of %d workers would take %.2fs.",
		aliyunMaxPage, huaweiMaxPage, r.Floor.Workers, r.Floor.Batch, r.Floor.LatencyMS, r.Floor.ItemMS, r.Floor.Batch, r.Floor.Workers, r.Floor.BatchRoundsSeconds)
	if len(r.Verification.Problems) > 0 {
		w("")
		w("## Problems")
		w("")
		for _, p := range r.Verification.Problems {
			w("- %s", p)
		}
	}
	if len(r.DeadLetters) > 0 || len(r.Alerts) > 0 {
		w("")
		w("## Dead letters and alerts")
		w("")
		for _, d := range r.DeadLetters {
			w("- dead letter: `%s`", d)
		}
		for _, a := range r.Alerts {
			w("- alert: `%s`", a)
		}
	}
	return b.String()
}

func writes(ts []timed) string {
	var parts []string
	for _, t := range ts {
		if t.Method == "GET" {
			continue
		}
		p := t.Path
		if strings.HasPrefix(p, "/api/v1/assets/nodes/") {
			p = "nodes"
		} else if strings.HasPrefix(p, "/api/v1/assets/hosts/") {
			p = "hosts"
		}
		parts = append(parts, fmt.Sprintf("%s %s %.2f→%.2f", t.Method, p, t.StartS, t.EndS))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

func natsText(mode string) string {
	if mode == "embedded" {
		return "embedded in jms-sync (its RSS includes NATS)"
	}
	return "run by the harness (jms-sync's RSS excludes NATS)"
}

func rssNote(inProcess bool) string {
	if inProcess {
		return " (NATS included)"
	}
	return " (NATS excluded)"
}

func routes(m map[string]int64) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("`%s` %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func calls(c cloudCalls) string {
	var parts []string
	for _, m := range []map[string]int64{c.Aliyun, c.Huawei} {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// write stores the markdown and JSON under dir (relative paths are taken
// from the workspace root).
func (r *Result) write(dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		root, err := workspaceRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(dir, r.Date+"-"+r.Commit)
	if r.Config.N != 10000 || r.Config.NATS != "embedded" {
		base += fmt.Sprintf("-n%d", r.Config.N)
		if r.Config.NATS != "embedded" {
			base += "-" + r.Config.NATS
		}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".json", append(b, '\n'), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".md", []byte(r.Markdown()), 0o644); err != nil {
		return "", err
	}
	return base + ".{md,json}", nil
}
