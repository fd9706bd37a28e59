package app

import (
	"context"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/memlimit"
)

// ProcessConfig is what the all-in-one process itself reads (JMSSYNC_*).
type ProcessConfig struct {
	// MemoryTargetMiB is the soft memory limit the Go runtime keeps while
	// the live heap is small (libs/memlimit); 0 leaves the runtime alone.
	MemoryTargetMiB int `env:"MEMORY_TARGET_MIB" envDefault:"150"`
}

func (c ProcessConfig) Validate() error {
	if c.MemoryTargetMiB < 0 {
		return config.Invalid("MEMORY_TARGET_MIB", "must not be negative (0 turns it off)")
	}
	return nil
}

// memoryEvery is how often the limit follows the live heap: often enough
// for the bursts of a cold sync, cheap (runtime/metrics reads no lock).
const memoryEvery = 250 * time.Millisecond

// DefaultProcessConfig is ProcessConfig with its defaults (demo).
func DefaultProcessConfig() ProcessConfig {
	c, _ := config.Load[ProcessConfig](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(map[string]string{}))
	return c
}

// SteerMemory runs libs/memlimit in the background until ctx ends; the
// process calls it once (the limit is the whole process's). It reports
// whether it did: not when the target is 0, nor when the operator set
// GOMEMLIMIT or GOGC (they chose; the runtime is left to them).
func SteerMemory(ctx context.Context, c ProcessConfig, log zerolog.Logger) bool {
	if c.MemoryTargetMiB == 0 {
		return false
	}
	for _, k := range []string{"GOMEMLIMIT", "GOGC"} {
		if v := os.Getenv(k); v != "" {
			log.Info().Str(k, v).Msg("the Go runtime's memory is set by " + k + ": JMSSYNC_MEMORY_TARGET_MIB not applied")
			return false
		}
	}
	go memlimit.Run(ctx, uint64(c.MemoryTargetMiB)<<20, memoryEvery)
	return true
}
