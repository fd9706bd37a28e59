package collector

import (
	"errors"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/config"
)

// AccountFields is what every cloud account configuration has in common,
// for the checks both collectors make of their accounts.
type AccountFields struct {
	ID, Name, AccessKeyID string
	SecretVar             string // the secret's variable, e.g. "ACCESS_KEY_SECRET"
	SecretSet             bool
	Regions               []string
}

// Problems names every missing piece of an account.
func (a AccountFields) Problems() []error {
	var errs []error
	if asset.StableAccountID(a.ID, a.Name) == "" {
		errs = append(errs, config.Invalid("ID", "give the account an id or a name"))
	}
	if a.AccessKeyID == "" {
		errs = append(errs, config.Invalid("ACCESS_KEY_ID", "is required"))
	}
	if !a.SecretSet {
		errs = append(errs, config.Invalid(a.SecretVar, "is required (or %s_FILE)", a.SecretVar))
	}
	if len(a.Regions) == 0 {
		errs = append(errs, config.Invalid("REGIONS", "list at least one region"))
	}
	return errs
}

// CheckAccounts checks a collector's account list as a whole: at least one,
// and no stable id twice. prefix names the list's variables, e.g.
// "ALIYUN_ACCOUNTS".
func CheckAccounts(prefix string, stableIDs []string) error {
	if len(stableIDs) == 0 {
		return config.Invalid(prefix+"_0_ID", "configure at least one account")
	}
	seen := map[string]bool{}
	var errs []error
	for _, id := range stableIDs {
		if seen[id] {
			errs = append(errs, config.Invalid(prefix, "account id %q is used twice", id))
		}
		seen[id] = true
	}
	return errors.Join(errs...)
}
