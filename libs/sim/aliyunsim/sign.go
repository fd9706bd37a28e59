package aliyunsim

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// PercentEncode encodes s the way Aliyun's RPC signature v1 wants it
// (RFC 3986): unreserved characters A-Z a-z 0-9 - _ . ~ stay, everything
// else becomes %XX with upper-case hex; a space is %20, "*" is %2A.
func PercentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			sb.WriteByte(c)
		default:
			sb.WriteByte('%')
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&0x0f])
		}
	}
	return sb.String()
}

// CanonicalQuery returns the sorted, percent-encoded "k=v&…" string of
// params, leaving out "Signature". Empty values (SignatureType=) stay in.
// Only the first value of a repeated key counts, as on the SDK side where
// parameters are a map.
func CanonicalQuery(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k == "Signature" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(PercentEncode(k))
		sb.WriteByte('=')
		v := ""
		if vs := params[k]; len(vs) > 0 {
			v = vs[0]
		}
		sb.WriteString(PercentEncode(v))
	}
	return sb.String()
}

// StringToSign is METHOD&%2F&percentEncode(canonical query): the RPC
// signature v1 string for a request to path "/".
func StringToSign(method string, params url.Values) string {
	return strings.ToUpper(method) + "&" + PercentEncode("/") + "&" + PercentEncode(CanonicalQuery(params))
}

// SignString returns base64(HMAC-SHA1(secret+"&", stringToSign)).
func SignString(stringToSign, secret string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign returns the v1 signature of a request with these parameters
// (Signature itself is ignored if present).
func Sign(method string, params url.Values, secret string) string {
	return SignString(StringToSign(method, params), secret)
}
