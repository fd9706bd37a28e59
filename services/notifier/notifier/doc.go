// Package notifier is the jms-sync notifier service: it closes each run when
// every expected result is in (or on a timeout), publishes the closed run
// record, sends one card per run and cloud account, and sends alerts once
// per change of state, ahead of the cards, to every configured channel
// (DingTalk robots today) within each channel's rate limit.
//
// Run is what main and the all-in-one call. The card and alert rendering
// (render.go) and the run aggregation (tracker.go) are pure.
package notifier
