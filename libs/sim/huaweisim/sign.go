package huaweisim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Signing constants of Huawei Cloud's AK/SK scheme (cloud-apis.md §2.2).
const (
	signAlgorithm      = "SDK-HMAC-SHA256"
	headerSdkDate      = "X-Sdk-Date"
	headerContentSHA   = "X-Sdk-Content-Sha256"
	sdkDateFormat      = "20060102T150405Z"
	emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// authHeader is a parsed "SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…".
type authHeader struct {
	AK            string
	SignedHeaders []string
	Signature     string
}

func parseAuthorization(v string) (authHeader, error) {
	var a authHeader
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), signAlgorithm+" ")
	if !ok {
		return a, errors.New("authorization header is not " + signAlgorithm)
	}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("malformed authorization element %q", part)
		}
		switch k {
		case "Access":
			a.AK = val
		case "SignedHeaders":
			if val != "" {
				a.SignedHeaders = strings.Split(val, ";")
			}
		case "Signature":
			a.Signature = val
		}
	}
	if a.AK == "" || a.Signature == "" || len(a.SignedHeaders) == 0 {
		return a, errors.New("authorization header lacks Access, SignedHeaders or Signature")
	}
	return a, nil
}

// shouldEscape reports whether c is outside the signer's unreserved set
// (A-Z a-z 0-9 _ - ~ .).
func shouldEscape(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return false
	case c == '_' || c == '-' || c == '~' || c == '.':
		return false
	}
	return true
}

// escape percent-encodes every byte outside the unreserved set, upper-case hex.
func escape(s string) string {
	const hexdig = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if shouldEscape(c) {
			sb.WriteByte('%')
			sb.WriteByte(hexdig[c>>4])
			sb.WriteByte(hexdig[c&15])
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// canonicalURI escapes each path segment and guarantees a trailing "/".
func canonicalURI(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = escape(s)
	}
	u := strings.Join(segs, "/")
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// canonicalQuery sorts keys, then the values of each key, and joins
// escape(k)=escape(v) pairs with "&" ("k=" for an empty or bare key).
func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

// headerValues returns the values of a signed header as the server received them.
func headerValues(r *http.Request, name string) []string {
	if name == "host" {
		return []string{r.Host}
	}
	return r.Header.Values(name)
}

// canonicalRequest builds step 6 of §2.2 from a received request.
// payloadHash is the hex SHA-256 of the body, or the X-Sdk-Content-Sha256 value.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) (string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", fmt.Errorf("query: %w", err)
	}
	var sb strings.Builder
	sb.WriteString(r.Method)
	sb.WriteByte('\n')
	sb.WriteString(canonicalURI(r.URL.Path))
	sb.WriteByte('\n')
	sb.WriteString(canonicalQuery(q))
	sb.WriteByte('\n')
	for _, h := range signed {
		vals := append([]string(nil), headerValues(r, h)...)
		sort.Strings(vals)
		for _, v := range vals {
			sb.WriteString(h)
			sb.WriteByte(':')
			sb.WriteString(strings.TrimSpace(v))
			sb.WriteByte('\n')
		}
	}
	sb.WriteByte('\n')
	sb.WriteString(strings.Join(signed, ";"))
	sb.WriteByte('\n')
	sb.WriteString(payloadHash)
	return sb.String(), nil
}

// stringToSign is step 7: algorithm, X-Sdk-Date and the hashed canonical request.
func stringToSign(sdkDate, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return signAlgorithm + "\n" + sdkDate + "\n" + hex.EncodeToString(sum[:])
}

// signature is step 8: hex(HMAC-SHA256(SK, stringToSign)).
func signature(sk, sts string) string {
	m := hmac.New(sha256.New, []byte(sk))
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

func payloadHash(r *http.Request, body []byte) string {
	if v := r.Header.Get(headerContentSHA); v != "" {
		return v
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// signedHeaderNames picks the headers the SDK signs: every header, lower-cased
// and sorted, except content-type* and names containing "_".
func signedHeaderNames(h http.Header) []string {
	var out []string
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "content-type") || strings.Contains(lk, "_") || lk == "authorization" {
			continue
		}
		out = append(out, lk)
	}
	sort.Strings(out)
	return out
}

// Sign signs r the way huaweicloud-sdk-go-v3 does, for tests and tools that
// call the simulator without the SDK. It sets X-Sdk-Date to now (UTC) and
// Authorization; every header already present, except Content-Type, is
// signed (set Host in r.Header to sign it). body is the request body (nil for GET).
func Sign(r *http.Request, ak, sk string, now time.Time, body []byte) error {
	if ak == "" || sk == "" {
		return errors.New("huaweisim: ak and sk are required")
	}
	date := now.UTC().Format(sdkDateFormat)
	r.Header.Set(headerSdkDate, date)
	r.Header.Del("Authorization")
	signed := signedHeaderNames(r.Header)
	cr, err := canonicalRequest(r, signed, payloadHash(r, body))
	if err != nil {
		return err
	}
	sig := signature(sk, stringToSign(date, cr))
	r.Header.Set("Authorization", fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s",
		signAlgorithm, ak, strings.Join(signed, ";"), sig))
	return nil
}
