package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

// scanLog records every List call across replicas and flags any two
// overlapping listings of one region.
type scanLog struct {
	mu       sync.Mutex
	inFlight map[string]string // region → replica listing it
	scans    []scan
	overlap  []string
}

type scan struct {
	replica, region string
	at              time.Time
}

func newScanLog() *scanLog { return &scanLog{inFlight: map[string]string{}} }

func (l *scanLog) hook(replica string) func(ctx context.Context, region string) error {
	return func(ctx context.Context, region string) error {
		l.mu.Lock()
		if other, ok := l.inFlight[region]; ok {
			l.overlap = append(l.overlap, fmt.Sprintf("%s listed by %s and %s at once", region, other, replica))
		}
		l.inFlight[region] = replica
		l.scans = append(l.scans, scan{replica: replica, region: region, at: time.Now()})
		l.mu.Unlock()
		time.Sleep(30 * time.Millisecond) // a listing takes a while
		l.mu.Lock()
		delete(l.inFlight, region)
		l.mu.Unlock()
		return nil
	}
}

// since returns region → replicas that listed it after t.
func (l *scanLog) since(t time.Time) map[string]map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]map[string]bool{}
	for _, s := range l.scans {
		if s.at.After(t) {
			if out[s.region] == nil {
				out[s.region] = map[string]bool{}
			}
			out[s.region][s.replica] = true
		}
	}
	return out
}

func (l *scanLog) overlaps() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.overlap)
}

var regions4 = []string{"cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen"}

// targetsFor builds one account's targets over regions, all sharing src.
func targetsFor(account string, src Source, regions ...string) []Target {
	var out []Target
	for _, r := range regions {
		out = append(out, Target{Scope: scope(account, r), Source: src})
	}
	return out
}

func heldRegions(r *Runner) []string {
	var out []string
	for _, s := range r.Held() {
		out = append(out, s.Region)
	}
	slices.Sort(out)
	return out
}

// Two replicas split four regions 2/2 and never list a region at the same
// time; when one is killed (no release), the other takes its regions over
// about one lease TTL later. Fencing tokens only grow per region.
func TestReplicasSplitAndTakeOver(t *testing.T) {
	const ttl = 2 * time.Second
	url, _, js := startBus(t)
	_, jsB := natstest.Dial(t, url)
	log := newScanLog()
	mk := func(js jetstream.JetStream, name string) (*Runner, []Target) {
		src := newFakeSource("acct-1")
		src.onList = log.hook(name)
		return newRunner(t, js, Options{Replica: name, LeaseTTL: ttl, Interval: 250 * time.Millisecond, Jitter: 50 * time.Millisecond}),
			targetsFor("acct-1", src, regions4...)
	}
	a, ta := mk(js, "replica-a")
	b, tb := mk(jsB, "replica-b")
	ctxA, killA := context.WithCancel(t.Context())
	ctxB, stopB := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopB()
	defer killA()
	wg.Go(func() { _ = a.Run(ctxA, ta) })
	wg.Go(func() { _ = b.Run(ctxB, tb) })

	started := time.Now()
	eventually(t, 10*time.Second, "a 2/2 split", func() bool { return len(a.Held()) == 2 && len(b.Held()) == 2 })
	t.Logf("split 2/2 %s after start", time.Since(started).Round(10*time.Millisecond))
	ha, hb := heldRegions(a), heldRegions(b)
	for _, r := range ha {
		if slices.Contains(hb, r) {
			t.Fatalf("region %s held by both: a=%v b=%v", r, ha, hb)
		}
	}
	split := time.Now()
	eventually(t, 10*time.Second, "two more cycles of each replica", func() bool {
		got := log.since(split)
		return len(got) == 4 && len(log.since(split.Add(600*time.Millisecond))) == 4
	})
	for region, reps := range log.since(split) {
		if len(reps) != 1 {
			t.Errorf("region %s listed by %v after the split", region, slices.Collect(maps.Keys(reps)))
		}
	}

	// Kill a: no release, its leases lapse.
	killA()
	killed := time.Now()
	eventually(t, 3*ttl, "b to take every region", func() bool { return len(b.Held()) == 4 })
	took := time.Since(killed)
	eventually(t, 3*time.Second, "b to list every region", func() bool {
		got := log.since(killed)
		return len(got) == 4 && !slices.ContainsFunc(slices.Collect(maps.Values(got)), func(m map[string]bool) bool { return m["replica-a"] })
	})
	t.Logf("b took over a's regions %s after a was killed (lease TTL %s)", took.Round(10*time.Millisecond), ttl)
	// a's last renewal was at most TTL/3 before the kill; b looks again
	// just after the lease lapses.
	if took > ttl+300*time.Millisecond {
		t.Errorf("takeover took %s, want within the lease TTL %s", took, ttl)
	}
	if o := log.overlaps(); len(o) > 0 {
		t.Fatalf("overlapping listings: %v", o)
	}

	stopB()
	wg.Wait()
	for _, region := range regions4 {
		var last uint64
		for _, c := range closesOn(t, js, scope("acct-1", region)) {
			if c.FencingToken <= last {
				t.Errorf("%s: fencing token %d after %d", region, c.FencingToken, last)
			}
			last = c.FencingToken
		}
	}
}

// A message on the trigger subject runs a cycle at once, narrowed by its
// payload; a malformed one is refused and runs nothing.
func TestTriggerRunsCycle(t *testing.T) {
	_, nc, js := startBus(t)
	src := newFakeSource("acct-1")
	targets := append(targetsFor("acct-1", src, "cn-hangzhou", "cn-shanghai"), targetsFor("acct-2", src, "cn-hangzhou")...)
	r := newRunner(t, js, Options{LeaseTTL: 2 * time.Second, Interval: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, targets) }()
	defer func() { cancel(); <-done }()

	count := func() int { return src.listCalls("cn-hangzhou") + src.listCalls("cn-shanghai") }
	eventually(t, 5*time.Second, "the first cycle", func() bool { return count() == 3 })

	request := func(payload string) triggerReply {
		t.Helper()
		m, err := nc.Request(natsx.TriggerSubject("aliyun"), []byte(payload), 2*time.Second)
		if err != nil {
			t.Fatalf("trigger: %v", err)
		}
		var rep triggerReply
		if err := json.Unmarshal(m.Data, &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := request(`{"account":"acct-1","region":"cn-shanghai"}`); !rep.Queued {
		t.Fatalf("reply %+v", rep)
	}
	eventually(t, 3*time.Second, "the triggered cycle", func() bool { return src.listCalls("cn-shanghai") == 2 })
	if rep := request(`{not json`); rep.Queued || rep.Error == "" {
		t.Fatalf("malformed trigger reply %+v", rep)
	}
	// An empty payload runs a full cycle; a burst coalesces.
	for range 5 {
		if err := nc.Publish(natsx.TriggerSubject("aliyun"), nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 3*time.Second, "the full triggered cycle", func() bool { return src.listCalls("cn-hangzhou") >= 4 })
	time.Sleep(300 * time.Millisecond)
	if n := src.listCalls("cn-hangzhou"); n > 6 {
		t.Errorf("a burst of 5 triggers listed cn-hangzhou %d times in all; want at most 2 cycles for it", n)
	}
	if src.listCalls("cn-shanghai") > src.listCalls("cn-hangzhou") {
		t.Error("narrowing leaked")
	}
}

// A replica pinned to some regions leases and lists only those.
func TestPinnedRegions(t *testing.T) {
	_, _, js := startBus(t)
	src := newFakeSource("acct-1")
	targets := targetsFor("acct-1", src, regions4...)
	r := newRunner(t, js, Options{Regions: []string{"cn-beijing", "cn-shenzhen", "eu-central-1"}})

	closes := r.RunCycle(t.Context(), targets)
	var got []string
	for _, c := range closes {
		if c.Status != events.PassComplete {
			t.Errorf("%s: %s %s", c.Scope, c.Reason, c.Detail)
		}
		got = append(got, c.Scope.Region)
	}
	if want := []string{"cn-beijing", "cn-shenzhen"}; !slices.Equal(got, want) {
		t.Fatalf("passes for %v, want %v", got, want)
	}
	if h := heldRegions(r); !slices.Equal(h, []string{"cn-beijing", "cn-shenzhen"}) {
		t.Fatalf("holds %v", h)
	}
	if _, err := r.RunPass(t.Context(), targets[0]); !errors.Is(err, ErrInvalidTarget) {
		t.Fatalf("RunPass outside the pinned regions: %v", err)
	}
	if err := r.Run(t.Context(), targetsFor("acct-1", src, "cn-hangzhou")); !errors.Is(err, ErrInvalidTarget) {
		t.Fatalf("Run with no pinned target: %v", err)
	}
}

// AccountConcurrency bounds the listings of one account in flight; accounts
// run side by side, and one account failing does not stop another.
func TestAccountConcurrencyAndIndependence(t *testing.T) {
	_, _, js := startBus(t)
	var (
		mu                sync.Mutex
		inFlight, maxSeen = map[string]int{}, map[string]int{}
		total, maxTotal   int
	)
	hook := func(account string) func(context.Context, string) error {
		return func(context.Context, string) error {
			mu.Lock()
			inFlight[account]++
			total++
			maxSeen[account] = max(maxSeen[account], inFlight[account])
			maxTotal = max(maxTotal, total)
			mu.Unlock()
			time.Sleep(150 * time.Millisecond)
			mu.Lock()
			inFlight[account]--
			total--
			mu.Unlock()
			return nil
		}
	}
	regions := []string{"r-1", "r-2", "r-3", "r-4", "r-5"}
	good, bad := newFakeSource("acct-good"), newFakeSource("acct-bad")
	good.onList, bad.onList = hook("good"), hook("bad")
	for _, rg := range regions {
		bad.listErr[rg] = &ListError{Reason: events.ReasonAuth, Detail: "account bad: region " + rg + ": InvalidAccessKeyId"}
	}
	targets := append(targetsFor("good", good, regions...), targetsFor("bad", bad, regions...)...)
	r := newRunner(t, js, Options{AccountConcurrency: 2})

	closes := r.RunCycle(t.Context(), targets)
	if len(closes) != 10 {
		t.Fatalf("%d passes, want 10", len(closes))
	}
	for _, c := range closes {
		want := events.PassComplete
		if c.Scope.AccountID == "bad" {
			want = events.PassFailed
		}
		if c.Status != want {
			t.Errorf("%s: %s (%s)", c.Scope, c.Status, c.Detail)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if maxSeen["good"] != 2 || maxSeen["bad"] != 2 {
		t.Errorf("max listings in flight per account = %v, want 2 each", maxSeen)
	}
	if maxTotal < 3 {
		t.Errorf("accounts did not run side by side (max %d in flight)", maxTotal)
	}
}

// A close record that cannot be stored is reported, by RunCycle, as a failed
// pass; RunPass returns ErrClosePublish.
func TestCloseNotPublished(t *testing.T) {
	_, _, js := startBus(t)
	src := newFakeSource("acct-1")
	sc := scope("acct-1", "cn-hangzhou")
	r := newRunner(t, js, Options{})
	if _, err := r.leases.acquire(t.Context(), scopeRef{key: natsx.LeaseKey(natsScope(sc)), scope: sc}); err != nil {
		t.Fatal(err)
	}
	// Take the pass subjects away from the stream: publishes get no stream.
	st, err := js.Stream(t.Context(), natsx.StreamSnapshots)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Subjects = []string{natsx.SubjectsSnapshots}
	if _, err := js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	closes := r.RunCycle(ctx, []Target{{Scope: sc, Source: src}})
	if len(closes) != 1 || closes[0].Status != events.PassFailed || closes[0].Reason != events.ReasonPublish {
		t.Fatalf("closes = %+v", closes)
	}
	_, err = r.RunPass(ctx, Target{Scope: sc, Source: src})
	if !errors.Is(err, ErrClosePublish) {
		t.Fatalf("RunPass: %v, want ErrClosePublish", err)
	}
}

func TestAssign(t *testing.T) {
	reps := func(ids ...string) []presenceValue {
		var out []presenceValue
		for _, id := range ids {
			out = append(out, presenceValue{Replica: id})
		}
		return out
	}
	scopes := func(holder string, regions ...string) []assignScope {
		var out []assignScope
		for _, r := range regions {
			out = append(out, assignScope{key: "lease.aliyun.a." + r, region: r, holder: holder})
		}
		return out
	}
	loads := func(m map[string]string) map[string]int {
		out := map[string]int{}
		for _, r := range m {
			out[r]++
		}
		return out
	}

	t.Run("balanced and order independent", func(t *testing.T) {
		sc := scopes("", "r1", "r2", "r3", "r4", "r5")
		got := assign(sc, reps("a", "b"))
		if l := loads(got); len(got) != 5 || max(l["a"], l["b"]) != 3 || min(l["a"], l["b"]) != 2 {
			t.Fatalf("loads %v", l)
		}
		rev := slices.Clone(sc)
		slices.Reverse(rev)
		if again := assign(rev, reps("a", "b")); !maps.Equal(again, got) {
			t.Fatalf("depends on input order: %v vs %v", got, again)
		}
	})
	t.Run("sticky: a newcomer takes only its share", func(t *testing.T) {
		got := assign(scopes("a", "r1", "r2", "r3", "r4"), reps("a", "b"))
		if l := loads(got); l["a"] != 2 || l["b"] != 2 {
			t.Fatalf("loads %v", l)
		}
		got = assign(scopes("a", "r1", "r2", "r3", "r4"), reps("a"))
		if l := loads(got); l["a"] != 4 {
			t.Fatalf("alone: loads %v", l)
		}
	})
	t.Run("pins", func(t *testing.T) {
		rs := []presenceValue{{Replica: "a"}, {Replica: "b", Regions: []string{"r1", "r2"}}}
		got := assign(scopes("", "r1", "r2", "r3", "r4"), rs)
		if got["lease.aliyun.a.r3"] != "a" || got["lease.aliyun.a.r4"] != "a" || got["lease.aliyun.a.r1"] != "b" || got["lease.aliyun.a.r2"] != "b" {
			t.Fatalf("assignment %v", got)
		}
		rs = []presenceValue{{Replica: "b", Regions: []string{"r1"}}}
		if got := assign(scopes("", "r1", "r9"), rs); len(got) != 1 || got["lease.aliyun.a.r1"] != "b" {
			t.Fatalf("unscannable scope assigned: %v", got)
		}
	})
}

// The trigger subscription is core NATS and stays out of every stream.
func TestTriggerSubjectIsNotStored(t *testing.T) {
	_, nc, js := startBus(t)
	if err := nc.Publish(natsx.TriggerSubject("aliyun"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	_, err := js.StreamNameBySubject(t.Context(), natsx.TriggerSubject("aliyun"))
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("a stream captures the trigger subject: %v", err)
	}
}

// A runner that is alone (the all-in-one) starts its first cycle at once;
// one among replicas waits for its peers first (min(LeaseTTL/3, 2s)).
func TestAloneStartsAtOnce(t *testing.T) {
	for _, alone := range []bool{true, false} {
		t.Run(fmt.Sprintf("alone=%v", alone), func(t *testing.T) {
			_, _, js := startBus(t)
			src := newFakeSource("acct-1")
			r := newRunner(t, js, Options{LeaseTTL: 6 * time.Second, Interval: time.Hour, Alone: alone})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- r.Run(ctx, targetsFor("acct-1", src, "cn-hangzhou")) }()
			defer func() { cancel(); <-done }()
			eventually(t, 5*time.Second, "the first cycle", func() bool { return src.listCalls("cn-hangzhou") == 1 })
			took := time.Since(start)
			if alone && took > time.Second || !alone && took < 2*time.Second {
				t.Fatalf("first listing after %s", took)
			}
		})
	}
}
