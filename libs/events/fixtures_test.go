package events_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

var (
	t0      = time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC)
	scopeA  = events.Scope{Provider: asset.Aliyun, AccountID: "prod", AccountName: "生产账号", Region: "cn-hangzhou"}
	scopeH  = events.Scope{Provider: asset.HuaweiCloud, AccountID: "hw-ops", Region: "cn-north-4"}
	jsRef   = events.JumpServerRef{URL: "https://jms.example.com", OrgID: "00000000-0000-0000-0000-000000000002", OrgName: "Default"}
	install = "prod-install"
)

// aliyunInstances builds instances the way a collector would: raw cloud
// fields, DetectOS on the cloud's field, NormalizeState, Normalize.
func aliyunInstances(n int) []asset.Instance {
	out := make([]asset.Instance, 0, n)
	names := []string{"web-1", "twin-db", "win-ad", "生产数据库", "winery-app", ""}
	for i := range n {
		name := names[i%len(names)]
		osField, osName, image := "linux", "CentOS 7.9 64位", "centos_7_9_x64_20G_alibase_20240628.vhd"
		if name == "win-ad" {
			osField, osName, image = "windows", "Windows Server 2019 数据中心版 64位中文版", "win2019dc_x64_dtc_zh-cn_40G_alibase.vhd"
		}
		status := []string{"Running", "Stopped", "Starting"}[i%3]
		in := asset.Instance{
			Provider: asset.Aliyun, AccountID: scopeA.AccountID, Region: scopeA.Region, Zone: "cn-hangzhou-h",
			InstanceID: fmt.Sprintf("i-bp1%06d", i), Name: name, Hostname: name,
			OSType: asset.DetectOS(osField, osName, image, name), OSName: osName, ImageName: image,
			State: asset.NormalizeState(asset.Aliyun, status), Status: status,
			PrivateIPs: []string{fmt.Sprintf("172.16.%d.%d", i/250, i%250+1)}, VPCID: "vpc-bp1x",
			InstanceType: "ecs.g6.large", CreatedAt: t0.Add(-time.Duration(i) * time.Hour),
		}
		if i%4 == 0 {
			in.PublicIPs = []string{fmt.Sprintf("47.1.%d.%d", i/250, i%250+1)}
		}
		if i%5 == 0 {
			in.EIP = fmt.Sprintf("39.2.%d.%d", i/250, i%250+1)
			in.Tags = map[string]string{"env": "prod", "owner": "ops"}
		}
		in.Normalize()
		out = append(out, in)
	}
	return out
}

func huaweiInstances() []asset.Instance {
	in := asset.Instance{
		Provider: asset.HuaweiCloud, AccountID: scopeH.AccountID, Region: scopeH.Region, Zone: "cn-north-4a",
		InstanceID: "9f6d2d9e-1111-2222-3333-444455556666", Name: "ecs-web-01", Hostname: "ecs-web-01",
		OSType: asset.DetectOS("Linux", "", "CentOS 7.9 64bit", "ecs-web-01"), ImageName: "CentOS 7.9 64bit",
		State: asset.NormalizeState(asset.HuaweiCloud, "ACTIVE"), Status: "ACTIVE",
		PrivateIPs: []string{"192.168.0.10", "fd00::10"}, EIP: "121.36.1.2", VPCID: "vpc-uuid-1",
		Tags:         asset.TagsFromStrings([]string{"env=prod", "owner=ops", "flag"}),
		InstanceType: "s6.large.2", CreatedAt: time.Date(2023, 5, 10, 2, 3, 4, 0, time.UTC),
	}
	in.Normalize()
	bare := asset.Instance{Provider: asset.HuaweiCloud, AccountID: scopeH.AccountID, Region: scopeH.Region,
		InstanceID: "0a0a0a0a-0000-0000-0000-000000000001", Status: "BUILD"}
	bare.Normalize()
	return []asset.Instance{in, bare}
}

func desiredFor(in asset.Instance) *events.Desired {
	platform, proto := "Linux", events.Protocol{Name: "ssh", Port: 22}
	if in.OSType == asset.Windows {
		platform, proto = "Windows", events.Protocol{Name: "rdp", Port: 3389}
	}
	name := in.Name
	if name == "" {
		name = string(in.Provider) + "-" + in.InstanceID
	}
	return &events.Desired{
		Name: name, Address: in.PrivateIPs[0], Platform: platform, Protocols: []events.Protocol{proto},
		NodePath: "/DEFAULT/" + in.Provider.DisplayName() + "/" + scopeA.AccountName,
		Labels: []events.Label{{Name: "jmssync", Value: install}, {Name: "provider", Value: string(in.Provider)},
			{Name: "region", Value: in.Region}},
		Zone: "hz-zone", AccountTemplate: "root-" + platform, Comment: "cloud: 阿里云 prod\nmanaged by jms-sync",
		IsActive: in.State != asset.Stopped,
	}
}

// realMessages builds one or more values of every message type through the
// package's constructors, as the services will. When the collectors, the
// reconciler and the applier exist, add their real output here: every test of
// conformance_test.go and FuzzDecode's corpus pick it up.
func realMessages(t testing.TB) []events.Message {
	t.Helper()
	var msgs []events.Message
	add := func(ms ...events.Message) { msgs = append(msgs, ms...) }

	// Collector: a pass of each provider, split into chunks, then the close record.
	ali := aliyunInstances(40)
	passA := events.NewPassID()
	chunks, err := events.SplitPass(passA, scopeA, ali, 4096)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := asset.Digest(ali)
	for _, c := range chunks {
		add(c)
	}
	closeA := events.NewPassComplete(passA, scopeA, len(chunks), len(ali), digest, "1234567890123456", 7, t0, t0.Add(3*time.Second), "collector-aliyun-0")
	closeA.Probes = []events.Probe{{Name: events.ProbeListPermission, Outcome: events.ProbeOK}, {Name: events.ProbeDryRun, Outcome: events.ProbeOK, Detail: "DryRunOperation"}}
	add(closeA)

	hw := huaweiInstances()
	passH := events.NewPassID()
	hwChunks, err := events.SplitPass(passH, scopeH, hw, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	add(hwChunks[0])
	add(events.NewPassFailed(events.NewPassID(), scopeH, events.ReasonThrottled, "Throttling.User after 5 retries\npage 3", 2, 3, t0, t0.Add(time.Minute), "collector-huaweicloud-1"))
	add(events.NewPassComplete(events.NewPassID(), scopeH, 0, 0, mustDigest(t, nil), "domain-abc", 4, t0, t0, "collector-huaweicloud-1"))

	// Reconciler: a run and one intent of every op.
	runID := events.NewRunID()
	var intents []*events.Intent
	for i, op := range events.Ops() {
		in := ali[i]
		var d *events.Desired
		if op != events.OpDelete && op != events.OpOrphan {
			d = desiredFor(in)
		}
		if op == events.OpDeactivate {
			d.IsActive = false
		}
		it := events.NewIntent(op, in.ID().AssetID(install, jsRef.OrgID), in.ID(), uint64(10+i), d,
			"cause_"+string(op), runID, scopeA, passA, t0.Add(time.Second))
		if i%2 == 0 { // optional: some with, some without
			it.ObservedAt = t0.UTC()
		}
		intents = append(intents, it)
		add(it)
	}
	open := events.NewRunOpen(runID, t0, "interval", []events.RunScope{
		{Scope: scopeA, PassID: passA, ExpectedIntents: len(intents), HeldDeletions: 1},
		{Scope: scopeH, ExpectedIntents: 0, Skipped: "pass_failed"},
	})
	add(open, events.NewRunOpen(events.NewRunID(), t0, "", nil))

	// Applier: the fact of every intent.
	for _, it := range intents {
		before := &events.AssetState{Name: "old-name", Address: "172.16.9.9", Platform: "Linux",
			Protocols: []events.Protocol{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}},
			Nodes:     []string{"/DEFAULT/阿里云/生产账号", "/DEFAULT/hand-made"}, IsActive: true,
			Labels: []events.Label{{Name: "jmssync", Value: install}, {Name: "team", Value: "ops"}}}
		var after *events.AssetState
		if it.Desired != nil {
			after = &events.AssetState{Name: it.Desired.Name, Address: it.Desired.Address, Platform: it.Desired.Platform,
				Protocols: it.Desired.Protocols, Nodes: []string{it.Desired.NodePath}, Labels: it.Desired.Labels,
				Zone: it.Desired.Zone, IsActive: it.Desired.IsActive, Comment: it.Desired.Comment}
		}
		switch it.Op {
		case events.OpCreate:
			before = nil
		case events.OpOrphan:
			after = &events.AssetState{Name: before.Name, Address: before.Address, Platform: before.Platform, IsActive: true,
				Labels: append(before.Labels, events.Label{Name: "jmssync-orphaned", Value: "true"})}
		}
		add(events.NewAppliedFact(it, before, after, t0.Add(2*time.Second), jsRef))
	}
	add(events.NewRunClosed(open, events.RunSummary{
		ClosedAt: t0.Add(time.Minute), Applied: map[events.AppliedOp]int{events.Created: 1, events.Updated: 1},
		Failed: 1, Pending: 2, Held: 1, TimedOut: true,
		Failures: []events.RunFailure{{AssetID: intents[2].AssetID.String(), Key: intents[2].Identity.Key(), Op: events.OpActivate, Error: "400: name exists"}},
	}))

	// Alerts, global and scoped.
	add(events.NewAlert(events.AlertDeletionsHeld, events.SeverityWarning, &scopeA,
		"37 deletions held for prod/cn-hangzhou\nconfirm with: jms-sync confirm plan-1", "deletions_held:prod:plan-1", "reconciler",
		t0, map[string]string{"plan": "plan-1", "deletions": "37", "threshold": "10%"}))
	add(events.NewAlert(events.AlertApplierPaused, events.SeverityCritical, nil, "JumpServer answered 401", "applier_paused:3", "applier", t0, nil))

	// A dead letter of a malformed message.
	bad := []byte(`{"schema":"jmssync.intent/v1","op":"explode"}`)
	_, derr := events.Decode(bad)
	add(events.NewDeadLetter("applier", "invalid", derr, "jmssync.intent.aliyun.prod.cn-hangzhou", "INTENTS", 42, 1, bad, t0))
	add(events.NewDeadLetter("notifier", "malformed", errors.New("x"), "jmssync.run.abc", "", 0, 0, nil, t0))
	return msgs
}

func mustDigest(t testing.TB, ins []asset.Instance) string {
	t.Helper()
	d, err := asset.Digest(ins)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
