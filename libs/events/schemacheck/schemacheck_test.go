package schemacheck

import (
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

func TestCheckRealMessages(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	scope := events.Scope{Provider: asset.Aliyun, AccountID: "prod", AccountName: "生产", Region: "cn-hangzhou"}
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	close := events.NewPassFailed(events.NewPassID(), scope, events.ReasonAuth, "account prod region cn-hangzhou: InvalidAccessKeyId.NotFound", 0, 7, now, now, "replica-1")
	data, err := events.Encode(close)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(data); err != nil {
		t.Fatalf("a real pass close fails its schema: %v", err)
	}
	broken := strings.Replace(string(data), `"status":"failed"`, `"status":"sort-of"`, 1)
	if err := c.Check([]byte(broken)); err == nil || !strings.Contains(err.Error(), "pass-close.v1.json") {
		t.Fatalf("an invalid status passed or the error does not name the schema: %v", err)
	}
	if err := c.Check([]byte(`{"schema":"nope/v9"}`)); err == nil {
		t.Fatal("an unknown schema passed")
	}
	if err := c.Check([]byte(`[1]`)); err == nil {
		t.Fatal("a non-object passed")
	}
}
