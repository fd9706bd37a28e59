package app

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

func adoptFixture(yes bool, adopted int) *AdoptResult {
	sc := events.Scope{Provider: asset.Aliyun, AccountID: "prod", Region: "cn-hangzhou"}
	id := asset.ID{Provider: asset.Aliyun, InstanceID: "i-bp1"}
	res := &reconciler.AdoptResult{DryRun: !yes, Adopted: adopted, Items: []reconciler.AdoptItem{
		{AssetID: "a1", Name: "web-01", InstanceID: "i-bp1", Adopt: adopted > 0, Identity: &id, Scope: &sc, PassID: "p-1",
			Changes: []reconciler.FieldChange{
				{Field: "address", From: "10.0.0.9", To: "10.0.0.1"},
				{Field: "node", From: "/DEFAULT/old", To: "+ /DEFAULT/阿里云/prod"},
				{Field: "labels", To: "+ jmssync:x"},
			}},
		{AssetID: "a2", Name: "gone", InstanceID: "i-gone", Reason: reconciler.AdoptNotSeen},
		{AssetID: "a3", Name: "twin", InstanceID: "i-2", Reason: reconciler.AdoptAmbiguous, Detail: "2 assets name this instance: twin, twin2"},
	}}
	r := &AdoptResult{Yes: yes, JumpServer: "https://jms.example", Hosts: 10, Legacy: 3}
	r.Via = "in-process"
	r.Reply = reconciler.Reply{OK: true, Adopt: res}
	if yes && adopted > 0 {
		r.Reply.RunID = "run-1"
	}
	return r
}

func TestAdoptPrint(t *testing.T) {
	var b bytes.Buffer
	r := adoptFixture(false, 1)
	r.Print(&b)
	out := b.String()
	for _, want := range []string{
		"dry run: nothing was written", "10 hosts read, 3 with an `instance_id:` comment",
		"to adopt 1, left alone 2", "web-01  (asset a1)  <-  aliyun/prod/cn-hangzhou i-bp1  (pass p-1)",
		"address  10.0.0.9 -> 10.0.0.1", "node     + /DEFAULT/阿里云/prod (other nodes kept: /DEFAULT/old)",
		"labels   + jmssync:x", "instance not seen in the latest complete pass", "ambiguous: 2 assets name this instance",
		"jms-sync adopt -yes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if r.ExitCode() != ExitOK {
		t.Fatalf("dry run exit %d", r.ExitCode())
	}
}

func TestAdoptExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *AdoptResult
		want int
	}{
		{"plan", adoptFixture(false, 1), ExitOK},
		{"plan, nothing to adopt", adoptFixture(false, 0), ExitOK},
		{"adopted", adoptFixture(true, 1), ExitOK},
		{"nothing to adopt", adoptFixture(true, 0), ExitNotFound},
		{"partial", func() *AdoptResult {
			r := adoptFixture(true, 1)
			r.Reply.Adopt.NoPass = []events.Scope{{Provider: asset.Aliyun, AccountID: "prod", Region: "cn-beijing"}}
			return r
		}(), ExitFailed},
		{"dead letter", func() *AdoptResult { r := adoptFixture(true, 1); r.DeadLetters = []string{"x"}; return r }(), ExitFailed},
		{"failed", func() *AdoptResult {
			r := adoptFixture(true, 1)
			r.Reply = reconciler.Reply{Error: reconciler.ErrCodeMirrorNotReady, Detail: "wait"}
			return r
		}(), ExitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.ExitCode(); got != tc.want {
				t.Fatalf("exit %d, want %d", got, tc.want)
			}
		})
	}
}

func TestAdoptJSON(t *testing.T) {
	var b bytes.Buffer
	if err := adoptFixture(true, 1).PrintJSON(&b); err != nil {
		t.Fatal(err)
	}
	var v struct {
		DryRun bool   `json:"dry_run"`
		RunID  string `json:"run_id"`
		Result struct {
			Adopted int `json:"adopted"`
			Items   []struct {
				Reason string `json:"reason"`
			} `json:"items"`
		} `json:"result"`
		ExitCode int `json:"exit_code"`
	}
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.DryRun || v.RunID != "run-1" || v.Result.Adopted != 1 || len(v.Result.Items) != 3 || v.ExitCode != 0 {
		t.Fatalf("json: %s", b.String())
	}
}

func TestExplainNothingKnown(t *testing.T) {
	r := &ExplainResult{Query: "i-x", Source: "the store in data"}
	var b bytes.Buffer
	r.Print(&b)
	if !strings.Contains(b.String(), `nothing is known about "i-x"`) || r.ExitCode() != ExitNotFound {
		t.Fatalf("exit %d\n%s", r.ExitCode(), b.String())
	}
}

func TestStateChanges(t *testing.T) {
	before := &events.AssetState{Name: "a", Address: "10.0.0.1", Platform: "Linux", IsActive: true}
	after := &events.AssetState{Name: "a", Address: "10.0.0.2", Platform: "Linux", IsActive: true,
		Labels: []events.Label{{Name: "jmssync", Value: "x"}}}
	got := strings.Join(stateChanges(before, after), "; ")
	if got != "address: 10.0.0.1 -> 10.0.0.2; labels: - -> jmssync:x" {
		t.Fatalf("changes: %s", got)
	}
}
