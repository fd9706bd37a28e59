package collector

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

// startBus starts an embedded JetStream server with the topology (memory
// storage) and returns its URL and a connection.
func startBus(t *testing.T, opts ...natstest.Option) (string, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	_, url := natstest.Start(t, opts...)
	nc, js := natstest.Dial(t, url)
	if err := natsx.EnsureTopology(t.Context(), js, natsx.TopologyOptions{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatalf("ensure topology: %v", err)
	}
	return url, nc, js
}

func newRunner(t *testing.T, js jetstream.JetStream, o Options) *Runner {
	t.Helper()
	o.JS = js
	if o.Replica == "" {
		o.Replica = "replica-1"
	}
	if o.Provider == "" {
		o.Provider = asset.Aliyun
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 2 * time.Second
	}
	r, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func scope(account, region string) events.Scope {
	return events.Scope{Provider: asset.Aliyun, AccountID: account, AccountName: "账号 " + account, Region: region}
}

// genInstances returns n valid instances of sc.
func genInstances(sc events.Scope, n int) []asset.Instance {
	out := make([]asset.Instance, n)
	created := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = asset.Instance{
			Provider: sc.Provider, AccountID: sc.AccountID, Region: sc.Region, Zone: sc.Region + "-a",
			InstanceID: fmt.Sprintf("i-%s-%06d", sc.Region, i), Name: "web-" + strconv.Itoa(i), Hostname: "web" + strconv.Itoa(i),
			OSType: asset.Linux, OSName: "Alibaba Cloud Linux 3.2104 LTS 64位", ImageName: "aliyun_3_x64_20G_alibase_20240528.vhd",
			State: asset.Running, Status: "Running",
			PrivateIPs:   []string{fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)},
			VPCID:        "vpc-bp1234567890abcdef",
			Tags:         map[string]string{"env": "prod", "team": "platform"},
			InstanceType: "ecs.g7.large", CreatedAt: created.Add(time.Duration(i) * time.Minute),
		}
	}
	return out
}

// fakeSource is an in-memory Source. Regions without instances list empty.
type fakeSource struct {
	identity string

	mu        sync.Mutex
	instances map[string][]asset.Instance
	identErr  map[string]error
	listErr   map[string]error
	calls     map[string]int // List calls by region
	// onList runs at the start of List (may block; honours ctx if it wants).
	onList func(ctx context.Context, region string) error
	// panicList panics in List.
	panicList bool
}

func newFakeSource(identity string) *fakeSource {
	return &fakeSource{identity: identity, instances: map[string][]asset.Instance{}, identErr: map[string]error{},
		listErr: map[string]error{}, calls: map[string]int{}}
}

func (f *fakeSource) set(region string, in []asset.Instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances[region] = in
}

func (f *fakeSource) Identity(ctx context.Context, region string) (string, error) {
	f.mu.Lock()
	err := f.identErr[region]
	f.mu.Unlock()
	if err != nil {
		return "", err
	}
	return f.identity, ctx.Err()
}

func (f *fakeSource) List(ctx context.Context, region string) (*Listing, error) {
	f.mu.Lock()
	f.calls[region]++
	err, in, hook, boom := f.listErr[region], f.instances[region], f.onList, f.panicList
	f.mu.Unlock()
	if boom {
		panic("source bug")
	}
	if hook != nil {
		if err := hook(ctx, region); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	pages := len(in)/100 + 1
	return &Listing{Instances: in, Calls: pages + 1, Pages: pages,
		Probes: []events.Probe{{Name: events.ProbeDryRun, Outcome: events.ProbeOK}}}, nil
}

func (f *fakeSource) listCalls(region string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[region]
}

// busMsg is a message read back from the SNAPSHOTS stream.
type busMsg struct {
	subject string
	data    []byte
	size    int // payload + headers
}

// readSubject returns every message stored on subject (wildcards allowed).
func readSubject(t *testing.T, js jetstream.JetStream, subject string) []busMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, natsx.StreamSnapshots, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	want := int(info.NumPending)
	var out []busMsg
	for len(out) < want {
		batch, err := c.Fetch(min(want-len(out), 500), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		for m := range batch.Messages() {
			hs := 0
			for k, vs := range m.Headers() {
				for _, v := range vs {
					hs += len(k) + len(v) + 4
				}
			}
			out = append(out, busMsg{subject: m.Subject(), data: m.Data(), size: len(m.Data()) + hs + len("NATS/1.0\r\n\r\n")})
		}
		if err := batch.Error(); err != nil {
			t.Fatalf("fetch batch: %v", err)
		}
	}
	return out
}

// closesOn returns the close records stored for sc.
func closesOn(t *testing.T, js jetstream.JetStream, sc events.Scope) []*events.PassClose {
	t.Helper()
	var out []*events.PassClose
	for _, m := range readSubject(t, js, natsx.PassSubject(natsScope(sc))) {
		c, err := events.DecodeAs[*events.PassClose](m.data)
		if err != nil {
			t.Fatalf("decode close: %v", err)
		}
		out = append(out, c)
	}
	return out
}

// eventually polls cond every 20ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
