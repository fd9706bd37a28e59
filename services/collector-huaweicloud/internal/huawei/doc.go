// Package huawei is the Huawei Cloud half of collector-huaweicloud: a
// collector.Source that lists the ECS servers of one account, region by
// region, through the official SDK (github.com/huaweicloud/
// huaweicloud-sdk-go-v3, ECS v2 ListServersDetails), and reads the account
// identity (the domain id) through IAM KeystoneListProjects.
//
// # Project ids
//
// Huawei project ids are per region, so every region has its own: from
// Config.ProjectIDs, or looked up once per Source with IAM
// KeystoneListProjects(name=<region>) — the same GET /v3/projects?name= the
// SDK's auto-discovery makes — and kept for the Source's life. The lookup
// is made by this package through the IAM client, not by the ECS client
// builder (WithRegion without a project id), because the SDK's discovery
// runs inside SafeBuild without a context, flattens every failure into a
// string that embeds the server's message (for a 401 the real gateway
// echoes its canonical request), cannot be retried on throttling, and
// caches its answer per AK+region for the whole process. Here the lookup is
// an ordinary call: context, timeout, retry and error classification as
// for listing. Zero or several projects fail the pass with
// ReasonProjectUnresolved ("project_unresolved") and a detail that says to
// set ProjectIDs[region]. ECS clients are only ever built with an explicit
// project id and WithEndpoints, so the SDK never discovers anything and no
// request can carry a literal "{project_id}".
//
// # Identity
//
// Identity returns the domain id (the Huawei account), which is what
// ARCHITECTURE's account identity means; server bodies only carry tenant_id,
// the per-region project id. It comes from the domain_id of the projects IAM
// lists for the region (a key only sees its own domain's projects). When the
// region has no configured project id, the project found is kept, so a pass
// (Identity, then List) makes a single IAM call.
//
// # Listing (List)
//
//  1. No DryRun exists for ListServersDetails: every listing records the
//     probe dry_run=unsupported. A key without list permission gets 403
//     (Ecs.0319) and fails the pass with "permission"; an empty answer is
//     returned as an empty listing without error, because it cannot be told
//     from an empty region here: the reconciler treats a scope that had
//     instances and now lists none as suspicious (safety rule 2).
//  2. Marker paging: limit=Config.PageSize (1000) and marker = the id of the
//     last server of the previous page, never offset. Servers released or
//     created between pages neither shift nor repeat others, and no page is
//     fetched twice (Listing.Calls = Listing.Pages, plus an IAM lookup when
//     one was made, when nothing is retried). The listing ends with an
//     empty page, or a short one once at least count servers were listed
//     (an endpoint that caps limit lower is paged on). A server listed twice
//     fails the pass ("churn"); a server of another project, or a listing
//     that ended with fewer servers than the count every page reported
//     (count unchanged, so nothing churned), fails it (api_error). A count
//     that changes between pages is churn that marker paging absorbs.
//  3. enterprise_project_id is always sent: all_granted_eps unless
//     Config.EnterpriseProjectID names one (see there).
//  4. Each server is mapped by MapServer, then Validate'd. MapServer repairs
//     what cannot be published (drops addresses that do not parse, strips
//     control characters from optional text) instead of dropping the
//     server: safety rule 1 says a listed instance is never deleted, and
//     one missing from the listing would be. A server that still does not
//     validate (no id, no status) fails the pass (api_error) with its id and
//     the problems, so nothing is ever left out silently.
//
// # Retries, timeouts, cancellation
//
// The SDK retries nothing. Every call goes through Config.Backoff
// (Backoff.Do), retrying Huawei's flow control — 429 APIGW.0308, or any
// 429 — within its budget; beyond it the pass fails with "throttled". A 5xx
// answer gets exactly one retry after a backoff delay: one blip should not
// throw away a long listing, but a 5xx that persists is an outage and the
// next scheduled pass is the real retry. Nothing else is retried (timeouts
// included: a hang is likely to repeat and has already cost Timeout).
//
// Each request is bounded by Config.Timeout (the SDK's http.Client timeout)
// and by the context: the SDK takes no context, so every call builds its
// own client whose round tripper carries the caller's context. Cancelling
// the context aborts the request in flight at once (reason "canceled", or
// "timeout" for a deadline); nothing is left running.
//
// # Errors
//
// Failures are *collector.ListError with a reason: auth (401, APIGW.0301:
// bad signature, unknown AK, clock skew), permission (any 403: Ecs.0319,
// APIGW.0302…), throttled, timeout, canceled, churn, project_unresolved,
// api_error (everything else). Identity uses identity_unknown instead of
// permission/api_error/project_unresolved. The Detail names the account id,
// the region, the page or the lookup, Huawei's code, HTTP status and request
// id, and a short message cut before any quoted signing material
// (canonicalRequest, string to sign) — never the SDK's error, never the
// secret (it is also masked should it ever show up). Err is an *APIError
// with the same fields.
package huawei
