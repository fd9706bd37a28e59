package logging

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

// FileOptions describe a rotating log file (the old tool's log.file,
// log.max_size and log.backup_count).
type FileOptions struct {
	Path      string
	MaxSizeMB int // rotate above this size (default 100)
	Backups   int // rotated files kept (default 5; the old tool's default)
}

// Output returns where logs go: console alone, or console and a rotating
// file when o.Path is set. The returned closer closes the file.
func Output(console io.Writer, o FileOptions) (io.Writer, io.Closer, error) {
	if o.Path == "" {
		return console, nopCloser{}, nil
	}
	if o.MaxSizeMB <= 0 {
		o.MaxSizeMB = 100
	}
	if o.Backups < 0 {
		return nil, nil, fmt.Errorf("log backups: %d is negative", o.Backups)
	}
	if o.Backups == 0 {
		o.Backups = 5
	}
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o750); err != nil {
		return nil, nil, fmt.Errorf("log file directory: %w", err)
	}
	f := &lumberjack.Logger{Filename: o.Path, MaxSize: o.MaxSizeMB, MaxBackups: o.Backups}
	return io.MultiWriter(console, f), f, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
