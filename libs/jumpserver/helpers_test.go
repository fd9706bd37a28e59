package jumpserver

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// startSim starts a simulator and checks, when the test ends, that no PUT
// was ever sent to it.
func startSim(t *testing.T, o jmssim.Options) *jmssim.Server {
	t.Helper()
	s := jmssim.Start(t, o)
	noPut(t, s)
	return s
}

// noPut checks, when the test ends, that no PUT reached s.
func noPut(t *testing.T, s *jmssim.Server) {
	t.Cleanup(func() {
		for k, v := range s.Counters().Requests {
			if strings.HasPrefix(k, "PUT ") {
				t.Errorf("the client sent %d PUT request(s): %s", v, k)
			}
		}
	})
}

func testConfig(s *jmssim.Server) Config {
	return Config{
		URL:           s.URL,
		KeyID:         jmssim.DefaultKeyID,
		Secret:        config.Secret(jmssim.DefaultSecret),
		Timeout:       5 * time.Second,
		RatePerSecond: 5000,
		Burst:         100,
		RetryBackoff:  10 * time.Millisecond,
		Breaker:       BreakerConfig{OpenTimeout: 300 * time.Millisecond},
	}
}

func newTestClient(t *testing.T, s *jmssim.Server, edit func(*Config)) *Client {
	t.Helper()
	cfg := testConfig(s)
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startedClient(t *testing.T, s *jmssim.Server, edit func(*Config)) (*Client, Info) {
	t.Helper()
	c := newTestClient(t, s, edit)
	info, err := c.Start(t.Context())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c, info
}

// count returns how many requests "METHOD /route/" the simulator served.
func count(s *jmssim.Server, key string) int64 { return s.Counters().Requests[key] }

var testNS = uuid.MustParse("8c6b0c1e-5f7a-4d4e-9d0e-6a1f2b3c4d5e")

func assetID(i int) string { return uuid.NewSHA1(testNS, fmt.Appendf(nil, "i-%d", i)).String() }

// hostsFor builds n hosts named prefix-<i> on platform, ids deterministic.
func hostsFor(n, from int, prefix string, platform int) []HostCreate {
	out := make([]HostCreate, n)
	for i := range out {
		k := from + i
		out[i] = HostCreate{
			ID: assetID(k), Name: fmt.Sprintf("%s-%04d", prefix, k),
			Address: fmt.Sprintf("10.1.%d.%d", k/250, k%250+1), PlatformID: platform,
			Protocols: []events.Protocol{{Name: "ssh", Port: 22}},
			Labels:    []events.Label{{Name: "jmssync", Value: "test"}},
			Comment:   "sync",
		}
	}
	return out
}

func mustStatus(t *testing.T, res []ItemResult, want ItemStatus) {
	t.Helper()
	for i, r := range res {
		if r.Status != want {
			t.Fatalf("item %d (%s): status %s, err %v; want %s", i, r.ID, r.Status, r.Err, want)
		}
	}
}

func statusCounts(res []ItemResult) map[ItemStatus]int {
	m := map[ItemStatus]int{}
	for _, r := range res {
		m[r.Status]++
	}
	return m
}

func orgState(t *testing.T, s *jmssim.Server, id string) jmssim.OrgState {
	t.Helper()
	for _, o := range s.State().Orgs {
		if o.ID == id {
			return o
		}
	}
	t.Fatalf("org %s not in the simulator", id)
	return jmssim.OrgState{}
}
