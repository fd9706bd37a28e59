package notifier

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/notify"
)

// Row is one changed asset in a card table.
type Row struct {
	Name     string
	Address  string
	Platform string
}

// ScopeGap is a scope whose results did not all arrive before the timeout.
type ScopeGap struct {
	Region   string
	Expected int
	Missing  int
}

// ScopeSkip is a scope the reconciler made no decision for.
type ScopeSkip struct {
	Region string
	Reason string // snake_case code
}

// AccountRun is what one card shows: one run of one cloud account.
type AccountRun struct {
	RunID       string
	Provider    string
	AccountID   string
	AccountName string
	CycleAt     time.Time
	ClosedAt    time.Time
	Counts      map[events.AppliedOp]int
	Rows        map[events.AppliedOp][]Row // the first rows of each kind, in arrival order
	Failed      int
	Failures    []events.RunFailure
	Held        int
	Gaps        []ScopeGap
	Skipped     []ScopeSkip
	TimedOut    bool
	// Unopened: results came in but the run's opening record never did.
	Unopened bool
}

// Total is the number of changes applied.
func (a AccountRun) Total() int {
	n := 0
	for _, c := range a.Counts {
		n += c
	}
	return n
}

// Eventful reports whether the card has something to say: a change, a
// failure or missing results.
func (a AccountRun) Eventful() bool {
	return a.Total() > 0 || a.Failed > 0 || len(a.Gaps) > 0 || a.Unopened
}

func (a AccountRun) failedRun() bool {
	return a.Failed > 0 || len(a.Gaps) > 0 || a.TimedOut || len(a.Skipped) > 0
}

// RenderOptions are the inputs of rendering besides the data.
type RenderOptions struct {
	// MaxRows per table (20 when 0); fewer when the card would not fit.
	MaxRows int
	// ButtonURL is the JumpServer asset page; no button when empty.
	ButtonURL string
	// Location of the times shown (UTC when nil).
	Location *time.Location
	// Fits reports whether a message is within every channel's size limit
	// (always true when nil).
	Fits func(notify.Message) bool
}

func (o RenderOptions) maxRows() int {
	if o.MaxRows <= 0 {
		return 20
	}
	return o.MaxRows
}

func (o RenderOptions) fits(m notify.Message) bool { return o.Fits == nil || o.Fits(m) }

func (o RenderOptions) local(t time.Time) string {
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}

// kinds is the order of the change tables, with their labels.
var kinds = []struct {
	op    events.AppliedOp
	label string
}{
	{events.Created, "新增"}, {events.Updated, "更新"}, {events.Activated, "重新启用"},
	{events.Deactivated, "停用"}, {events.Deleted, "删除"}, {events.Orphaned, "孤立"}, {events.Adopted, "接管"},
}

// ProviderLabel is the cloud's display name, as the old tool's node names.
func ProviderLabel(p string) string {
	switch p {
	case "aliyun":
		return "阿里云"
	case "huaweicloud", "huawei":
		return "华为云"
	}
	return p
}

// RunCardID is the notification id of a run's card for one account.
func RunCardID(runID, provider, accountID string) string {
	return "run." + runID + "." + provider + "." + accountID
}

// RenderRun renders the card of one account's run. It is pure: the same
// input gives the same message. Tables show at most MaxRows rows each, and
// fewer when needed for the message to fit (then "… 另有 M 个" says how many
// are not listed).
func RenderRun(a AccountRun, o RenderOptions) notify.Message {
	hi := o.maxRows()
	m := renderRun(a, o, hi)
	if o.fits(m) {
		return m
	}
	lo := 0 // binary search of the largest row count that fits
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if o.fits(renderRun(a, o, mid)) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	m = renderRun(a, o, lo)
	for !o.fits(m) && len(m.Markdown) > 200 { // only with absurd inputs: cut the text
		cut := len(m.Markdown) * 3 / 4
		for cut > 0 && !utf8.RuneStart(m.Markdown[cut]) {
			cut--
		}
		m.Markdown = m.Markdown[:cut] + "\n\n…（内容过长，已截断）"
	}
	return m
}

func renderRun(a AccountRun, o RenderOptions, rows int) notify.Message {
	var b strings.Builder
	title := "JMS资产同步通知"
	if a.failedRun() {
		title = "JMS资产同步失败通知"
	}
	account := a.AccountName
	if account == "" {
		account = a.AccountID
	} else if a.AccountID != "" && a.AccountID != a.AccountName {
		account += " (" + a.AccountID + ")"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "### **云资产** %s - %s\n\n", cell(ProviderLabel(a.Provider)), cell(account))
	fmt.Fprintf(&b, "### **同步时间** %s\n\n", o.local(a.CycleAt))

	if a.failedRun() || a.Unopened {
		b.WriteString("### **失败原因**\n\n")
		if a.Unopened {
			b.WriteString("- 未收到本次同步的开始记录，以下仅为已收到的结果\n")
		}
		if a.TimedOut && len(a.Gaps) > 0 {
			missing := 0
			for _, g := range a.Gaps {
				missing += g.Missing
			}
			fmt.Fprintf(&b, "- 等待超时：%d 个结果未返回\n", missing)
			list(&b, a.Gaps, rows, func(g ScopeGap) string {
				return fmt.Sprintf("  - %s：%d 个中缺 %d 个", cell(g.Region), g.Expected, g.Missing)
			})
		}
		list(&b, a.Skipped, rows, func(s ScopeSkip) string {
			return fmt.Sprintf("- %s：未同步（%s）", cell(s.Region), skipLabel(s.Reason))
		})
		if a.Failed > 0 {
			fmt.Fprintf(&b, "- %d 个操作失败，见错误详情\n", a.Failed)
		}
		b.WriteString("\n")
	}

	b.WriteString("### **同步结果**\n\n| 指标 | 数值 |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| 变更总数 | %d 个 |\n", a.Total())
	for _, k := range kinds {
		n := a.Counts[k.op]
		switch k.op {
		case events.Created, events.Updated, events.Deactivated, events.Deleted:
		default:
			if n == 0 {
				continue
			}
		}
		fmt.Fprintf(&b, "| %s资产 | %d 个 |\n", k.label, n)
	}
	for _, op := range slices.Sorted(maps.Keys(a.Counts)) { // ops added after this code
		if !known(op) && a.Counts[op] > 0 {
			fmt.Fprintf(&b, "| %s | %d 个 |\n", cell(string(op)), a.Counts[op])
		}
	}
	fmt.Fprintf(&b, "| 暂缓删除 | %d 个 |\n", a.Held)
	fmt.Fprintf(&b, "| 失败操作 | %d 个 |\n", a.Failed)
	fmt.Fprintf(&b, "| 总耗时 | %s |\n\n", duration(a.ClosedAt.Sub(a.CycleAt)))

	for _, k := range kinds {
		rs := a.Rows[k.op]
		if a.Counts[k.op] == 0 || len(rs) == 0 && rows > 0 {
			continue
		}
		fmt.Fprintf(&b, "### **%s资产详情**\n\n", k.label)
		if rows > 0 {
			b.WriteString("| 主机名 | IP地址 | 平台类型 |\n| --- | --- | --- |\n")
			for _, r := range rs[:min(rows, len(rs))] {
				fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(r.Name), cell(r.Address), cell(r.Platform))
			}
		}
		more(&b, a.Counts[k.op]-min(rows, len(rs)))
	}
	if a.Failed > 0 {
		b.WriteString("### **错误详情**\n\n")
		if rows > 0 && len(a.Failures) > 0 {
			b.WriteString("| 操作 | 资产 | 错误信息 |\n| --- | --- | --- |\n")
			for _, f := range a.Failures[:min(rows, len(a.Failures))] {
				fmt.Fprintf(&b, "| %s | %s | %s |\n", strings.ToUpper(string(f.Op)), cell(f.Key), cellN(f.Error, 120))
			}
		}
		more(&b, a.Failed-min(rows, len(a.Failures)))
	}
	fmt.Fprintf(&b, "> 运行 %s", a.RunID)

	m := notify.Message{
		ID: RunCardID(a.RunID, a.Provider, a.AccountID), Class: notify.ClassRun,
		Title: title + " · " + ProviderLabel(a.Provider) + " - " + oneLine(account, 40), Markdown: b.String(),
	}
	if o.ButtonURL != "" {
		m.Button = &notify.Button{Title: "查看资产详情", URL: o.ButtonURL}
	}
	return m
}

func list[T any](b *strings.Builder, items []T, rows int, line func(T) string) {
	n := max(rows, 5) // problems are always listed, a few at least
	for _, it := range items[:min(n, len(items))] {
		b.WriteString(line(it) + "\n")
	}
	if len(items) > n {
		fmt.Fprintf(b, "- … 另有 %d 项\n", len(items)-n)
	}
}

func more(b *strings.Builder, n int) {
	if n > 0 {
		fmt.Fprintf(b, "\n*… 另有 %d 个未列出*\n", n)
	}
	b.WriteString("\n")
}

func known(op events.AppliedOp) bool {
	for _, k := range kinds {
		if k.op == op {
			return true
		}
	}
	return false
}

func skipLabel(code string) string {
	switch code {
	case "pass_failed":
		return "采集失败"
	case "pass_suspicious":
		return "采集结果可疑"
	case "mirror_not_ready":
		return "资产镜像未就绪"
	}
	return code
}

// duration is "0.02秒", "3分12秒", "1小时5分".
func duration(d time.Duration) string {
	switch {
	case d < 0:
		return "0秒"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "秒"
	case d < time.Hour:
		return fmt.Sprintf("%d分%d秒", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d小时%d分", int(d.Hours()), int(d.Minutes())%60)
}

// cell makes s safe inside a markdown table cell: one line, no "|", at most
// 60 characters.
func cell(s string) string { return cellN(s, 60) }

func cellN(s string, n int) string {
	s = strings.NewReplacer("|", "\\|", "\r", " ", "\n", " ", "\t", " ").Replace(s)
	return oneLine(strings.TrimSpace(s), n)
}

func oneLine(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
