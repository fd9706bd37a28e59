// Package logtest holds what tests need from logging: a log sink that many
// goroutines may write to and a test may read, e.g. to scan for secrets.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is a concurrency-safe io.Writer that keeps everything written.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes returns a copy of what was written.
func (l *Buffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// String returns what was written.
func (l *Buffer) String() string { return string(l.Bytes()) }
