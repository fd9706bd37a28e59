package collector

import (
	"errors"
	"fmt"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/natsx"
)

// Target is one account's region: the scope a pass covers and the Source
// that lists it. The Source is shared by all regions of the account.
type Target struct {
	Scope  events.Scope
	Source Source
}

// natsScope is the scope as natsx names it (subjects, lease keys).
func natsScope(s events.Scope) natsx.Scope {
	return natsx.Scope{Provider: string(s.Provider), Account: s.AccountID, Region: s.Region}
}

// validateTargets checks every target against provider and reports every
// problem at once.
func validateTargets(provider asset.Provider, targets []Target) error {
	var problems []error
	seen := make(map[string]bool, len(targets))
	for i, t := range targets {
		if err := t.Scope.Validate(); err != nil {
			problems = append(problems, fmt.Errorf("%w: targets[%d]: %w", ErrInvalidTarget, i, err))
			continue
		}
		if t.Scope.Provider != provider {
			problems = append(problems, fmt.Errorf("%w: targets[%d] (%s): provider is not %s", ErrInvalidTarget, i, t.Scope, provider))
		}
		if t.Source == nil {
			problems = append(problems, fmt.Errorf("%w: targets[%d] (%s): no source", ErrInvalidTarget, i, t.Scope))
		}
		key := natsx.LeaseKey(natsScope(t.Scope))
		if seen[key] {
			problems = append(problems, fmt.Errorf("%w: targets[%d] (%s): listed twice", ErrInvalidTarget, i, t.Scope))
		}
		seen[key] = true
	}
	return errors.Join(problems...)
}
