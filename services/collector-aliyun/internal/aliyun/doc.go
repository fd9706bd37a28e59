// Package aliyun is the Aliyun ECS half of collector-aliyun: a
// collector.Source that lists the instances of one account, region by
// region, through the official SDK (github.com/aliyun/alibaba-cloud-sdk-go),
// and reads the account identity through STS GetCallerIdentity (asked again
// after identityTTL, 10 minutes: an AccessKey cannot change account).
//
// # Listing (List)
//
//  1. DryRun probe (unless Config.SkipDryRunProbe): DescribeInstances with
//     DryRun=true, sent beside the first pages (its answer is weighed once
//     the listing is in, so it adds no round trip to a pass; a probe that
//     fails the pass stops the listing, which has then spent a page or so). 400 DryRunOperation → probe
//     "ok". 403 / Forbidden.* → the
//     pass fails with "permission": a key without list permission may get a
//     successful empty list (before 2025-12-20, and still with
//     resource-group scoped policies), so the probe is what tells "may not
//     list" from "really empty". Auth, throttling beyond the budget, timeout
//     and cancel fail the pass with their own reason. A plain success means
//     the endpoint ignores DryRun → probe "unsupported", listing goes on.
//     Anything else (5xx, an unknown code) → probe "error" and the listing
//     goes on: a non-empty listing proves the permission by itself, while an
//     empty one then fails the pass (api_error) because it cannot be told
//     from a denial.
//  2. Token paging: MaxResults=Config.PageSize (100) and NextToken, never
//     PageNumber. The token is a position, so releases and creations between
//     pages neither skip nor repeat an instance, and no page is fetched
//     twice (Listing.Calls = pages + probe when nothing is retried). An
//     instance listed twice fails the pass ("churn"), a NextToken seen
//     before or an instance of another region fails it (api_error).
//  3. Each instance is mapped by MapInstance, then Validate'd. MapInstance
//     repairs what cannot be published (drops addresses that do not parse,
//     strips control characters from optional text) instead of dropping the
//     instance: safety rule 1 says a listed instance is never deleted, and
//     an instance missing from the listing would be. An instance that still
//     does not validate (no id, no status) fails the pass (api_error) with
//     its id and the problems, so nothing is ever left out silently.
//  4. An empty listing is returned as is, with the probe recorded. With the
//     probe turned off a key without permission can thus produce an empty
//     listing without error; that is allowed because the reconciler treats a
//     scope that had instances and now lists none as suspicious (safety rule
//     2), and the "skipped" probe shows why it could not be told apart.
//
// # Retries, timeouts, cancellation
//
// The SDK's AutoRetry is off (it re-sends 5xx without backoff and never
// retries throttling). Every call goes through Config.Backoff (Backoff.Do),
// retrying only Aliyun flow control: Throttling, Throttling.* (User, Api…)
// or any HTTP 429; beyond the budget the pass fails with "throttled". A 5xx
// answer (ServiceUnavailable, InternalError) gets exactly one retry after a
// backoff delay: one blip should not throw away a 25-page listing, but a 503
// that persists is an outage, and spending the throttling budget on every
// page of every region would only delay the failed pass that reports it —
// the next scheduled pass is the real retry. Nothing else is retried
// (timeouts included: a hang is likely to repeat and has already cost
// Timeout).
//
// Each request carries the SDK's own read/connect timeout, set from
// Config.Timeout (less when the context's deadline is nearer). The SDK takes
// no context, so each call runs in its own goroutine and List returns as
// soon as the context ends (reason "canceled", or "timeout" for a deadline);
// the abandoned call ends within its request timeout and returns its client
// to the pool. See New for why clients are pooled.
//
// # Errors
//
// Failures are *collector.ListError with a reason: auth
// (InvalidAccessKeyId.*, SignatureDoesNotMatch — the SDK's
// "InvalidAccessKeySecret" —, IncompleteSignature…), permission (403,
// Forbidden.*), throttled, timeout, canceled, churn, api_error (everything
// else). Identity uses identity_unknown instead of permission/api_error. The
// Detail names the account id, the region, the page or the probe, Aliyun's
// code, HTTP status and request id — never the SDK's error text, which holds
// the request URL or the server's string-to-sign, and never the secret (it
// is also masked should it ever show up). Err is an *APIError with the same
// fields.
package aliyun
