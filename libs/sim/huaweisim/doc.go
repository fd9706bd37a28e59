// Package huaweisim simulates the two Huawei Cloud APIs a collector reaches
// through the official huaweicloud-sdk-go-v3 client: ECS v2
// ListServersDetails and the IAM project lookup the SDK makes on its own to
// discover a project id. It renders a cloudinv.Inventory (use
// Provider cloudinv.Huawei) in Huawei's wire format; see
// /work/shared/specs/cloud-apis.md §2.
//
// One listener serves everything from its root (the SDK drops any path
// prefix of an endpoint):
//
//	GET /v1/{project_id}/cloudservers/detail   ECS ListServersDetails
//	GET /v3/projects?name=<region>              IAM KeystoneListProjects
//	/_sim/...                                   control API (below)
//
// # Authentication
//
// Every API request must carry a valid SDK-HMAC-SHA256 signature
// (Authorization, X-Sdk-Date) by one of Options.Keys, computed over exactly
// the headers named in SignedHeaders as received. A bad signature, an
// unknown AK or an X-Sdk-Date more than Options.MaxSkew (15 min) from
// Options.Now gives 401 {"error_code":"APIGW.0301",…}. Every response has
// Content-Type application/json, Server api-gateway and a fresh
// X-Request-Id (IAM responses also X-IAM-Trace-Id).
//
// # Projects
//
// A key's account is cloudinv.Key.Account (its domain id). Each (account,
// region) has one deterministic project id, ProjectID(account, region),
// which appears as tenant_id in server bodies. The project id in an ECS path
// decides the region listed. A literal "{project_id}" (an SDK built with
// WithEndpoints and neither project id nor region) gives 404 APIGW.0101; an
// X-Project-Id header different from the path gives 400 APIGW.0201; a
// project that is unknown or belongs to another account gives 403
// APIGW.0302. The IAM lookup returns the caller's account's project of the
// named region (none for an unknown region); IAMNone and IAMTwo force zero
// or two matches, which the SDK reports as errors.
//
// # Listing
//
// offset is a 1-based page number (absent or 0 = page 1), limit defaults to
// 25 and is capped at 1000 (negative or non-numeric limit/offset: 400
// Ecs.0005). marker (the id of the last server of the previous page) starts
// after that server's position in creation order, even if it has been
// released meanwhile; when marker is set, offset is ignored. count is the
// live number of servers matching the filters. Filters: status (the API
// word, e.g. ACTIVE), name (substring), flavor, ip (substring), ip_eq,
// tags / not-tags (one "k=v" or "k" string), enterprise_project_id (an id,
// or all_granted_eps), reservation_id (matches nothing) and server_id
// (comma-separated; overrides every other filter; unknown ids come back with
// only id and fault).
//
// State mapping (the ECS status table): running → ACTIVE, stopped →
// SHUTOFF, starting → SHUTOFF with task_state powering-on, stopping →
// ACTIVE with task_state powering-off, pending → BUILD.
//
// Enterprise projects: a key listed in Options.EnterpriseProjects models an
// IAM user authorised per enterprise project. With
// enterprise_project_id=all_granted_eps it sees its granted projects; with
// a granted id, that project; with an id not granted, 403 Ecs.0319; with no
// enterprise_project_id, only the default project "0" (nothing if "0" is
// not granted) — so a collector that omits all_granted_eps misses servers.
// Other keys see every enterprise project. (This scoping is a model, not a
// recorded behaviour.)
//
// # Faults
//
// cloudinv faults apply to ECS listings: RegionDown → 503 APIGW.0202,
// PageFailed → 500 {"error":{"code":"Ecs.0000",…}}, Throttled → 429
// APIGW.0308, Latency/Hang delay the answer (IAM calls get Latency), Churn
// fires after the page is served. A key with Permission ListForbidden gets
// 403 {"error":{"code":"Ecs.0319","message":"Policy doesn't allow
// ecs:cloudServers:list to be performed."}}; ListEmpty gets 200 with count 0.
// Options.RateLimit adds a per-AK token bucket answering 429 APIGW.0308.
//
// # Control API
//
// Unauthenticated JSON endpoints on the same port, not logged or counted:
//
//	GET  /_sim/instances?region=R          instances (all regions if R is empty), cloudinv.Instance JSON
//	POST /_sim/instances/add      {"region":"cn-north-4","name":"optional"}  → the new instance
//	POST /_sim/instances/release  {"id":"…"}                                → {"released":"…"}
//	POST /_sim/instances/rename   {"id":"…","name":"…"}                     → the instance
//	POST /_sim/instances/stop     {"id":"…"}                                → the instance
//	POST /_sim/instances/start    {"id":"…"}                                → the instance
//	POST /_sim/instances/reip     {"id":"…","ip":"optional"}                → {"ip":"…","instance":{…}}
//	GET  /_sim/faults                       current cloudinv.Faults
//	PUT  /_sim/faults             cloudinv.Faults JSON, e.g. {"FailPage":2,"ThrottleEvery":3,
//	                              "FailRegions":{"cn-east-3":true},"Latency":"200ms",
//	                              "Churn":[{"Region":"cn-north-4","AfterPage":1,"Release":true}]}
//	                              (Latency/Hang: nanoseconds or a Go duration string)
//	PUT  /_sim/iam                {"mode":"one"|"none"|"two"}
//	GET  /_sim/projects                     [{"id","name"(region),"domain_id"}]
//	GET  /_sim/log                          []LogEntry (method, path, query, status, ak,
//	                                        signed_headers, verified, error_code, request_id)
//	GET  /_sim/counters                     {"total":N,"counters":{"GET /v3/projects":1,…},"ordered":[…]}
//	POST /_sim/reset                        clear log, counters, rate limiter, faults, IAM mode
//
// Unknown ids give 404, malformed bodies 400, both as {"error":"…"}.
package huaweisim
