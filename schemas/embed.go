// Package schemas embeds the JSON Schemas of every jms-sync message, so that
// producers can validate what they publish at run time and tests in any
// module can check real messages against the contract.
package schemas

import "embed"

// FS holds the schema files (*.json) and the AsyncAPI document.
//
//go:embed *.json asyncapi.yaml
var FS embed.FS

// IDBase is the prefix of every schema's $id; the file name follows it.
const IDBase = "https://github.com/jmssync/jmssync/raw/main/schemas/"
