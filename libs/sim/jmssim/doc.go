// Package jmssim simulates the JumpServer v4 REST API surface that an asset
// sync tool uses (hosts and other assets, nodes, platforms, zones/domains,
// labels, account templates and accounts, organisations), speaking the real
// wire protocol: HTTP Signature access keys verified as the server does,
// X-JMS-ORG/oid org scoping, DRF error shapes, limit/offset pagination with
// the version's caps, bulk create/update/delete, and the Community Edition
// asset cap. Behaviour follows /work/shared/specs/jumpserver-api.md; a
// Version switch selects 4.7 or 4.10 behaviour.
//
// Use from tests:
//
//	sim := jmssim.Start(t, jmssim.Options{Version: "4.10"})
//	// sign requests with jmssim.DefaultKeyID / jmssim.DefaultSecret
//	resp := get(sim.URL + "/api/v1/assets/hosts/?limit=100")
//
// Use from a binary: s := jmssim.New(opts); s.Listen("127.0.0.1:8080").
//
// # Knobs
//
// Options embeds Knobs (latency, per-item cost, worker cap, 5xx rate,
// outages, throttling, commit-then-drop, asset cap, licensed mode). They can
// be changed while serving with SetKnobs, UpdateKnobs, SetOutage,
// OutageFor and DropNextWrites, or over HTTP.
//
// Request pipeline: outage (503, nginx HTML) → worker slot → latency →
// injected 500 → routing (unknown route 404, missing slash 301) →
// authentication (401) → method (405) → read-only key (403) → throttling
// (429 + Retry-After) → org resolution → handler → optional drop of a
// committed write's response.
//
// # Control endpoints
//
// Under /_sim/ (no authentication; never collides with /api/v1/):
//
//	GET   /_sim/                 index
//	GET   /_sim/state            dump: orgs, nodes, labels, zones, templates, assets (?assets=false omits assets)
//	POST  /_sim/reset            drop all state, counters and the log (knobs kept)
//	POST  /_sim/seed             apply a Seed (JSON), bypassing the API and the cap
//	GET   /_sim/knobs            current Knobs
//	PUT   /_sim/knobs            replace Knobs (durations as ns or "50ms")
//	PATCH /_sim/knobs            merge into the current Knobs
//	GET   /_sim/counters         Counters (requests by "METHOD /route/", reads, writes, faults, background tasks, label rows)
//	POST  /_sim/counters/reset   clear counters and the log
//	GET   /_sim/log?limit=N      recent API requests, oldest first
//	GET   /_sim/options          structural options (version, root node name, orgs, keys)
//
// Control requests are not counted or logged.
//
// # Inferred behaviour
//
// Where the spec marks behaviour as inferred, the simulator picks one:
// a name clash with a non-host asset, a duplicate name inside one bulk
// request, or a racing duplicate create → 500 {"error":"Server internal
// error"} with nothing written; a client-chosen id already used by an asset
// of the same org → 400 {"id":["Asset with this id already exists."]}, used
// in another org → 500; a signed content-type/content-length, a missing
// signed header, a non-UUID keyId, bad base64 or an unsupported algorithm
// → 500 (Options.NoInternalErrors turns these into 401).
package jmssim
