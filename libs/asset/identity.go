package asset

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// ID is the identity of an asset: the provider and the instance id, which is
// unique within a provider. Account and region are attributes, not identity:
// an instance that moves account or region stays the same asset.
type ID struct {
	Provider   Provider `json:"provider"`
	InstanceID string   `json:"instance_id"`
}

func (id ID) String() string { return string(id.Provider) + "/" + id.InstanceID }

// Validate checks that the provider is known and the instance id is usable.
func (id ID) Validate() error {
	var p []string
	if !id.Provider.Valid() {
		p = append(p, fmt.Sprintf("provider: unknown provider %q", id.Provider))
	}
	if msg := CheckText(id.InstanceID, true); msg != "" {
		p = append(p, "instance_id: "+msg)
	} else if len(id.InstanceID) > 255 {
		p = append(p, "instance_id: longer than 255 bytes")
	}
	if len(p) > 0 {
		return &ValidationError{What: "id", Problems: p}
	}
	return nil
}

// Key is the identity as a NATS KV key (and subject tail):
// "<provider>.<instance id encoded>". It is ASCII and uses only letters,
// digits, '-' and '_'; every other byte of the instance id — '_' included —
// is written as '_' followed by two upper-case hex digits, so the encoding is
// reversible (ParseKey) and injective. Real ids ("i-bp1abc…", Huawei UUIDs)
// are unchanged: "aliyun.i-bp1abc".
func (id ID) Key() string {
	var b strings.Builder
	b.Grow(len(id.Provider) + 1 + len(id.InstanceID))
	b.WriteString(string(id.Provider))
	b.WriteByte('.')
	for i := 0; i < len(id.InstanceID); i++ {
		c := id.InstanceID[i]
		if isKeyByte(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "_%02X", c)
		}
	}
	return b.String()
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// ParseKey reverses Key.
func ParseKey(key string) (ID, error) {
	prov, enc, ok := strings.Cut(key, ".")
	if !ok || enc == "" || !Provider(prov).Valid() {
		return ID{}, fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	var b strings.Builder
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		switch {
		case isKeyByte(c):
			b.WriteByte(c)
		case c == '_' && i+2 < len(enc) && isUpperHex(enc[i+1]) && isUpperHex(enc[i+2]):
			b.WriteByte(unhex(enc[i+1])<<4 | unhex(enc[i+2]))
			i += 2
		default:
			return ID{}, fmt.Errorf("%w: %q", ErrBadKey, key)
		}
	}
	return ID{Provider: Provider(prov), InstanceID: b.String()}, nil
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

// Namespace is the UUIDv5 namespace of jms-sync asset ids:
// 55de1bf6-72f0-51ed-a81a-a9c3866a20fc, which is
// UUIDv5(NameSpaceURL, "https://github.com/jmssync/jmssync#asset-id").
//
// NEVER CHANGE IT. Every JumpServer asset jms-sync ever created carries an
// id derived from it; a new namespace would make every existing asset look
// foreign and every instance be created a second time.
var Namespace = uuid.MustParse(namespaceString)

const namespaceString = "55de1bf6-72f0-51ed-a81a-a9c3866a20fc"

// AssetID is the deterministic JumpServer asset id of an instance:
//
//	UUIDv5(Namespace, install + "\x00" + org + "\x00" + provider + "\x00" + instanceID)
//
// install is the installation id (the one in the ownership label), org the
// JumpServer organisation's id as JumpServer returns it (stable across org
// renames). Fields are joined with NUL, which none of them may contain, so
// distinct tuples never collide. Nothing is case-folded or trimmed.
func AssetID(install, org string, provider Provider, instanceID string) uuid.UUID {
	name := install + "\x00" + org + "\x00" + string(provider) + "\x00" + instanceID
	return uuid.NewSHA1(Namespace, []byte(name))
}

// AssetID is AssetID(install, org, id.Provider, id.InstanceID).
func (id ID) AssetID(install, org string) uuid.UUID {
	return AssetID(install, org, id.Provider, id.InstanceID)
}

// StableAccountID is a cloud account's id as scopes and asset ids carry
// it: the configured id, or the name when there is none, trimmed. The
// collectors and the reconciler read the same account variables and must
// arrive at the same id, so both call this.
func StableAccountID(id, name string) string {
	if id = strings.TrimSpace(id); id != "" {
		return id
	}
	return strings.TrimSpace(name)
}
