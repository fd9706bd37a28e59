//go:build !unix && !windows

package app

// lockFile is a no-op where neither flock nor LockFileEx is available: run
// one jms-sync process per data directory there.
func lockFile(string) (func(), error) { return func() {}, nil }
