// Package huaweicollector is the Huawei Cloud collector service: its
// configuration (JMSSYNC_* variables) and Run, shared by its main and the
// all-in-one.
package huaweicollector

import (
	"errors"
	"slices"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/config"
)

// Config is read from JMSSYNC_* environment variables. Accounts are indexed:
// JMSSYNC_HUAWEI_ACCOUNTS_0_ID, _0_NAME, _0_ACCESS_KEY_ID,
// _0_SECRET_ACCESS_KEY (or _0_SECRET_ACCESS_KEY_FILE), _0_REGIONS,
// _0_PROJECT_IDS ("cn-north-4:0123…,cn-east-3:…"; looked up through IAM when absent).
type Config struct {
	collector.ServiceConfig
	// Endpoint and IAMEndpoint, when set, send every account to one host
	// (a private cloud or the simulator) instead of Huawei's regional HTTPS
	// endpoints.
	Endpoint    string        `env:"HUAWEI_ENDPOINT"`
	IAMEndpoint string        `env:"HUAWEI_IAM_ENDPOINT"`
	Timeout     time.Duration `env:"HUAWEI_TIMEOUT" envDefault:"30s"`
	Accounts    []Account     `envPrefix:"HUAWEI_ACCOUNTS"`
}

// Account is one Huawei Cloud account (an AK/SK) and its regions.
type Account struct {
	// ID is the stable id used in scopes and subjects; it defaults to Name.
	ID              string            `env:"ID"`
	Name            string            `env:"NAME"`
	AccessKeyID     string            `env:"ACCESS_KEY_ID"`
	SecretAccessKey config.Secret     `env:"SECRET_ACCESS_KEY"`
	Regions         []string          `env:"REGIONS"`
	ProjectIDs      map[string]string `env:"PROJECT_IDS"`
	// EnterpriseProjectID narrows the listing ("" = every enterprise
	// project the key may see).
	EnterpriseProjectID string `env:"ENTERPRISE_PROJECT_ID"`
	// Disabled accounts are not listed; their assets become orphaned.
	Disabled bool `env:"DISABLED"`
}

// Validate names every missing piece of an account.
func (a Account) Validate() error {
	errs := collector.AccountFields{ID: a.ID, Name: a.Name, AccessKeyID: a.AccessKeyID,
		SecretVar: "SECRET_ACCESS_KEY", SecretSet: a.SecretAccessKey.IsSet(), Regions: a.Regions}.Problems()
	for region := range a.ProjectIDs {
		if !slices.Contains(a.Regions, region) {
			errs = append(errs, config.Invalid("PROJECT_IDS", "region %q is not in REGIONS", region))
		}
	}
	return errors.Join(errs...)
}

// Validate checks the accounts as a whole.
func (c Config) Validate() error {
	ids := make([]string, len(c.Accounts))
	for i, a := range c.Accounts {
		ids[i] = a.StableID()
	}
	return collector.CheckAccounts("HUAWEI_ACCOUNTS", ids)
}

// StableID is the account id, defaulting to its name.
func (a Account) StableID() string { return asset.StableAccountID(a.ID, a.Name) }
