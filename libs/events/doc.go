// Package events holds the Go types of every message jms-sync puts on NATS —
// the types of the JSON Schemas in schemas/ at the repository root — with
// their validation, constructors and a Decode that reads the "schema" field
// of any message and returns the typed value or an error suitable for a
// dead-letter reason.
//
// Every message carries "schema": "<family>/v<major>" (SchemaSnapshotChunk…).
// Additive changes keep the version; a breaking change adds a new version
// beside the old one (see schemas/README.md). Decoding ignores unknown fields.
//
// Subjects, stream names and the encoding of scope tokens belong to libs/natsx,
// not to this package.
package events
