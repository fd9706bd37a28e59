package applier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/libs/natsx"
)

// pauseReason maps a global failure to its pause reason ("" when err is not
// global or is the asset cap, which pauses creates only).
func pauseReason(err error) string {
	switch {
	case err == nil, errors.Is(err, jumpserver.ErrCap):
		return ""
	case errors.Is(err, jumpserver.ErrTemplateNotFound):
		return PauseTemplate
	case !jumpserver.IsGlobal(err):
		return ""
	}
	switch jumpserver.KindOf(err) {
	case jumpserver.KindAuth:
		return PauseAuth
	case jumpserver.KindConfig:
		return PauseConfig
	}
	return PauseBreaker
}

// failGlobal pauses for err if it is a global condition; it reports whether
// it was.
func (a *Applier) failGlobal(ctx context.Context, err error) bool {
	r := pauseReason(err)
	if r == "" {
		return false
	}
	a.pause(ctx, r, err)
	return true
}

// onBreaker is the client's breaker callback (it must not block).
func (a *Applier) onBreaker(_, to jumpserver.BreakerState) {
	a.m.breaker.Store(int64(to))
	if to == jumpserver.BreakerOpen {
		go a.pause(context.Background(), PauseBreaker, jumpserver.ErrBreakerOpen)
	}
}

// pause stops fetching for reason and alerts once per state change. The
// pause start is kept in jmssync_state (applier.paused.<reason>), so a
// restart, or a second applier seeing the same condition, raises an alert
// with the same state-change id (deduplicated by its message id).
func (a *Applier) pause(ctx context.Context, reason string, cause error) {
	a.pmu.Lock()
	if _, ok := a.paused[reason]; ok {
		a.pmu.Unlock()
		return
	}
	st := pauseState{since: a.now().UTC()}
	a.paused[reason] = st // reserve; the since is settled below
	a.gate.Pause()
	a.pausedNow.Store(true)
	startProbe := !a.probing
	a.probing = true
	a.pmu.Unlock()

	st.since = a.sharedSince(ctx, pausePrefix+reason, st.since)
	st.stateID = reason + "@" + st.since.Format(time.RFC3339Nano)
	a.pmu.Lock()
	if _, ok := a.paused[reason]; ok {
		a.paused[reason] = st
	}
	a.pmu.Unlock()

	msg := "applier paused: " + pauseText(reason)
	a.log.Warn().Str("reason", reason).AnErr("cause", cause).Msg("applier paused")
	details := map[string]string{"reason": reason}
	if cause != nil {
		details["error"] = cause.Error()
	}
	sev := events.SeverityWarning
	if reason == PauseAuth || reason == PauseConfig || reason == PauseTemplate {
		sev = events.SeverityCritical
	}
	a.alert(ctx, events.AlertApplierPaused, sev, msg, st.stateID, details)
	if startProbe {
		go a.probeLoop(context.WithoutCancel(ctx))
	}
}

func pauseText(reason string) string {
	switch reason {
	case PauseBreaker:
		return "JumpServer is unavailable (circuit breaker open); intents wait in the stream"
	case PauseAuth:
		return "JumpServer refused the access key (401/403); intents wait in the stream"
	case PauseTemplate:
		return "an account template is missing in JumpServer; intents wait in the stream"
	case PauseConfig:
		return "the JumpServer configuration does not fit the server (unknown org?); intents wait in the stream"
	}
	return reason
}

// sharedSince reads (or creates) key holding the start of a condition.
func (a *Applier) sharedSince(ctx context.Context, key string, now time.Time) time.Time {
	b, _ := json.Marshal(map[string]time.Time{"since": now})
	if _, err := a.stateKV.Create(ctx, key, b); err == nil {
		return now
	}
	if e, err := a.stateKV.Get(ctx, key); err == nil {
		var v struct {
			Since time.Time `json:"since"`
		}
		if json.Unmarshal(e.Value(), &v) == nil && !v.Since.IsZero() {
			return v.Since.UTC()
		}
	}
	return now
}

// resume clears reason; fetching resumes when no reason is left.
func (a *Applier) resume(ctx context.Context, reason string) {
	a.pmu.Lock()
	st, ok := a.paused[reason]
	if !ok {
		a.pmu.Unlock()
		return
	}
	delete(a.paused, reason)
	left := len(a.paused)
	if reason == PauseTemplate {
		a.missingTpl = map[string]bool{}
	}
	a.pmu.Unlock()
	if err := a.stateKV.Purge(ctx, pausePrefix+reason); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		a.log.Warn().Err(err).Msg("clear pause flag")
	}
	a.log.Info().Str("reason", reason).Dur("paused_for", a.now().Sub(st.since)).Msg("applier resumed")
	a.alert(ctx, events.AlertApplierResumed, events.SeverityInfo, "applier resumed: "+reason+" cleared",
		st.stateID, map[string]string{"reason": reason, "paused_since": st.since.Format(time.RFC3339)})
	if left == 0 {
		a.pausedNow.Store(false)
		a.gate.Resume()
	}
}

func (a *Applier) resumeAll(ctx context.Context, reasons ...string) {
	for _, r := range reasons {
		a.resume(ctx, r)
	}
}

func (a *Applier) pauseReasons() string {
	a.pmu.Lock()
	defer a.pmu.Unlock()
	return strings.Join(slices.Sorted(maps.Keys(a.paused)), ",")
}

// probeLoop checks every ProbeInterval whether the pause conditions
// cleared. While the breaker is open the client refuses at once, so probing
// sends nothing; after its open timeout one probe request goes through.
func (a *Applier) probeLoop(ctx context.Context) {
	defer func() {
		a.pmu.Lock()
		a.probing = false
		a.pmu.Unlock()
	}()
	for {
		if !sleepCtx(ctx, a.cfg.ProbeInterval) {
			return
		}
		a.pmu.Lock()
		reasons := maps.Clone(a.paused)
		tpls := slices.Collect(maps.Keys(a.missingTpl))
		a.pmu.Unlock()
		if len(reasons) == 0 {
			return
		}
		_, hasB := reasons[PauseBreaker]
		_, hasA := reasons[PauseAuth]
		_, hasC := reasons[PauseConfig]
		if hasB || hasA || hasC {
			if a.client.BreakerState() == jumpserver.BreakerOpen {
				continue // nothing would be sent
			}
			if _, err := a.client.Start(ctx); err != nil {
				a.log.Debug().Err(err).Msg("probe failed; still paused")
				continue
			}
			a.resumeAll(ctx, PauseBreaker, PauseAuth, PauseConfig)
		}
		if _, ok := reasons[PauseTemplate]; ok {
			okAll := true
			for _, t := range tpls {
				if _, err := a.client.AccountTemplate(ctx, t); err != nil {
					okAll = false
					if pauseReason(err) == PauseBreaker {
						a.pause(ctx, PauseBreaker, err)
					}
					break
				}
			}
			if okAll {
				a.resume(ctx, PauseTemplate)
			}
		}
	}
}

// capRefused is JumpServer refusing creates at its asset cap. The alert
// and the log report the cap JumpServer's message names (and the assets it
// counts now, read with a GET) rather than the configured cap, and say so
// when the two differ.
func (a *Applier) capRefused(ctx context.Context, err error) {
	n, cerr := a.client.CountAllAssets(ctx)
	if cerr != nil {
		n = jumpserver.AssetCount{Count: -1, Cap: a.cfg.JumpServer.AssetCap} // -1: not known
	}
	if limit, ok := jumpserver.CapLimit(err); ok {
		n.Cap = limit
	}
	a.setCap(ctx, true, n)
}

// setCap records whether creates found the cap reached; it alerts on change.
// count.Cap is the cap in force: the configured one, or the one
// JumpServer's refusal named (capRefused); count.Count is -1 when unknown.
func (a *Applier) setCap(ctx context.Context, reached bool, count jumpserver.AssetCount) {
	a.pmu.Lock()
	if a.capReached == reached {
		a.pmu.Unlock()
		return
	}
	a.capReached = reached
	since := a.capSince
	if reached {
		since = a.now().UTC()
	}
	a.pmu.Unlock()
	a.m.capGauge.Store(boolInt(reached))
	configured := a.cfg.JumpServer.AssetCap
	details := map[string]string{"cap": itoa(count.Cap)}
	if count.Count >= 0 {
		details["count"] = itoa(count.Count)
	}
	if reached {
		since = a.sharedSince(ctx, capKey, since)
		a.pmu.Lock()
		a.capSince = since
		a.pmu.Unlock()
		msg := "JumpServer Community Edition asset cap reached: creates are paused, deletions and updates go on"
		ev := a.log.Warn().Int("cap", count.Cap)
		if count.Count >= 0 {
			ev = ev.Int("count", count.Count)
		}
		if count.Cap > 0 && !a.cfg.JumpServer.Licensed && count.Cap != configured {
			details["configured_cap"] = itoa(configured)
			ev = ev.Int("configured_cap", configured)
			msg = fmt.Sprintf("JumpServer refused creates at its asset cap of %d (JMSSYNC_JUMPSERVER_ASSET_CAP is %d): "+
				"creates are paused, deletions and updates go on", count.Cap, configured)
		}
		ev.Msg("asset cap reached; creates wait")
		a.alert(ctx, events.AlertCapReached, events.SeverityCritical, msg, "cap@"+since.Format(time.RFC3339Nano), details)
		return
	}
	_ = a.stateKV.Purge(ctx, capKey)
	a.log.Info().Int("count", count.Count).Msg("room under the asset cap again; creates resume")
	a.alert(ctx, events.AlertCapCleared, events.SeverityInfo, "room under the asset cap again: creates resume",
		"cap@"+since.Format(time.RFC3339Nano), details)
}

// alert publishes one alert; its message id dedupes repeats of one change.
func (a *Applier) alert(ctx context.Context, kind events.AlertKind, sev events.Severity, msg, stateID string, details map[string]string) {
	al := events.NewAlert(kind, sev, nil, msg, stateID, Name, a.now(), details)
	b, err := events.Encode(al)
	if err != nil {
		a.log.Error().Err(err).Str("kind", string(kind)).Msg("invalid alert")
		return
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := natsx.Publish(pctx, a.js, natsx.AlertSubject(string(kind)), b, al.MsgID()); err != nil {
		a.log.Error().Err(err).Str("kind", string(kind)).Msg("alert publish failed")
		return
	}
	a.m.alerts.Add(ctx, 1, kindAttr(string(kind)))
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
