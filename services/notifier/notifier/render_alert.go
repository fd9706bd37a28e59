package notifier

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/notify"
)

var alertTitles = map[events.AlertKind]string{
	events.AlertPassFailed:     "云资产采集失败",
	events.AlertPassSuspicious: "云资产采集结果可疑，未做删除",
	events.AlertDeletionsHeld:  "资产删除已暂缓，等待确认",
	events.AlertApplierPaused:  "资产同步已暂停",
	events.AlertApplierResumed: "资产同步已恢复",
	events.AlertScopeOrphaned:  "范围已移出配置，资产标为孤立",
	events.AlertCapReached:     "已达社区版资产上限，暂停新增",
	events.AlertCapCleared:     "社区版资产上限已解除",
	events.AlertDeadLettered:   "消息无法处理，已转入死信队列",
}

var severityLabels = map[events.Severity]string{
	events.SeverityCritical: "严重",
	events.SeverityWarning:  "警告",
	events.SeverityInfo:     "通知",
}

// detailLabels names the usual detail keys; others are shown as they are.
var detailLabels = map[string]string{
	"plan": "删除计划", "deletions": "待删除数量", "count": "数量", "threshold": "阈值",
	"reason": "原因", "pass_id": "采集批次", "instances": "实例数", "previous": "上次数量",
	"breaker": "熔断器", "status": "状态", "confirm": "确认方式", "until": "持续到",
}

// AlertID is the notification id of an alert.
func AlertID(a *events.Alert) string { return "alert." + a.MsgID() }

// RenderAlert renders an alert as markdown. Pure. Detail keys that look like
// secrets are never shown (events.Validate already rejects them).
func RenderAlert(a *events.Alert, o RenderOptions) notify.Message {
	title := alertTitles[a.Kind]
	if title == "" {
		title = "jms-sync 告警：" + string(a.Kind)
	}
	sev := severityLabels[a.Severity]
	if sev == "" {
		sev = string(a.Severity)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### 【%s】%s\n\n", sev, title)
	if s := a.Scope; s != nil {
		account := s.AccountID
		if s.AccountName != "" && s.AccountName != s.AccountID {
			account = s.AccountName + " (" + s.AccountID + ")"
		}
		fmt.Fprintf(&b, "- **云账号** %s - %s\n- **区域** %s\n", cell(ProviderLabel(string(s.Provider))), cell(account), cell(s.Region))
	} else {
		b.WriteString("- **范围** 全局\n")
	}
	fmt.Fprintf(&b, "- **时间** %s\n", o.local(a.RaisedAt))
	for _, k := range slices.Sorted(maps.Keys(a.Details)) {
		if events.SecretKey(k) {
			continue
		}
		label := detailLabels[k]
		if label == "" {
			label = k
		}
		fmt.Fprintf(&b, "- **%s** %s\n", cell(label), cellN(a.Details[k], 200))
	}
	msg := strings.TrimSpace(a.Message)
	if msg != "" {
		b.WriteString("\n> " + strings.ReplaceAll(oneLine(msg, 1000), "\n", "\n> ") + "\n")
	}
	if a.Kind == events.AlertDeletionsHeld && a.Details["confirm"] == "" {
		if plan := a.Details["plan"]; plan != "" {
			fmt.Fprintf(&b, "\n**如何确认**：核对计划无误后执行 `jms-sync confirm %s`；不执行则不会删除。\n", cell(plan))
		} else {
			b.WriteString("\n**如何确认**：用 `jms-sync plan` 查看暂缓的删除，核对后执行 `jms-sync confirm <计划>`。\n")
		}
	}
	m := notify.Message{ID: AlertID(a), Class: notify.ClassAlert, Title: "【" + sev + "】" + title, Markdown: strings.TrimRight(b.String(), "\n")}
	for !o.fits(m) && len(m.Markdown) > 200 {
		m.Markdown = oneLine(m.Markdown, len([]rune(m.Markdown))*3/4)
	}
	return m
}
