package app

import (
	"context"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// SteerMemory leaves the runtime to an operator's GOMEMLIMIT or GOGC and
// to a zero target; otherwise it sets the soft limit and puts the old one
// back when ctx ends.
func TestSteerMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	for _, tc := range []struct {
		name       string
		target     int
		gomemlimit string
		gogc       string
		want       bool
	}{
		{"default target", 150, "", "", true},
		{"zero turns it off", 0, "", "", false},
		{"GOMEMLIMIT wins", 150, "1GiB", "", false},
		{"GOGC wins", 150, "", "50", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tc.gomemlimit)
			t.Setenv("GOGC", tc.gogc)
			ctx, cancel := context.WithCancel(context.Background())
			got := SteerMemory(ctx, ProcessConfig{MemoryTargetMiB: tc.target}, zerolog.Nop())
			if got != tc.want {
				cancel()
				t.Fatalf("SteerMemory = %v, want %v", got, tc.want)
			}
			if got {
				waitLimit(t, func(l int64) bool { return l >= int64(tc.target)<<20 && l < before })
			} else if l := debug.SetMemoryLimit(-1); l != before {
				t.Fatalf("limit %d changed from %d though not steering", l, before)
			}
			cancel()
			waitLimit(t, func(l int64) bool { return l == before })
		})
	}
}

func waitLimit(t *testing.T, ok func(int64) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(debug.SetMemoryLimit(-1)) {
		if time.Now().After(deadline) {
			t.Fatalf("memory limit stays %d", debug.SetMemoryLimit(-1))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProcessConfigDefaults(t *testing.T) {
	if got := DefaultProcessConfig().MemoryTargetMiB; got != 150 {
		t.Fatalf("default JMSSYNC_MEMORY_TARGET_MIB = %d, want 150", got)
	}
	_, err := LoadConfigs(map[string]string{"JMSSYNC_MEMORY_TARGET_MIB": "-1"})
	if err == nil || !strings.Contains(err.Error(), "JMSSYNC_MEMORY_TARGET_MIB: must not be negative") {
		t.Fatalf("a negative JMSSYNC_MEMORY_TARGET_MIB: error %v", err)
	}
}

// The external NATS server's password is among the values every log line
// is masked for, like the services' own secrets.
func TestNATSPasswordIsMasked(t *testing.T) {
	const pw = "nats-pw-9f3e1c"
	c, _ := loadConfigs(map[string]string{"JMSSYNC_NATS_URL": "nats://127.0.0.1:4222",
		"JMSSYNC_NATS_USER": "jms-sync", "JMSSYNC_NATS_PASSWORD": pw})
	if !slices.Contains(c.SecretValues(), pw) {
		t.Fatal("JMSSYNC_NATS_PASSWORD is not among the masked values")
	}
	if c.NATS.URL != "nats://127.0.0.1:4222" || c.NATS.User != "jms-sync" {
		t.Fatalf("NATS config %+v", c.NATS)
	}
}
