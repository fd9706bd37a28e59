// Package aliyuncollector is the Aliyun collector service: its configuration
// (JMSSYNC_* variables) and Run, shared by its main and the all-in-one.
package aliyuncollector

import (
	"errors"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
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
	errs := collector.AccountFields{ID: a.ID, Name: a.Name, AccessKeyID: a.AccessKeyID,
		SecretVar: "ACCESS_KEY_SECRET", SecretSet: a.AccessKeySecret.IsSet(), Regions: a.Regions}.Problems()
	return errors.Join(errs...)
}

// Validate checks the accounts as a whole.
func (c Config) Validate() error {
	ids := make([]string, len(c.Accounts))
	for i, a := range c.Accounts {
		ids[i] = a.StableID()
	}
	return collector.CheckAccounts("ALIYUN_ACCOUNTS", ids)
}

// StableID is the account id, defaulting to its name.
func (a Account) StableID() string { return asset.StableAccountID(a.ID, a.Name) }
