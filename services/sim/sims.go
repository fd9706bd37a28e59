package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/jmssync/jmssync/libs/sim/aliyunsim"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/dingtalksim"
	"github.com/jmssync/jmssync/libs/sim/huaweisim"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// sims is the four running simulators.
type sims struct {
	jms      *jmssim.Server
	aliyun   *aliyunsim.Server
	huawei   *huaweisim.Server
	dingtalk *dingtalksim.Server
	closers  []func() error
}

// faults builds the listing faults both clouds share.
func (c config) faults() cloudinv.Faults {
	f := cloudinv.Faults{ThrottleEvery: c.ThrottleEvery, Latency: c.CloudLatency, FailPage: c.FailPage}
	if c.FailRegion != "" {
		f.FailRegions = map[string]bool{c.FailRegion: true}
	}
	return f
}

func (c config) inventory(p cloudinv.Provider, regions string) *cloudinv.Inventory {
	inv := cloudinv.New(cloudinv.Spec{Provider: p, Seed: c.Seed, Regions: splitList(regions), PerRegion: c.PerRegion,
		WindowsPercent: c.Windows, StoppedPercent: c.Stopped})
	inv.SetFaults(c.faults())
	return inv
}

func start(c config) (_ *sims, err error) {
	perm, _ := c.permission()
	iam, _ := c.iamMode()
	s := &sims{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()

	s.jms = jmssim.New(jmssim.Options{
		Knobs: jmssim.Knobs{Latency: c.JMSLatency, PerItemCost: c.JMSPerItem, Workers: c.JMSWorkers,
			ErrorRate: c.JMSErrorRate, ThrottlePerMinute: c.JMSThrottle, DropRate: c.JMSDropRate,
			AssetCap: c.JMSCap, Licensed: c.JMSLicensed},
		Version: c.JMSVersion, RootNodeName: c.JMSRootNode, CaseInsensitiveNames: c.JMSCaseFold,
		AccessKeys:       []jmssim.AccessKey{{ID: c.JMSKeyID, Secret: c.JMSSecret, User: jmssim.DefaultUsername}},
		NoInternalErrors: c.JMSNoInternal500, Seed: c.Seed,
	})
	if c.JMSSeedHandmade > 0 {
		if err := s.jms.Seed(jmssim.Seed{Generate: []jmssim.SeedGenerate{{Count: c.JMSSeedHandmade, Prefix: "handmade-",
			Comment: "created by hand; jms-sync must leave it alone"}}}); err != nil {
			return nil, fmt.Errorf("seed JumpServer: %w", err)
		}
	}
	if err := s.jms.Listen(c.JMSAddr); err != nil {
		return nil, fmt.Errorf("JumpServer on %s: %w", c.JMSAddr, err)
	}
	s.closers = append(s.closers, s.jms.Close)

	s.aliyun = aliyunsim.New(aliyunsim.Options{
		Inventory:   c.inventory(cloudinv.Aliyun, c.AliyunRegions),
		Keys:        []cloudinv.Key{{ID: c.AliyunKeyID, Secret: c.AliyunSecret, Account: c.AliyunAccount, Permission: perm}},
		ThrottleRPM: c.AliyunRPM,
	})
	if err := s.aliyun.Listen(c.AliyunAddr); err != nil {
		return nil, fmt.Errorf("Aliyun on %s: %w", c.AliyunAddr, err)
	}
	s.closers = append(s.closers, s.aliyun.Close)

	s.huawei = huaweisim.New(huaweisim.Options{
		Inventory: c.inventory(cloudinv.Huawei, c.HuaweiRegions),
		Keys:      []cloudinv.Key{{ID: c.HuaweiAK, Secret: c.HuaweiSK, Account: c.HuaweiAccount, Permission: perm}},
		RateLimit: c.HuaweiRate,
		IAM:       iam,
	})
	if err := s.huawei.Listen(c.HuaweiAddr); err != nil {
		return nil, fmt.Errorf("Huawei Cloud on %s: %w", c.HuaweiAddr, err)
	}
	s.closers = append(s.closers, s.huawei.Close)

	dopts := dingtalksim.Options{
		Robots:    []dingtalksim.Robot{{Token: c.DingTalkToken, Name: "jms-sync demo", Secret: c.DingTalkSecret}},
		RateLimit: c.DingTalkRate, BlockFor: c.DingTalkBlock, ThrottleErrcode: c.DingTalkErrcode,
	}
	if err := dopts.Validate(); err != nil {
		return nil, fmt.Errorf("DingTalk: %w", err)
	}
	s.dingtalk = dingtalksim.New(dopts)
	if err := s.dingtalk.Listen(c.DingTalkAddr); err != nil {
		return nil, fmt.Errorf("DingTalk on %s: %w", c.DingTalkAddr, err)
	}
	s.closers = append(s.closers, s.dingtalk.Close)
	return s, nil
}

func (s *sims) close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// describe prints where each simulator listens and which identities it
// accepts. Secrets are the simulator's own demo values, set by flags; they
// are not printed.
func (s *sims) describe(w io.Writer, c config) {
	fmt.Fprintf(w, "JumpServer %s   %s   access key %s (root node %s, cap %s)\n", c.JMSVersion, s.jms.URL, c.JMSKeyID, c.JMSRootNode, capText(c))
	fmt.Fprintf(w, "Aliyun ECS     %s   AccessKeyId %s, account %s, regions %s, %d instances each\n", s.aliyun.URL, c.AliyunKeyID, c.AliyunAccount, c.AliyunRegions, c.PerRegion)
	fmt.Fprintf(w, "Huawei ECS/IAM %s   AK %s, domain %s, regions %s, %d instances each\n", s.huawei.URL, c.HuaweiAK, c.HuaweiAccount, c.HuaweiRegions, c.PerRegion)
	fmt.Fprintf(w, "DingTalk robot %s   token %s (signed: %v)\n", s.dingtalk.WebhookURL(c.DingTalkToken), c.DingTalkToken, c.DingTalkSecret != "")
	fmt.Fprintf(w, "control APIs under /_sim/ on each port; Ctrl-C stops\n")
}

func capText(c config) string {
	if c.JMSLicensed {
		return "none (licensed)"
	}
	return fmt.Sprint(c.JMSCap)
}
