// Package aliyunsim simulates the Alibaba Cloud ECS RPC API (DescribeInstances,
// DescribeRegions; version 2014-05-26) and STS GetCallerIdentity (2015-04-01)
// closely enough that the unmodified github.com/aliyun/alibaba-cloud-sdk-go
// client talks to it. It renders a cloudinv.Inventory in Aliyun's wire format.
//
// # The API, at "/"
//
// GET or POST "/" with every parameter in the query (a form body is read
// too), dispatched on Action. The gateway checks, in order:
//
//   - MissingParameter (400) for Action, AccessKeyId, Signature,
//     SignatureMethod (HMAC-SHA1), SignatureVersion (1.0), SignatureNonce,
//     Timestamp, Version, Format (JSON only); InvalidAction.NotFound (404) for
//     other actions; InvalidVersion (400) for a wrong Version;
//   - InvalidAccessKeyId.NotFound (404) for an unknown key;
//   - the signature v1 (HMAC-SHA1 over METHOD&%2F&encode(canonical query),
//     key secret+"&"): SignatureDoesNotMatch (400) with
//     "server string to sign is:<sts>" in Message, so the SDK reports
//     "InvalidAccessKeySecret" when only the secret is wrong;
//   - Timestamp within Options.MaxSkew (15 min) of Options.Now:
//     InvalidTimeStamp.Format / InvalidTimeStamp.Expired (400);
//   - a nonce used again by the same key within the window:
//     SignatureNonceUsed (400);
//   - the per-key, per-Action limiter (Options.ThrottleRPM per clock
//     minute): Throttling.User (400) until the next minute boundary.
//
// DescribeInstances validates RegionId (InvalidRegionId.NotFound, 404), pages
// with PageNumber/PageSize (offsets over the live list, PageSize 1-100, else
// 400 InvalidParameter) or, when MaxResults or NextToken is present, with an
// opaque NextToken that encodes a position (the last instance served), so
// churn between pages neither skips nor repeats in token mode, while page mode
// shifts as the real API does. TotalCount is the live count of matches.
// Filters honoured: InstanceIds, Status, ZoneId, VpcId, InstanceType,
// ImageId, InstanceName (with *), PrivateIpAddresses, PublicIpAddresses,
// EipAddresses, InstanceNetworkType, Tag.N.Key/Tag.N.Value.
//
// Key permissions (cloudinv.Key.Permission): CanList lists; DryRun=true
// answers 400 DryRunOperation. ListForbidden answers 403 Forbidden.RAM (with
// AccessDeniedDetail). ListEmpty answers a successful empty list (the
// pre-2025-12-20 behaviour). Both ListForbidden and ListEmpty get 403
// Forbidden.RAM on DryRun, which is how a collector tells an empty region from
// a key that may not list. DescribeRegions and GetCallerIdentity are allowed
// for every known key.
//
// Faults come from the inventory (cloudinv.Faults): FailRegions → 503
// ServiceUnavailable; FailPage → 500 InternalError; ThrottleEvery → 400
// Throttling.User; Latency on every call; Hang instead of Latency on list
// calls (the wait ends early if the client goes away); Churn after a page.
//
// Every answer, success or error, carries a fresh RequestId (also in the
// X-Acs-Request-Id header); errors are {RequestId, HostId, Code, Message,
// Recommend}.
//
// # The control API, under "/_sim/" on the same port
//
// JSON in and out. Mutations take a JSON object of strings as the body, or
// the same names as query parameters.
//
//	GET    /_sim/instances?region=R[&format=aliyun]  instances of R ("" = all), listing order;
//	                                                 cloudinv field names, or DescribeInstances shape
//	GET    /_sim/instance?id=ID                       one instance
//	POST   /_sim/instances/add     {"region","name"}  201 + the new instance (name optional)
//	POST   /_sim/instances/release {"id"}             {"id","released":true}
//	POST   /_sim/instances/rename  {"id","name"}      the instance
//	POST   /_sim/instances/stop    {"id"}             state Stopped
//	POST   /_sim/instances/start   {"id"}             state Running
//	POST   /_sim/instances/state   {"id","state"}     pending|starting|running|stopping|stopped
//	POST   /_sim/instances/reip    {"id","ip"}        new primary private IP ("" = a fresh one)
//	GET    /_sim/faults                               cloudinv.Faults + "ChurnDone"
//	PUT    /_sim/faults                               cloudinv.Faults as JSON; Latency/Hang in ns or "250ms";
//	                                                  replaces all faults and restarts ThrottleEvery counting
//	DELETE /_sim/faults                               clear faults
//	GET    /_sim/log                                  []LogEntry (API calls, Signature removed)
//	GET    /_sim/counters                             {"actions": by Action and Action:Code, "requests": simnet counts}
//	GET    /_sim/regions                              configured regions
//	POST   /_sim/reset                                clear log, counters, nonces, limiter, faults (not instances)
//
// Unknown control paths answer 404. Real SDK traffic only ever goes to "/",
// so the two never collide.
//
// # Pointing the SDK at it
//
//	cfg := sdk.NewConfig()                        // Scheme HTTP, AutoRetry off
//	cred := credentials.NewStaticAKCredentialsProvider(ak, secret)
//	client, err := ecs.NewClientWithOptions("cn-hangzhou", cfg, cred)
//	client.Domain = srv.Addr                      // "127.0.0.1:PORT"
//	client.SetNoProxy("127.0.0.1")                // the SDK honours HTTP_PROXY even for loopback
//	req := ecs.CreateDescribeInstancesRequest()
//	req.RegionId = "cn-beijing"                   // one client can list every region
//	req.MaxResults = requests.NewInteger(100)
//	resp, err := client.DescribeInstances(req)
package aliyunsim
