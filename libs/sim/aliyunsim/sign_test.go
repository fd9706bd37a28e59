package aliyunsim

import (
	"net/url"
	"testing"
)

// The known-answer vector of cloud-apis.md §1.2 (Aliyun's documented example).
func TestSignatureSpecVector(t *testing.T) {
	v := url.Values{}
	v.Set("AccessKeyId", "testid")
	v.Set("Action", "DescribeRegions")
	v.Set("Format", "XML")
	v.Set("SignatureMethod", "HMAC-SHA1")
	v.Set("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf")
	v.Set("SignatureVersion", "1.0")
	v.Set("Timestamp", "2016-02-23T12:46:24Z")
	v.Set("Version", "2014-05-26")
	const wantSTS = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML" +
		"%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf" +
		"%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
	if got := StringToSign("GET", v); got != wantSTS {
		t.Fatalf("string to sign\n got %s\nwant %s", got, wantSTS)
	}
	if got := Sign("GET", v, "testsecret"); got != "OLeaidS1JvxuMvnyHOwuJ+uX5qY=" {
		t.Fatalf("signature %s, want OLeaidS1JvxuMvnyHOwuJ+uX5qY=", got)
	}
	// Signature itself is never signed, and the method is.
	v.Set("Signature", "whatever")
	if got := Sign("GET", v, "testsecret"); got != "OLeaidS1JvxuMvnyHOwuJ+uX5qY=" {
		t.Fatalf("Signature parameter leaked into the signed string: %s", got)
	}
	if Sign("POST", v, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY=" {
		t.Fatal("the method is not part of the signature")
	}
	// An empty SignatureType= is signed.
	v.Set("SignatureType", "")
	if Sign("GET", v, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY=" {
		t.Fatal("empty SignatureType was dropped from the signed set")
	}
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"a b":        "a%20b",
		"*":          "%2A",
		"~-_.":       "~-_.",
		"a+b":        "a%2Bb",
		"/":          "%2F",
		"数据库":        "%E6%95%B0%E6%8D%AE%E5%BA%93",
		`["i-1"]`:    "%5B%22i-1%22%5D",
		"2016:46:24": "2016%3A46%3A24",
	} {
		if got := PercentEncode(in); got != want {
			t.Errorf("PercentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}
