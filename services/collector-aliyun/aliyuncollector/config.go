// Package aliyuncollector is the Aliyun collector service: its configuration
// (JMSSYNC_* variables) and Run, shared by its main and the all-in-one.
package aliyuncollector

import (
	"errors"
	"time"

	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/config"
)

// Config is read from JMSSYNC_* environment variables. Accounts are indexed:
// JMSSYNC_ALIYUN_ACCOUNTS_0_ID, _0_NAME, _0_ACCESS_KEY_ID,
// _0_ACCESS_KEY_SECRET (or _0_ACCESS_KEY_SECRET_FILE), _0_REGIONS, …
type Config struct {
	collector.ServiceConfig
	// Endpoint, when set, sends every account to one host (a private cloud
	// or the simulator) instead of Aliyun's regional HTTPS endpoints.
	Endpoint string        `env:"ALIYUN_ENDPOINT"`
	Timeout  time.Duration `env:"ALIYUN_TIMEOUT" envDefault:"10s"`
	Accounts []Account     `envPrefix:"ALIYUN_ACCOUNTS"`
}

// Account is one Aliyun account (a RAM access key) and its regions.
type Account struct {
	// ID is the stable id used in scopes and subjects; it defaults to Name.
	// Renaming Name keeps the assets; changing ID re-scopes them.
	ID              string        `env:"ID"`
	Name            string        `env:"NAME"`
	AccessKeyID     string        `env:"ACCESS_KEY_ID"`
	AccessKeySecret config.Secret `env:"ACCESS_KEY_SECRET"`
	Regions         []string      `env:"REGIONS"`
	// Endpoint overrides the collector-wide endpoint for this account.
	Endpoint string `env:"ENDPOINT"`
	// Disabled accounts are not listed; their assets become orphaned.
	Disabled bool `env:"DISABLED"`
}

// Validate names every missing piece of an account.
func (a Account) Validate() error {
	var errs []error
	if a.ID == "" && a.Name == "" {
		errs = append(errs, config.Invalid("ID", "give the account an id or a name"))
	}
	if a.AccessKeyID == "" {
		errs = append(errs, config.Invalid("ACCESS_KEY_ID", "is required"))
	}
	if !a.AccessKeySecret.IsSet() {
		errs = append(errs, config.Invalid("ACCESS_KEY_SECRET", "is required (or ACCESS_KEY_SECRET_FILE)"))
	}
	if len(a.Regions) == 0 {
		errs = append(errs, config.Invalid("REGIONS", "list at least one region"))
	}
	return errors.Join(errs...)
}

// Validate checks the accounts as a whole.
func (c Config) Validate() error {
	if len(c.Accounts) == 0 {
		return config.Invalid("ALIYUN_ACCOUNTS_0_ID", "configure at least one account")
	}
	seen := map[string]bool{}
	var errs []error
	for _, a := range c.Accounts {
		id := a.StableID()
		if seen[id] {
			errs = append(errs, config.Invalid("ALIYUN_ACCOUNTS", "account id %q is used twice", id))
		}
		seen[id] = true
	}
	return errors.Join(errs...)
}

// StableID is the account id, defaulting to its name.
func (a Account) StableID() string {
	if a.ID != "" {
		return a.ID
	}
	return a.Name
}
