package huaweicollector

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/services/collector-huaweicloud/internal/huawei"
)

// Service is the name the collector uses on the bus and in telemetry.
const Service = "collector-huaweicloud"

// Targets builds one Source per enabled account and a Target per region.
func Targets(cfg Config) ([]collector.Target, error) {
	var targets []collector.Target
	for i, a := range cfg.Accounts {
		if a.Disabled {
			continue
		}
		src, err := huawei.New(huawei.Config{AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey.Reveal(),
			AccountID: a.StableID(), AccountName: a.Name, Regions: a.Regions, ProjectIDs: a.ProjectIDs,
			Endpoint: cfg.Endpoint, IAMEndpoint: cfg.IAMEndpoint, EnterpriseProjectID: a.EnterpriseProjectID,
			Timeout: cfg.Timeout})
		if err != nil {
			return nil, fmt.Errorf("account %d (%s): %w", i, a.StableID(), err)
		}
		for _, r := range a.Regions {
			targets = append(targets, collector.Target{Source: src,
				Scope: events.Scope{Provider: asset.HuaweiCloud, AccountID: a.StableID(), AccountName: a.Name, Region: r}})
		}
	}
	return targets, nil
}

// Run serves the collector until ctx ends. Its main and the all-in-one call it.
func Run(ctx context.Context, cfg Config, log zerolog.Logger) error {
	targets, err := Targets(cfg)
	if err != nil {
		return err
	}
	return collector.Serve(ctx, Service, asset.HuaweiCloud, cfg.ServiceConfig, targets, log)
}
