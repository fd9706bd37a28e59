package logging

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOutputRotatesAndRedacts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "jms-sync.log")
	w, c, err := Output(io.Discard, FileOptions{Path: path, MaxSizeMB: 1, Backups: 2})
	if err != nil {
		t.Fatal(err)
	}
	log := New(w, "info", "file-test", WithSecrets("file-secret-value"))
	line := strings.Repeat("x", 2000)
	for range 1200 { // ~2.4 MB: at least two rotations at 1 MB
		log.Info().Str("password", "file-secret-value").Str("pad", line).Msg("filling")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "logs", "jms-sync*.log"))
	if len(files) < 2 || len(files) > 3 {
		t.Fatalf("%d log files (%v); want the current one plus at most 2 backups", len(files), files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "file-secret-value") {
			t.Fatalf("%s holds the secret", f)
		}
	}
	if _, _, err := Output(io.Discard, FileOptions{Path: path, Backups: -1}); err == nil {
		t.Fatal("negative backups accepted")
	}
}
