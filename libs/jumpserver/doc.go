// Package jumpserver is jms-sync's JumpServer v4 REST client: access-key
// HTTP Signature auth, org checking, version detection (4.7 / 4.10), name
// resolution (platforms, zones, account templates, node paths), paged
// listing, bulk create and update with the safety rules of ARCHITECTURE.md
// (rule 7), failure classification, a circuit breaker, and bounded
// concurrency and rate. Facts are from /work/shared/specs/jumpserver-api.md
// (§ below).
//
// # Use
//
//	c, err := jumpserver.New(jumpserver.Config{URL: …, KeyID: …, Secret: …, OrgID: …})
//	info, err := c.Start(ctx)              // auth, org, version, root node, platforms
//	p, err := c.Platform(ctx, "Linux")     // by name, never a hard-coded id
//	n, err := c.EnsureNodePath(ctx, "/"+info.RootNode.Value+"/阿里云/prod")
//	res := c.CreateHosts(ctx, []jumpserver.HostCreate{{ID: assetID, …}})
//	res = c.PatchHosts(ctx, []jumpserver.HostPatch{{ID: id, Labels: &merged}})
//
// # Signing
//
// JumpServer verifies draft-cavage HTTP Signatures (§1.2): HMAC-SHA256 over
// "(request-target): <method> <path?query>" and "date: <Date>", with the
// request target as Django's get_full_path() sees it. The only Go library
// on the module proxy, github.com/go-fed/httpsig v1.1.0, computes that
// signing string and MAC, with two differences handled here (sign.go):
//
//   - it writes algorithm="hs2019" into the header, which JumpServer's
//     verifier rejects with 500; the MAC is the same HMAC-SHA256, so the one
//     parameter is rewritten to algorithm="hmac-sha256" (and the signer
//     fails loudly if go-fed's output ever stops having that shape);
//   - it builds the request target from the decoded URL.Path, whereas the
//     server sees the escaped path that went on the wire. The client signs a
//     shadow request whose path is the exact URL.RequestURI() that is sent.
//     Django re-escapes the decoded path with its own safe set, which can
//     differ from Go's for characters such as ';' '=' '!' '*'; so path
//     segments are restricted to ids ([A-Za-z0-9-]) and every name travels
//     in the query string (url.Values encoding, which both sides keep
//     byte-for-byte).
//
// Only "(request-target) date" is signed (never content-type or
// content-length: §1.2, jumpserver#16465). Go sends no Date header on its
// own; the client sets it (RFC 1123, GMT) on every request. The secret is a
// config.Secret: it is revealed only to compute the MAC and never appears in
// errors, logs, String() or %v output.
//
// # Org
//
// X-JMS-ORG is sent on every request. Start reads /api/v1/orgs/orgs/current/
// and refuses (KindConfig, ErrUnknownOrg) when the server answers in another
// org than the configured one: Community Edition silently maps an unknown org
// to Default (§1.5), so writes would land there. The root org is refused at
// New (it refuses writes).
//
// # Version detection
//
// /api/v1/assets/zones/ exists from 4.10.0 on; /api/v1/assets/domains/
// before (§0). Start probes zones then domains (an unknown route answers 404
// before authentication; a list route never does otherwise). The detected
// Version selects the zone field (zone / domain), the zone endpoint, the
// page cap (1000 / 10000 — 1000 is also safe on 4.10.0–4.10.7) and account
// handling (4.7: bulk create does not take accounts; they are added after
// the host through /api/v1/accounts/accounts/ with on_invalid=skip).
//
// # Lists
//
// Every list sends an explicit limit (a list without one is cut to 200 rows
// on 4.10.8+) at the version's cap, and fields= to keep pages small; offsets
// advance by the rows actually received (a silently lower cap skips
// nothing), ids are de-duplicated, and a count that moves while paging is
// reported (ListStats.Changed). A node filter is checked to exist first: an
// unknown node makes JumpServer list the whole org (§3.3).
//
// # The asset cap
//
// CountAllAssets counts what the Community Edition cap counts. On 4.10 that
// is every asset in every org: the client reads /api/v1/assets/assets/
// ?limit=1 with X-JMS-ORG set to the root org, which serves reads across
// orgs (§1.5), and takes the envelope's count. If the key may not read the
// root org (403) it falls back to the current org (AssetCount.AllOrgs false,
// a lower bound). On 4.7 the cap counts the hosts of the current org, which
// is what it reads there. A create refused by the cap is KindCap (global).
//
// # Failures
//
// Every failure is an *Error with a Kind (errors.go). IsGlobal reports auth,
// the cap, an unknown org, a missing account template and an open breaker:
// conditions that pause the applier rather than fail one item. Every request
// goes through a sony/gobreaker breaker that counts only 5xx, timeouts and
// dropped connections as failures (4xx mean a healthy server); a caller's
// cancelled context is excluded. A 429 holds every request of the client
// until its Retry-After (bounded by MaxRetryAfter) and is then resent;
// beyond the bound it is reported as KindThrottled with RetryAfter.
//
// # Writes
//
// Only PATCH updates hosts (never PUT, which resets is_active and nodes).
// Labels and nodes replace the whole set on update, so the caller passes
// MergeLabels / MergeNodes results that keep operator labels and nodes.
// Bulk rules are described in bulk.go. Node paths are created one segment
// at a time under a client-wide mutex (the server's full_value route takes
// no lock); a 400 from a concurrent creator elsewhere is answered by a read.
package jumpserver
