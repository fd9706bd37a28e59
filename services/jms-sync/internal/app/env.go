// Package app runs jms-sync's services in one process: the embedded (or an
// external) NATS JetStream, the collectors, the reconciler, the applier and
// the notifier, and the operator commands built on them.
package app

import (
	"fmt"
	"os"
	"strings"

	"github.com/jmssync/jmssync/services/jms-sync/internal/legacyconfig"
)

// Environment is the JMSSYNC_* configuration every service reads: the old
// tool's YAML file (when given) turned into variables, under the process
// environment, which wins.
type Environment struct {
	Vars     map[string]string
	Warnings []legacyconfig.Warning
	// Secrets are the secret values, to register with the log redactor.
	Secrets []string
}

// LoadEnvironment reads configFile ("" = none) and merges the process
// environment over it.
func LoadEnvironment(configFile string, environ map[string]string) (*Environment, error) {
	if environ == nil {
		environ = processEnviron()
	}
	env := &Environment{Vars: map[string]string{}}
	if configFile != "" {
		data, err := os.ReadFile(configFile)
		if err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		f, warnings, err := legacyconfig.Parse(data, func(k string) (string, bool) { v, ok := environ[k]; return v, ok })
		env.Warnings = warnings
		if err != nil {
			return env, fmt.Errorf("config file %s: %w", configFile, err)
		}
		env.Vars = f.Env()
		env.Secrets = f.SecretValues()
	}
	env.Vars = legacyconfig.Merge(env.Vars, onlyOurs(environ))
	return env, nil
}

func processEnviron() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func onlyOurs(environ map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range environ {
		if strings.HasPrefix(k, legacyconfig.Prefix) {
			out[k] = v
		}
	}
	return out
}

// has reports whether any variable starts with prefix (after JMSSYNC_).
func (e *Environment) has(prefix string) bool {
	for k := range e.Vars {
		if strings.HasPrefix(k, legacyconfig.Prefix+prefix) {
			return true
		}
	}
	return false
}

// with returns a copy of the variables with overrides applied.
func (e *Environment) with(overrides map[string]string) map[string]string {
	out := make(map[string]string, len(e.Vars)+len(overrides))
	for k, v := range e.Vars {
		out[k] = v
	}
	for k, v := range overrides {
		out[k] = v
	}
	return out
}
