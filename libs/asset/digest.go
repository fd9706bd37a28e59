package asset

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// Canonical is the canonical encoding of an instance: its JSON encoding (the
// struct's field order, map keys sorted, as encoding/json writes them) with
// the creation time in UTC. An instance decoded from a chunk re-encodes to
// the same bytes, so collector and reconciler compute the same digest —
// provided the text is valid UTF-8, which Normalize ensures and Validate checks.
func Canonical(in Instance) ([]byte, error) {
	if !in.CreatedAt.IsZero() {
		in.CreatedAt = in.CreatedAt.UTC()
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode instance %s: %w", in.ID(), err)
	}
	return b, nil
}

// Digester computes the digest of a pass incrementally, chunk by chunk, in
// any order. The zero value is ready to use; it is not safe for concurrent use.
type Digester struct {
	sums [][sha256.Size]byte
}

// Add adds one instance.
func (d *Digester) Add(in Instance) error {
	b, err := Canonical(in)
	if err != nil {
		return err
	}
	d.sums = append(d.sums, sha256.Sum256(b))
	return nil
}

// Count is the number of instances added.
func (d *Digester) Count() int { return len(d.sums) }

// Sum returns the digest of everything added so far: the lower-case hex
// SHA-256 of the concatenated SHA-256 sums of every instance's Canonical
// encoding, sorted bytewise. It is independent of order and of chunking;
// a repeated instance counts twice. The digest of no instance is the
// SHA-256 of nothing (e3b0c442…).
func (d *Digester) Sum() string {
	sums := slices.Clone(d.sums)
	slices.SortFunc(sums, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
	h := sha256.New()
	for _, s := range sums {
		h.Write(s[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Digest is the digest of a whole set of instances (see Digester.Sum).
func Digest(instances []Instance) (string, error) {
	var d Digester
	for i := range instances {
		if err := d.Add(instances[i]); err != nil {
			return "", err
		}
	}
	return d.Sum(), nil
}
