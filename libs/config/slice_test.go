package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type sliceAccount struct {
	ID     string   `env:"ID"`
	Key    Secret   `env:"KEY"`
	Region []string `env:"REGIONS"`
}

func (a sliceAccount) Validate() error {
	if len(a.Region) == 0 {
		return Invalid("REGIONS", "at least one region is required")
	}
	return nil
}

type sliceConfig struct {
	Accounts []sliceAccount `envPrefix:"ACCOUNTS"`
}

func TestSliceOfStructsFilesAndValidation(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("from-file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load[sliceConfig](WithPrefix("X_"), WithEnvironment(map[string]string{
		"X_ACCOUNTS_0_ID": "a", "X_ACCOUNTS_0_KEY": "inline-secret", "X_ACCOUNTS_0_REGIONS": "r1,r2",
		"X_ACCOUNTS_1_ID": "b", "X_ACCOUNTS_1_KEY_FILE": file, "X_ACCOUNTS_1_REGIONS": "r3",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Accounts) != 2 || cfg.Accounts[1].Key.Reveal() != "from-file-secret" || len(cfg.Accounts[0].Region) != 2 {
		t.Fatalf("got %+v", cfg.Accounts)
	}

	_, err = Load[sliceConfig](WithPrefix("X_"), WithEnvironment(map[string]string{
		"X_ACCOUNTS_0_ID": "a", "X_ACCOUNTS_0_KEY": "inline-secret",
		"X_ACCOUNTS_1_ID": "b", "X_ACCOUNTS_1_KEY": "other-secret", "X_ACCOUNTS_1_KEY_FILE": file, "X_ACCOUNTS_1_REGIONS": "r",
	}))
	if err == nil {
		t.Fatal("invalid accounts accepted")
	}
	msg := err.Error()
	for _, want := range []string{"X_ACCOUNTS_0_REGIONS", "X_ACCOUNTS_1_KEY_FILE"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %s", msg, want)
		}
	}
	for _, secret := range []string{"inline-secret", "other-secret"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error text leaks %q: %s", secret, msg)
		}
	}
}
