package aliyuncollector

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/services/collector-aliyun/internal/aliyun"
)

// Service is the name the collector uses on the bus and in telemetry.
const Service = "collector-aliyun"

// Targets builds one Source per enabled account and a Target per region.
func Targets(cfg Config) ([]collector.Target, error) {
	var targets []collector.Target
	for i, a := range cfg.Accounts {
		if a.Disabled {
			continue
		}
		endpoint := a.Endpoint
		if endpoint == "" {
			endpoint = cfg.Endpoint
		}
		src, err := aliyun.New(aliyun.Config{AccessKeyID: a.AccessKeyID, AccessKeySecret: a.AccessKeySecret.Reveal(),
			AccountID: a.StableID(), AccountName: a.Name, Regions: a.Regions, Endpoint: endpoint, Timeout: cfg.Timeout})
		if err != nil {
			return nil, fmt.Errorf("account %d (%s): %w", i, a.StableID(), err)
		}
		for _, r := range a.Regions {
			targets = append(targets, collector.Target{Source: src,
				Scope: events.Scope{Provider: asset.Aliyun, AccountID: a.StableID(), AccountName: a.Name, Region: r}})
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
	return collector.Serve(ctx, Service, asset.Aliyun, cfg.ServiceConfig, targets, log)
}
