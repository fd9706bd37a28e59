package notifier

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/dingtalk"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/notify"
	"github.com/jmssync/jmssync/libs/sim/dingtalksim"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	cycle    = time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC)
	shanghai = time.FixedZone("CST", 8*3600)
)

func dingtalkFits(t testing.TB) func(notify.Message) bool {
	t.Helper()
	c, err := dingtalk.New(dingtalk.Options{Webhook: "https://oapi.dingtalk.com/robot/send?access_token=x"})
	if err != nil {
		t.Fatal(err)
	}
	ch := dingtalk.NewChannel(c, dingtalk.ChannelOptions{AtMobiles: []string{"13800000000"}})
	return ch.Fits
}

func golden(t *testing.T, name string, m notify.Message) {
	t.Helper()
	got := "id: " + m.ID + "\nclass: " + string(m.Class) + "\ntitle: " + m.Title + "\n"
	if m.Button != nil {
		got += "button: " + m.Button.Title + " -> " + m.Button.URL + "\n"
	}
	got += "\n" + m.Markdown + "\n"
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

func sampleRun() AccountRun {
	return AccountRun{
		RunID: "0190a1b2-0000-7000-8000-000000000001", Provider: "aliyun", AccountID: "prod", AccountName: "生产账号",
		CycleAt: cycle, ClosedAt: cycle.Add(83 * time.Second),
		Counts: map[events.AppliedOp]int{events.Created: 3, events.Updated: 1, events.Deleted: 1, events.Deactivated: 0},
		Rows: map[events.AppliedOp][]Row{
			events.Created: {{"web-01", "10.0.0.1", "Linux"}, {"web-02", "10.0.0.2", "Linux"}, {"db|primary", "10.0.0.3", "Windows"}},
			events.Updated: {{"cache-01", "10.0.1.1 → 10.0.1.9", "Linux"}},
			events.Deleted: {{"old-01", "10.0.9.9", "Linux"}},
		},
		Failed:   1,
		Failures: []events.RunFailure{{Key: "aliyun/i-bp1", Op: events.OpCreate, Error: "400: name\nalready | taken"}},
		Held:     2,
	}
}

func TestRenderRunGolden(t *testing.T) {
	o := RenderOptions{MaxRows: 2, ButtonURL: "https://jms.example.com/ui/#/console/assets/assets", Location: shanghai, Fits: dingtalkFits(t)}
	golden(t, "run_card", RenderRun(sampleRun(), o))

	ok := sampleRun()
	ok.Failed, ok.Failures = 0, nil
	golden(t, "run_card_ok", RenderRun(ok, RenderOptions{Location: shanghai}))

	timeout := AccountRun{
		RunID: "0190a1b2-0000-7000-8000-000000000002", Provider: "huaweicloud", AccountID: "hw-1",
		CycleAt: cycle, ClosedAt: cycle.Add(30 * time.Minute), TimedOut: true,
		Counts:  map[events.AppliedOp]int{events.Created: 1},
		Rows:    map[events.AppliedOp][]Row{events.Created: {{"app-1", "192.168.0.4", "Linux"}}},
		Gaps:    []ScopeGap{{Region: "cn-north-4", Expected: 40, Missing: 12}},
		Skipped: []ScopeSkip{{Region: "cn-east-3", Reason: "pass_failed"}},
	}
	golden(t, "run_timeout", RenderRun(timeout, RenderOptions{Location: shanghai}))
}

func TestRenderAlertGolden(t *testing.T) {
	scope := &events.Scope{Provider: asset.Aliyun, AccountID: "prod", AccountName: "生产账号", Region: "cn-hangzhou"}
	held := events.NewAlert(events.AlertDeletionsHeld, events.SeverityCritical, scope,
		"37 deletions (62%) exceed the threshold of 20 or 10%", "plan-7", "reconciler", cycle,
		map[string]string{"plan": "plan-7", "deletions": "37", "threshold": "20 / 10%"})
	golden(t, "alert_deletions_held", RenderAlert(held, RenderOptions{Location: shanghai}))
	failed := events.NewAlert(events.AlertPassFailed, events.SeverityWarning, scope,
		"DescribeInstances: Forbidden.RAM: user not authorized", "pass-9", "collector-aliyun", cycle,
		map[string]string{"reason": "api_error", "pass_id": "pass-9"})
	golden(t, "alert_pass_failed", RenderAlert(failed, RenderOptions{Location: shanghai}))
	paused := events.NewAlert(events.AlertApplierPaused, events.SeverityCritical, nil,
		"JumpServer answers 401: check the access key", "p-1", "applier", cycle, nil)
	golden(t, "alert_applier_paused", RenderAlert(paused, RenderOptions{Location: shanghai}))
}

// bigRun builds facts of a 10,000-change run with long Chinese names.
func bigFacts(runID string, n int) []*events.AppliedFact {
	ops := []events.AppliedOp{events.Created, events.Updated, events.Deactivated, events.Deleted}
	out := make([]*events.AppliedFact, 0, n)
	for i := range n {
		op := ops[i%len(ops)]
		st := &events.AssetState{Name: fmt.Sprintf("华东一区生产环境订单服务核心数据库主节点高可用集群实例第%05d号", i),
			Address: fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256), Platform: "Linux", IsActive: true}
		var before, after *events.AssetState
		switch op {
		case events.Created:
			after = st
		case events.Deleted:
			before = st
		default:
			b := *st
			b.Address = "172.16.0.1"
			before, after = &b, st
		}
		id := asset.ID{Provider: asset.Aliyun, InstanceID: fmt.Sprintf("i-%06d", i)}
		out = append(out, &events.AppliedFact{Schema: events.SchemaAssetApplied, Op: op, AssetID: uuid.New(), Identity: id,
			Provider: asset.Aliyun, AccountID: "prod", Region: "cn-hangzhou", Before: before, After: after,
			AppliedAt: cycle, RunID: runID, IntentGeneration: 1,
			JumpServer: events.JumpServerRef{URL: "https://jms.example.com", OrgID: "00000000-0000-0000-0000-000000000002"}})
	}
	return out
}

func TestTenThousandChangesFitAndAreAccepted(t *testing.T) {
	const runID = "0190a1b2-0000-7000-8000-00000000beef"
	tr := NewTracker(20, time.Hour)
	scope := events.Scope{Provider: asset.Aliyun, AccountID: "prod", AccountName: strings.Repeat("生产账号", 10), Region: "cn-hangzhou"}
	tr.Open(events.NewRunOpen(runID, cycle, "", []events.RunScope{{Scope: scope, ExpectedIntents: 10000}}), cycle)
	for _, f := range bigFacts(runID, 10000) {
		tr.Fact(f, cycle)
	}
	due := tr.Due(cycle.Add(time.Minute))
	if len(due) != 1 || len(due[0].Accounts) != 1 || due[0].Summary.TimedOut {
		t.Fatalf("due = %+v", due)
	}
	a := due[0].Accounts[0]
	if a.Total() != 10000 || a.Counts[events.Created] != 2500 {
		t.Fatalf("counts %v", a.Counts)
	}
	fits := dingtalkFits(t)
	m := RenderRun(a, RenderOptions{MaxRows: 20, ButtonURL: "https://jms.example.com/ui/#/console/assets/assets", Fits: fits})
	if !fits(m) {
		t.Fatal("card does not fit")
	}
	if !strings.Contains(m.Markdown, "| 变更总数 | 10000 个 |") || !strings.Contains(m.Markdown, "另有") {
		t.Fatalf("card:\n%s", m.Markdown)
	}

	sim := dingtalksim.Start(t, dingtalksim.Options{Robots: []dingtalksim.Robot{{Token: "big-token-0123456789", Secret: "SECbigbigbigbigbig"}}})
	for _, at := range [][]string{nil, {"13800000000"}} {
		c, err := dingtalk.New(dingtalk.Options{Webhook: sim.WebhookURL("big-token-0123456789"), Secret: "SECbigbigbigbigbig", Now: sim.Now})
		if err != nil {
			t.Fatal(err)
		}
		if err := dingtalk.NewChannel(c, dingtalk.ChannelOptions{AtMobiles: at}).Send(t.Context(), m); err != nil {
			t.Fatalf("at %v: %v", at, err)
		}
	}
	got := sim.Accepted("")
	if len(got) != 2 || got[0].Size > dingtalk.MaxBodyBytes || got[0].MsgType != "actionCard" || got[1].MsgType != "markdown" {
		t.Fatalf("accepted %d", len(got))
	}
	t.Logf("card of 10000 changes: %d bytes", got[0].Size)
}

func TestTrackerTimeoutSaysWhatIsMissing(t *testing.T) {
	const runID = "0190a1b2-0000-7000-8000-00000000aaaa"
	tr := NewTracker(20, 30*time.Minute)
	s1 := events.Scope{Provider: asset.Aliyun, AccountID: "prod", Region: "cn-hangzhou"}
	s2 := events.Scope{Provider: asset.Aliyun, AccountID: "prod", Region: "cn-beijing"}
	tr.Open(events.NewRunOpen(runID, cycle, "", []events.RunScope{{Scope: s1, ExpectedIntents: 2}, {Scope: s2, ExpectedIntents: 3, HeldDeletions: 4}}), cycle)
	for _, f := range bigFacts(runID, 3)[:2] {
		tr.Fact(f, cycle)
	}
	if d := tr.Due(cycle.Add(29 * time.Minute)); len(d) != 0 {
		t.Fatalf("closed early: %+v", d)
	}
	d := tr.Due(cycle.Add(30 * time.Minute))
	if len(d) != 1 || !d[0].Summary.TimedOut || d[0].Summary.Pending != 3 || d[0].Summary.Held != 4 {
		t.Fatalf("due %+v", d)
	}
	a := d[0].Accounts[0]
	if len(a.Gaps) != 1 || a.Gaps[0].Region != "cn-beijing" || a.Gaps[0].Missing != 3 {
		t.Fatalf("gaps %+v", a.Gaps)
	}
	if !strings.Contains(RenderRun(a, RenderOptions{}).Markdown, "cn-beijing：3 个中缺 3 个") {
		t.Fatal("card does not say what is missing")
	}
	// Late results of a closed run are ignored.
	tr.Fact(bigFacts(runID, 3)[2], cycle.Add(31*time.Minute))
	if tr.Pending() != 0 {
		t.Fatal("closed run reopened")
	}
}
