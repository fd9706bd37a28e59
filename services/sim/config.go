package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/sim/aliyunsim"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/dingtalksim"
	"github.com/jmssync/jmssync/libs/sim/huaweisim"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// config is every knob of the four simulators, from flags.
type config struct {
	JMSAddr, AliyunAddr, HuaweiAddr, DingTalkAddr string

	Seed      uint64
	PerRegion int
	Windows   int
	Stopped   int

	// JumpServer.
	JMSVersion       string
	JMSRootNode      string
	JMSKeyID         string
	JMSSecret        string
	JMSCaseFold      bool
	JMSLicensed      bool
	JMSCap           int
	JMSLatency       time.Duration
	JMSPerItem       time.Duration
	JMSWorkers       int
	JMSErrorRate     float64
	JMSThrottle      int
	JMSDropRate      float64
	JMSSeedHandmade  int
	JMSNoInternal500 bool

	// Clouds.
	AliyunRegions   string
	AliyunKeyID     string
	AliyunSecret    string
	AliyunAccount   string
	AliyunRPM       int
	HuaweiRegions   string
	HuaweiAK        string
	HuaweiSK        string
	HuaweiAccount   string
	HuaweiRate      float64
	CloudLatency    time.Duration
	ThrottleEvery   int
	FailRegion      string
	FailPage        int
	ListPermission  string
	HuaweiIAMMode   string
	DingTalkToken   string
	DingTalkSecret  string
	DingTalkRate    int
	DingTalkBlock   time.Duration
	DingTalkErrcode int
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, `sim serves simulators of JumpServer v4, Aliyun ECS (+STS), Huawei Cloud ECS (+IAM)
and the DingTalk robot on loopback ports, with a seeded inventory. They speak the real
wire protocols (signatures verified), so the official SDKs and jms-sync run unmodified
against them. Each also serves a control API under /_sim/ (state, faults, mutations,
counters, request log, reset); see the package docs in libs/sim/….

Usage: sim [flags]

`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.JMSAddr, "jumpserver-addr", "127.0.0.1:18080", "JumpServer listen address (loopback only)")
	fs.StringVar(&c.AliyunAddr, "aliyun-addr", "127.0.0.1:18081", "Aliyun ECS/STS listen address (loopback only)")
	fs.StringVar(&c.HuaweiAddr, "huawei-addr", "127.0.0.1:18082", "Huawei Cloud ECS/IAM listen address (loopback only)")
	fs.StringVar(&c.DingTalkAddr, "dingtalk-addr", "127.0.0.1:18083", "DingTalk robot listen address (loopback only)")

	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the generated cloud inventories (same seed, same instances)")
	fs.IntVar(&c.PerRegion, "per-region", 250, "instances per region in each cloud")
	fs.IntVar(&c.Windows, "windows-percent", 20, "share of Windows instances")
	fs.IntVar(&c.Stopped, "stopped-percent", 10, "share of stopped instances")

	fs.StringVar(&c.JMSVersion, "jms-version", jmssim.V410, "JumpServer behaviour: 4.10 or 4.7")
	fs.StringVar(&c.JMSRootNode, "jms-root-node", "DEFAULT", "name of the Default org's root node: DEFAULT (v4 installs) or Default (upgraded installs)")
	fs.StringVar(&c.JMSKeyID, "jms-key-id", jmssim.DefaultKeyID, "JumpServer access key id (a UUID)")
	fs.StringVar(&c.JMSSecret, "jms-secret", jmssim.DefaultSecret, "JumpServer access key secret")
	fs.BoolVar(&c.JMSCaseFold, "jms-case-insensitive-names", false, "asset names unique case-insensitively (MySQL collation)")
	fs.BoolVar(&c.JMSLicensed, "jms-licensed", false, "licensed mode: no Community Edition asset cap")
	fs.IntVar(&c.JMSCap, "jms-asset-cap", jmssim.DefaultAssetCap, "Community Edition asset cap across all orgs")
	fs.DurationVar(&c.JMSLatency, "jms-latency", 0, "latency added to every JumpServer API request")
	fs.DurationVar(&c.JMSPerItem, "jms-per-item", 0, "cost per item inside bulk create/update requests")
	fs.IntVar(&c.JMSWorkers, "jms-workers", 0, "concurrent JumpServer requests served (a worker pool); 0 = unlimited")
	fs.Float64Var(&c.JMSErrorRate, "jms-error-rate", 0, "probability of an injected 500 per request")
	fs.IntVar(&c.JMSThrottle, "jms-throttle-per-minute", 0, "per-user request budget per sliding minute, then 429 with Retry-After; 0 = off")
	fs.Float64Var(&c.JMSDropRate, "jms-drop-rate", 0, "probability that a committed write's response is dropped (the client times out)")
	fs.IntVar(&c.JMSSeedHandmade, "jms-handmade-hosts", 0, "hand-made hosts to seed in the Default org (jms-sync must never touch them)")
	fs.BoolVar(&c.JMSNoInternal500, "jms-no-internal-errors", false, "answer JumpServer's inferred signature 500s with 401 instead")

	fs.StringVar(&c.AliyunRegions, "aliyun-regions", "cn-hangzhou,cn-beijing", "Aliyun regions, comma-separated")
	fs.StringVar(&c.AliyunKeyID, "aliyun-key-id", aliyunsim.DefaultAccessKeyID, "Aliyun AccessKeyId accepted")
	fs.StringVar(&c.AliyunSecret, "aliyun-key-secret", aliyunsim.DefaultAccessKeySecret, "Aliyun AccessKeySecret accepted")
	fs.StringVar(&c.AliyunAccount, "aliyun-account", aliyunsim.DefaultAccount, "Aliyun account id the key belongs to (GetCallerIdentity)")
	fs.IntVar(&c.AliyunRPM, "aliyun-throttle-rpm", 0, "calls per key and Action per minute before Throttling.User; 0 = off")
	fs.StringVar(&c.HuaweiRegions, "huawei-regions", "cn-north-4,cn-east-3", "Huawei Cloud regions, comma-separated")
	fs.StringVar(&c.HuaweiAK, "huawei-ak", huaweisim.DefaultAK, "Huawei Cloud AK accepted")
	fs.StringVar(&c.HuaweiSK, "huawei-sk", huaweisim.DefaultSK, "Huawei Cloud SK accepted")
	fs.StringVar(&c.HuaweiAccount, "huawei-account", huaweisim.DefaultAccount, "Huawei Cloud domain id the key belongs to")
	fs.Float64Var(&c.HuaweiRate, "huawei-rate", 0, "Huawei requests per second per AK before 429 APIGW.0308; 0 = off")
	fs.StringVar(&c.HuaweiIAMMode, "huawei-iam", "one", "IAM project lookup answers: one, none or two projects")
	fs.DurationVar(&c.CloudLatency, "cloud-latency", 0, "latency added to every cloud API call (both clouds)")
	fs.IntVar(&c.ThrottleEvery, "cloud-throttle-every", 0, "throttle every k-th list call (both clouds); 0 = off")
	fs.StringVar(&c.FailRegion, "cloud-fail-region", "", "a region whose list calls all fail (both clouds)")
	fs.IntVar(&c.FailPage, "cloud-fail-page", 0, "fail this page (1-based) of every listing; 0 = off")
	fs.StringVar(&c.ListPermission, "cloud-list-permission", "ok", "what the keys may list: ok, forbidden (403) or empty (a successful empty list)")

	fs.StringVar(&c.DingTalkToken, "dingtalk-token", "jmssync-demo-robot", "DingTalk robot access_token")
	fs.StringVar(&c.DingTalkSecret, "dingtalk-secret", "SECjmssyncdemo", "DingTalk robot sign secret (empty = unsigned robot)")
	fs.IntVar(&c.DingTalkRate, "dingtalk-rate", 20, "messages per robot per minute before errcode 130101")
	fs.DurationVar(&c.DingTalkBlock, "dingtalk-block", 10*time.Minute, "how long a robot stays blocked after exceeding the rate")
	fs.IntVar(&c.DingTalkErrcode, "dingtalk-throttle-errcode", dingtalksim.ErrSendTooFast, "errcode for the rate limit: 130101 or 410100")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	if c.JMSVersion != jmssim.V410 && c.JMSVersion != jmssim.V47 {
		errs = append(errs, fmt.Errorf("-jms-version: %q is not 4.10 or 4.7", c.JMSVersion))
	}
	if c.JMSRootNode != "DEFAULT" && c.JMSRootNode != "Default" {
		errs = append(errs, fmt.Errorf("-jms-root-node: %q is not DEFAULT or Default", c.JMSRootNode))
	}
	if c.PerRegion < 0 {
		errs = append(errs, fmt.Errorf("-per-region: %d is negative", c.PerRegion))
	}
	if _, err := c.permission(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.iamMode(); err != nil {
		errs = append(errs, err)
	}
	for name, p := range map[string]float64{"-jms-error-rate": c.JMSErrorRate, "-jms-drop-rate": c.JMSDropRate} {
		if p < 0 || p > 1 {
			errs = append(errs, fmt.Errorf("%s: %v is not a probability in [0,1]", name, p))
		}
	}
	return errors.Join(errs...)
}

func (c config) permission() (cloudinv.Permission, error) {
	switch c.ListPermission {
	case "ok":
		return cloudinv.CanList, nil
	case "forbidden":
		return cloudinv.ListForbidden, nil
	case "empty":
		return cloudinv.ListEmpty, nil
	}
	return 0, fmt.Errorf("-cloud-list-permission: %q is not ok, forbidden or empty", c.ListPermission)
}

func (c config) iamMode() (huaweisim.IAMMode, error) {
	switch m := huaweisim.IAMMode(c.HuaweiIAMMode); m {
	case huaweisim.IAMOne, huaweisim.IAMNone, huaweisim.IAMTwo:
		return m, nil
	}
	return "", fmt.Errorf("-huawei-iam: %q is not one, none or two", c.HuaweiIAMMode)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
