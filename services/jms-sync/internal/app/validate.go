package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/services/collector-aliyun/aliyuncollector"
	"github.com/jmssync/jmssync/services/collector-huaweicloud/huaweicollector"
)

// ValidateOptions shape `validate`.
type ValidateOptions struct {
	// Offline skips the checks that contact JumpServer and the clouds.
	Offline bool
	// Timeout bounds each network check (20s when 0).
	Timeout time.Duration
	Log     zerolog.Logger
}

// ValidateResult lists every problem found and every check made.
type ValidateResult struct {
	// Config problems name their variable (or config.yaml key).
	Config []string
	// Network problems: credentials or connectivity.
	Network []string
	// Checks that passed, for the report.
	OK       []string
	Warnings []string
	Skipped  []string
}

// ExitCode: 0 all good, 2 the configuration is invalid, 1 it is valid but
// a credential or connectivity check failed.
func (r *ValidateResult) ExitCode() int {
	switch {
	case len(r.Config) > 0:
		return ExitUsage
	case len(r.Network) > 0:
		return ExitFailed
	}
	return ExitOK
}

// Print writes the report: every problem, then what was checked.
func (r *ValidateResult) Print(w io.Writer) {
	for _, s := range r.Warnings {
		fmt.Fprintln(w, "warning:", s)
	}
	for _, s := range r.Config {
		fmt.Fprintln(w, "problem:", s)
	}
	for _, s := range r.Network {
		fmt.Fprintln(w, "problem:", s)
	}
	for _, s := range r.OK {
		fmt.Fprintln(w, "ok:", s)
	}
	for _, s := range r.Skipped {
		fmt.Fprintln(w, "skipped:", s)
	}
	switch n := len(r.Config) + len(r.Network); {
	case n == 0:
		fmt.Fprintln(w, "configuration is valid")
	case n == 1:
		fmt.Fprintln(w, "1 problem")
	default:
		fmt.Fprintf(w, "%d problems\n", n)
	}
}

// Validate checks the configuration and, unless o.Offline, the credentials
// it can check without changing anything: JumpServer (authentication, the
// org exists, version, root node) and each enabled cloud account (the
// account the key belongs to). DingTalk robots are checked as configured
// only: a test message would reach people. Every problem is listed.
func Validate(ctx context.Context, env *Environment, o ValidateOptions) *ValidateResult {
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	r := &ValidateResult{}
	for _, w := range env.Warnings {
		r.Warnings = append(r.Warnings, fmt.Sprint(w))
	}
	cfgs, errs := loadConfigs(env.Vars)
	secrets := append(slices.Clone(env.Secrets), cfgs.SecretValues()...)
	mask := func(s string) string {
		for _, v := range secrets {
			if len(v) >= 4 {
				s = strings.ReplaceAll(s, v, config.Redacted)
			}
		}
		return s
	}
	seen := map[string]bool{}
	for _, err := range errs {
		for _, p := range problems(err) {
			if p = mask(p); !seen[p] {
				seen[p] = true
				r.Config = append(r.Config, p)
			}
		}
	}
	if o.Offline {
		r.Skipped = append(r.Skipped, "network checks (-offline)")
		return r
	}
	check := func(name string, f func(context.Context) (string, error)) {
		ctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		detail, err := f(ctx)
		if err != nil {
			r.Network = append(r.Network, mask(name+": "+err.Error()))
			return
		}
		r.OK = append(r.OK, mask(name+": "+detail))
	}
	if cfgs.invalid["applier"] {
		r.Skipped = append(r.Skipped, "JumpServer credentials (fix the JumpServer settings first)")
	} else {
		check("JumpServer "+cfgs.Applier.JumpServer.URL, func(ctx context.Context) (string, error) {
			ccfg := cfgs.Applier.ClientConfig()
			log := o.Log
			ccfg.Logger = &log
			client, err := jumpserver.New(ccfg)
			if err != nil {
				return "", err
			}
			info, err := client.Start(ctx)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("signed in; org %q (%s), version %s, root node %s, %d platforms",
				info.Org.Name, info.Org.ID, info.Version, info.RootNode.Value, info.Platforms), nil
		})
	}
	accounts := func(cloud string, invalid bool, targets func() ([]collector.Target, error)) {
		if invalid {
			r.Skipped = append(r.Skipped, cloud+" credentials (fix the "+cloud+" settings first)")
			return
		}
		ts, err := targets()
		if err != nil {
			r.Network = append(r.Network, mask(cloud+": "+err.Error()))
			return
		}
		done := map[string]bool{}
		for _, t := range ts {
			if done[t.Scope.AccountID] {
				continue
			}
			done[t.Scope.AccountID] = true
			check(fmt.Sprintf("%s account %s (region %s)", cloud, t.Scope.AccountID, t.Scope.Region), func(ctx context.Context) (string, error) {
				id, err := t.Source.Identity(ctx, t.Scope.Region)
				if err != nil {
					return "", err
				}
				return "the key belongs to cloud account " + id, nil
			})
		}
	}
	if cfgs.Aliyun != nil || cfgs.invalid["aliyun collector"] {
		accounts("aliyun", cfgs.Aliyun == nil, func() ([]collector.Target, error) { return aliyuncollector.Targets(*cfgs.Aliyun) })
	}
	if cfgs.Huawei != nil || cfgs.invalid["huawei collector"] {
		accounts("huaweicloud", cfgs.Huawei == nil, func() ([]collector.Target, error) { return huaweicollector.Targets(*cfgs.Huawei) })
	}
	if cfgs.Notifier != nil {
		r.OK = append(r.OK, fmt.Sprintf("DingTalk: %s configured (not contacted: a test message would reach people)",
			pluralRobots(len(cfgs.Notifier.Robots))))
	}
	return r
}

func pluralRobots(n int) string {
	if n == 1 {
		return "1 robot"
	}
	return fmt.Sprintf("%d robots", n)
}

// problems splits a configuration error into one line per problem, each
// prefixed with the service it came from.
func problems(err error) []string {
	service, rest, _ := strings.Cut(err.Error(), ": ")
	var ce *config.Error
	if errors.As(err, &ce) {
		out := make([]string, 0, len(ce.Problems))
		for _, p := range ce.Problems {
			out = append(out, p.Error())
		}
		return out
	}
	var lines []string
	for l := range strings.SplitSeq(rest, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, service+": "+l)
		}
	}
	return lines
}
