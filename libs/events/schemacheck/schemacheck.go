// Package schemacheck validates encoded jms-sync messages against their JSON
// Schemas (schemas/*.json, embedded by the schemas module), with the
// maintained santhosh-tekuri/jsonschema validator. Producers of public
// messages use it at run time; every module's tests use it to check that
// what the code really publishes keeps the contract.
package schemacheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/schemas"
)

// Checker holds every compiled schema.
type Checker struct {
	byFile map[string]*jsonschema.Schema
}

var (
	once    sync.Once
	shared  *Checker
	loadErr error
)

// Default returns the checker of the embedded schemas, compiled once.
func Default() (*Checker, error) {
	once.Do(func() { shared, loadErr = Load(schemas.FS) })
	return shared, loadErr
}

// Load compiles every *.json schema in fsys (draft 2020-12, formats asserted).
func Load(fsys fs.FS) (*Checker, error) {
	files, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("schemacheck: no schema files")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schemacheck: %s: %w", f, err)
		}
		if err := c.AddResource(schemas.IDBase+path.Base(f), doc); err != nil {
			return nil, fmt.Errorf("schemacheck: %s: %w", f, err)
		}
	}
	ck := &Checker{byFile: map[string]*jsonschema.Schema{}}
	for _, f := range files {
		s, err := c.Compile(schemas.IDBase + path.Base(f))
		if err != nil {
			return nil, fmt.Errorf("schemacheck: compile %s: %w", f, err)
		}
		ck.byFile[path.Base(f)] = s
	}
	return ck, nil
}

// Check validates one encoded message against the schema its "schema"
// property names. The error says which schema and what failed.
func (c *Checker) Check(data []byte) error {
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("schemacheck: not a JSON object: %w", err)
	}
	file, ok := events.SchemaFiles[head.Schema]
	if !ok {
		return fmt.Errorf("schemacheck: unknown schema %q", head.Schema)
	}
	return c.CheckAs(file, data)
}

// CheckAs validates data against one schema file, e.g. "pass-close.v1.json".
func (c *Checker) CheckAs(file string, data []byte) error {
	s := c.byFile[file]
	if s == nil {
		return fmt.Errorf("schemacheck: no schema file %q", file)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("schemacheck: %s: %w", file, err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("schemacheck: %s: %w", file, err)
	}
	return nil
}
