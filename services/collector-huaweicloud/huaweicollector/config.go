// Package huaweicollector is the Huawei Cloud collector service: its
// configuration (JMSSYNC_* variables) and Run, shared by its main and the
// all-in-one.
package huaweicollector

import (
	"errors"
	"time"

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
	var errs []error
	if a.ID == "" && a.Name == "" {
		errs = append(errs, config.Invalid("ID", "give the account an id or a name"))
	}
	if a.AccessKeyID == "" {
		errs = append(errs, config.Invalid("ACCESS_KEY_ID", "is required"))
	}
	if !a.SecretAccessKey.IsSet() {
		errs = append(errs, config.Invalid("SECRET_ACCESS_KEY", "is required (or SECRET_ACCESS_KEY_FILE)"))
	}
	if len(a.Regions) == 0 {
		errs = append(errs, config.Invalid("REGIONS", "list at least one region"))
	}
	for region := range a.ProjectIDs {
		if !contains(a.Regions, region) {
			errs = append(errs, config.Invalid("PROJECT_IDS", "region %q is not in REGIONS", region))
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Validate checks the accounts as a whole.
func (c Config) Validate() error {
	if len(c.Accounts) == 0 {
		return config.Invalid("HUAWEI_ACCOUNTS_0_ID", "configure at least one account")
	}
	seen := map[string]bool{}
	var errs []error
	for _, a := range c.Accounts {
		if seen[a.StableID()] {
			errs = append(errs, config.Invalid("HUAWEI_ACCOUNTS", "account id %q is used twice", a.StableID()))
		}
		seen[a.StableID()] = true
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
