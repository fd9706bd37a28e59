//go:build windows

package app

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive, non-blocking LockFileEx lock on path
// (created if missing) and writes our pid into it. Windows releases the
// lock when the handle closes, also when the process dies, so a crash never
// leaves the data directory locked (as flock on unix).
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	h := windows.Handle(f.Fd())
	// One byte far past any content: the pid written below stays readable
	// by others (a locked range cannot be read on Windows).
	const off = 1 << 30
	ol := &windows.Overlapped{Offset: off}
	err = windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if err != nil {
		_ = f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = windows.UnlockFileEx(h, 0, 1, 0, &windows.Overlapped{Offset: off})
		_ = f.Close()
	}, nil
}
