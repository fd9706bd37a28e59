package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/natsx"
)

// RunLockKey is the jmssync_state key `serve`, `once` and the in-process
// `confirm`/`prune` hold while they run the pipeline: a JSON lockValue,
// created with a TTL and renewed by compare-and-set; an expired value may
// be taken over (a crashed holder blocks nobody for longer than the TTL).
const RunLockKey = "jmssync.run.lock"

// RunLockTTL is how long the lock lasts without renewal; it is renewed
// every third of it.
const RunLockTTL = 30 * time.Second

// ErrLocked: another jms-sync (serve, once…) holds the run lock.
var ErrLocked = errors.New("another jms-sync holds the run lock")

type lockValue struct {
	Holder   string    `json:"holder"`
	Command  string    `json:"command"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// RunLock is a held run lock.
type RunLock struct {
	kv    jetstream.KeyValue
	val   lockValue
	ttl   time.Duration
	log   zerolog.Logger
	mu    sync.Mutex
	rev   uint64
	lost  chan struct{}
	stop  context.CancelFunc
	done  chan struct{}
	gone  bool
	close sync.Once
}

// HolderError describes who holds the lock.
type HolderError struct {
	Command string
	Host    string
	PID     int
	Expires time.Time
}

func (e *HolderError) Error() string {
	return fmt.Sprintf("%v: %s (pid %d on %s) until %s unless it renews it", ErrLocked, e.Command, e.PID, e.Host,
		e.Expires.UTC().Format(time.RFC3339))
}

func (e *HolderError) Unwrap() error { return ErrLocked }

// AcquireRunLock takes the run lock for command, or fails with a
// *HolderError (errors.Is ErrLocked) while someone else holds it. The lock
// is renewed in the background until Release; Lost is closed if it is
// taken away (renewals failed for longer than the TTL and another process
// took it).
func AcquireRunLock(ctx context.Context, js jetstream.JetStream, command string, ttl time.Duration, log zerolog.Logger) (*RunLock, error) {
	if ttl <= 0 {
		ttl = RunLockTTL
	}
	kv, err := js.KeyValue(ctx, natsx.BucketState)
	if err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	now := time.Now().UTC()
	l := &RunLock{kv: kv, ttl: ttl, log: log, lost: make(chan struct{}), done: make(chan struct{}),
		val: lockValue{Holder: hex.EncodeToString(b[:]), Command: command, Host: host, PID: os.Getpid(), Acquired: now}}
	if err := l.take(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.stop = cancel
	go l.renewLoop(rctx)
	return l, nil
}

func (l *RunLock) encode() []byte {
	v := l.val
	v.Expires = time.Now().Add(l.ttl).UTC()
	b, _ := json.Marshal(v)
	return b
}

func (l *RunLock) take(ctx context.Context) error {
	e, err := l.kv.Get(ctx, RunLockKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err := l.kv.Create(ctx, RunLockKey, l.encode(), jetstream.KeyTTL(l.ttl.Round(time.Second)+time.Second))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return l.take(ctx) // raced: read who won
		}
		if err != nil {
			return fmt.Errorf("run lock: %w", err)
		}
		l.rev = rev
		return nil
	case err != nil:
		return fmt.Errorf("run lock: %w", err)
	}
	var cur lockValue
	if json.Unmarshal(e.Value(), &cur) == nil && cur.Holder != l.val.Holder && time.Now().Before(cur.Expires) {
		return &HolderError{Command: cur.Command, Host: cur.Host, PID: cur.PID, Expires: cur.Expires}
	}
	rev, err := l.kv.Update(ctx, RunLockKey, l.encode(), e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return l.take(ctx)
	}
	if err != nil {
		return fmt.Errorf("run lock: %w", err)
	}
	if cur.Holder != "" {
		log := l.log.Warn()
		if cur.Holder == l.val.Holder {
			log = l.log.Debug()
		}
		log.Str("previous", cur.Command).Int("previous_pid", cur.PID).Msg("run lock taken over after it expired")
	}
	l.rev = rev
	return nil
}

func (l *RunLock) renewLoop(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		rev, err := l.kv.Update(ctx, RunLockKey, l.encode(), l.rev)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			rev, err = l.kv.Create(ctx, RunLockKey, l.encode(), jetstream.KeyTTL(l.ttl.Round(time.Second)+time.Second))
		}
		switch {
		case err == nil:
			l.rev = rev
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists):
			l.gone = true
			l.mu.Unlock()
			l.log.Error().Msg("run lock lost: another jms-sync took it over")
			close(l.lost)
			return
		case ctx.Err() == nil:
			l.log.Warn().Err(err).Msg("run lock renewal failed; retrying")
		}
		l.mu.Unlock()
	}
}

// Lost is closed when the lock was taken over by another process.
func (l *RunLock) Lost() <-chan struct{} { return l.lost }

// Release stops the renewals and deletes the lock if it is still ours.
func (l *RunLock) Release(ctx context.Context) {
	if l == nil {
		return
	}
	l.close.Do(func() {
		l.stop()
		<-l.done
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.gone {
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := l.kv.Delete(ctx, RunLockKey, jetstream.LastRevision(l.rev)); err != nil &&
			!errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			l.log.Warn().Err(err).Msg("run lock not released; it expires by itself")
		}
	})
}
