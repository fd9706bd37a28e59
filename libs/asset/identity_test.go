package asset

import (
	"errors"
	"regexp"
	"testing"

	"github.com/google/uuid"
)

func TestNamespaceIsFixed(t *testing.T) {
	// The namespace must never change; this pins both the literal and its derivation.
	derived := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/jmssync/jmssync#asset-id"))
	if Namespace != derived || Namespace.String() != "55de1bf6-72f0-51ed-a81a-a9c3866a20fc" {
		t.Fatalf("Namespace = %s, derived %s", Namespace, derived)
	}
}

func TestAssetID(t *testing.T) {
	a := AssetID("prod", "00000000-0000-0000-0000-000000000002", Aliyun, "i-bp1abc")
	// Golden value: a change here means every asset would be created again.
	if got, want := a.String(), uuid.NewSHA1(Namespace, []byte("prod\x00"+"00000000-0000-0000-0000-000000000002\x00aliyun\x00i-bp1abc")).String(); got != want {
		t.Fatalf("AssetID = %s, want %s", got, want)
	}
	if a.Version() != 5 || a.Variant() != uuid.RFC4122 {
		t.Fatalf("not a UUIDv5: %s", a)
	}
	if a != AssetID("prod", "00000000-0000-0000-0000-000000000002", Aliyun, "i-bp1abc") {
		t.Fatal("not deterministic")
	}
	if a != (ID{Aliyun, "i-bp1abc"}).AssetID("prod", "00000000-0000-0000-0000-000000000002") {
		t.Fatal("method differs from function")
	}
	distinct := []uuid.UUID{
		a,
		AssetID("staging", "00000000-0000-0000-0000-000000000002", Aliyun, "i-bp1abc"),
		AssetID("prod", "00000000-0000-0000-0000-000000000003", Aliyun, "i-bp1abc"),
		AssetID("prod", "00000000-0000-0000-0000-000000000002", HuaweiCloud, "i-bp1abc"),
		AssetID("prod", "00000000-0000-0000-0000-000000000002", Aliyun, "i-bp1abd"),
		AssetID("ab", "c", Aliyun, "x"), AssetID("a", "bc", Aliyun, "x"), // no ambiguity at the joins
	}
	seen := map[uuid.UUID]int{}
	for i, u := range distinct {
		if j, ok := seen[u]; ok {
			t.Fatalf("ids %d and %d collide: %s", j, i, u)
		}
		seen[u] = i
	}
}

var keyRE = regexp.MustCompile(`^(aliyun|huaweicloud)\.[A-Za-z0-9_-]+$`)

func TestKeyRoundTrip(t *testing.T) {
	tests := []struct {
		id   ID
		want string
	}{
		{ID{Aliyun, "i-bp1abc"}, "aliyun.i-bp1abc"},
		{ID{HuaweiCloud, "9f6d2d9e-1111-2222-3333-444455556666"}, "huaweicloud.9f6d2d9e-1111-2222-3333-444455556666"},
		{ID{Aliyun, "a_b"}, "aliyun.a_5Fb"},
		{ID{Aliyun, "a.b*c>d"}, "aliyun.a_2Eb_2Ac_3Ed"},
		{ID{Aliyun, "a b/c=d"}, "aliyun.a_20b_2Fc_3Dd"},
		{ID{HuaweiCloud, "实例"}, "huaweicloud._E5_AE_9E_E4_BE_8B"},
	}
	for _, tt := range tests {
		k := tt.id.Key()
		if k != tt.want {
			t.Errorf("%v.Key() = %q, want %q", tt.id, k, tt.want)
		}
		if !keyRE.MatchString(k) {
			t.Errorf("key %q is not subject-safe ASCII", k)
		}
		back, err := ParseKey(k)
		if err != nil || back != tt.id {
			t.Errorf("ParseKey(%q) = %v, %v; want %v", k, back, err, tt.id)
		}
	}
	// Distinct ids give distinct keys even when escapes look alike.
	if (ID{Aliyun, "_2E"}).Key() == (ID{Aliyun, "."}).Key() {
		t.Error("escape is not injective")
	}
}

func FuzzKey(f *testing.F) {
	for _, s := range []string{"i-bp1abc", "a_b", "_2E", ".", "实例", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		id := ID{HuaweiCloud, s}
		k := id.Key()
		if !keyRE.MatchString(k) {
			t.Fatalf("key %q not safe", k)
		}
		back, err := ParseKey(k)
		if err != nil || back != id {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
	})
}

func TestParseKeyRejects(t *testing.T) {
	for _, k := range []string{"", "aliyun", "aliyun.", "aws.i-1", "aliyun.a.b", "aliyun.a_2", "aliyun.a_2e", "aliyun.a_ZZ", "aliyun.a b"} {
		if _, err := ParseKey(k); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseKey(%q) err = %v, want ErrBadKey", k, err)
		}
	}
}

func TestIDValidate(t *testing.T) {
	if err := (ID{Aliyun, "i-1"}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []ID{{"", "i-1"}, {"aws", "i-1"}, {Aliyun, ""}, {Aliyun, "  "}, {Aliyun, "a\nb"}, {Aliyun, "\xff"}} {
		if err := id.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%#v accepted", id)
		}
	}
}
