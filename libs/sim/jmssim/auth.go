package jmssim

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"net"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

type principal struct {
	user string
	ro   bool
}

// authOutcome is what authentication decided when it did not succeed.
type authOutcome int

const (
	authOK authOutcome = iota
	authNone
	authFailed
	authInternal
)

func (s *Server) wwwAuthenticate() string {
	if s.v47() {
		return `Bearer realm="api"`
	}
	return `Signature realm="api",headers="(request-target) date"`
}

// authenticate runs the authenticator chain (spec §1.1). On failure it has
// written the response.
func (s *Server) authenticate(c *rctx) (principal, bool) {
	p, out, detail := s.runAuth(c.r)
	switch out {
	case authOK:
		return p, true
	case authNone:
		s.req.unauthorized.Add(1)
		c.w.Header().Set("WWW-Authenticate", s.wwwAuthenticate())
		c.detail(401, s.msg(MsgNotAuth), "not_authenticated")
	case authFailed:
		s.req.unauthorized.Add(1)
		c.w.Header().Set("WWW-Authenticate", s.wwwAuthenticate())
		c.detail(401, detail, "authentication_failed")
	case authInternal:
		s.serverError(c.w, c.r)
	}
	return principal{}, false
}

func (s *Server) runAuth(r *http.Request) (principal, authOutcome, string) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return principal{}, authNone, ""
	}
	scheme, rest, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "signature":
		return s.verifySignature(r, rest)
	case "token":
		tok := strings.TrimSpace(rest)
		for _, t := range s.opts.PrivateTokens {
			if tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(t.Key)) == 1 {
				return principal{user: t.User, ro: t.ReadOnly}, authOK, ""
			}
		}
		return principal{}, authFailed, "Invalid token."
	case "bearer":
		tok := strings.TrimSpace(rest)
		s.mu.RLock()
		bt, ok := s.st.tokens[tok]
		s.mu.RUnlock()
		if ok && s.now().Before(bt.expires) {
			ro := false
			for _, u := range s.opts.Users {
				if u.Username == bt.user {
					ro = u.ReadOnly
				}
			}
			return principal{user: bt.user, ro: ro}, authOK, ""
		}
		if s.v47() {
			return principal{}, authFailed, s.msg(MsgInvalidBearer47)
		}
		return principal{}, authNone, "" // 4.10: falls through the chain
	}
	return principal{}, authNone, ""
}

// parseHTTPList splits a comma-separated list, honouring quoted strings,
// like Python's urllib.request.parse_http_list.
func parseHTTPList(s string) []string {
	var res []string
	var part strings.Builder
	escape, quote := false, false
	for _, ch := range s {
		switch {
		case escape:
			part.WriteRune(ch)
			escape = false
		case quote:
			if ch == '\\' {
				escape = true
				continue
			}
			if ch == '"' {
				quote = false
			}
			part.WriteRune(ch)
		case ch == ',':
			res = append(res, part.String())
			part.Reset()
		default:
			if ch == '"' {
				quote = true
			}
			part.WriteRune(ch)
		}
	}
	if part.Len() > 0 {
		res = append(res, part.String())
	}
	out := res[:0]
	for _, p := range res {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

func parseSigParams(s string) map[string]string {
	m := map[string]string{}
	for _, item := range parseHTTPList(s) {
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		m[strings.ToLower(strings.TrimSpace(k))] = v
	}
	return m
}

// verifySignature checks an "Authorization: Signature …" header the way
// JumpServer's SignatureAuthentication with pyhttpsig does (spec §1.2).
func (s *Server) verifySignature(r *http.Request, params string) (principal, authOutcome, string) {
	invalid := s.msg(MsgInvalidSig)
	internal := func() (principal, authOutcome, string) {
		if s.opts.NoInternalErrors {
			return principal{}, authFailed, invalid
		}
		return principal{}, authInternal, ""
	}
	p := parseSigParams(params)
	keyID, algo, sig := p["keyid"], p["algorithm"], p["signature"]
	if keyID == "" || algo == "" || sig == "" {
		return principal{}, authFailed, invalid
	}
	if _, err := uuid.Parse(keyID); err != nil || len(keyID) < 32 {
		return internal() // the UUID lookup raises
	}
	var key *AccessKey
	for i := range s.opts.AccessKeys {
		if strings.EqualFold(s.opts.AccessKeys[i].ID, keyID) {
			key = &s.opts.AccessKeys[i]
		}
	}
	if key == nil || key.Inactive {
		return principal{}, authFailed, invalid
	}
	headersParam, ok := p["headers"]
	if !ok {
		headersParam = "date"
	}
	signed := strings.Fields(strings.ToLower(headersParam))
	if !contains(signed, "(request-target)") || !contains(signed, "date") {
		return internal()
	}
	var newHash func() hash.Hash
	switch algo {
	case "hmac-sha256":
		newHash = sha256.New
	case "hmac-sha1":
		newHash = sha1.New
	case "hmac-sha512":
		newHash = sha512.New
	default: // rsa-* with a text secret, or unknown: the verifier raises
		return internal()
	}
	msg, ok := signingString(r, signed)
	if !ok {
		return internal()
	}
	got, ok := pyB64Decode(sig)
	if !ok {
		return internal()
	}
	m := hmac.New(newHash, []byte(key.Secret))
	m.Write([]byte(msg))
	if !hmac.Equal(m.Sum(nil), got) {
		return principal{}, authFailed, invalid
	}
	if !ipAllowed(r, key.IPGroup) {
		return principal{}, authFailed, "Ip is not in access ip list."
	}
	return principal{user: key.User, ro: key.ReadOnly}, authOK, ""
}

// SigningString returns the string JumpServer signs for a request, given the
// lower-case names of the signed headers. It reports false when a signed
// header is not available to the server (absent, or content-type /
// content-length, whose Django META keys the server gets wrong).
func signingString(r *http.Request, signed []string) (string, bool) {
	lines := make([]string, 0, len(signed))
	for _, h := range signed {
		switch h {
		case "(request-target)":
			lines = append(lines, "(request-target): "+strings.ToLower(r.Method)+" "+fullPath(r))
		case "content-type", "content-length":
			return "", false
		case "host":
			if r.Host == "" {
				return "", false
			}
			lines = append(lines, "host: "+r.Host)
		default:
			vs := r.Header.Values(h)
			if len(vs) == 0 {
				return "", false
			}
			lines = append(lines, h+": "+strings.Join(vs, ","))
		}
	}
	return strings.Join(lines, "\n"), true
}

// fullPath is Django's request.get_full_path(): the decoded path re-escaped
// with escape_uri_path, plus "?" and the query string through iri_to_uri.
func fullPath(r *http.Request) string {
	p := quoteExcept(r.URL.Path, "/:@&+$,-_.!~*'()")
	if r.URL.RawQuery != "" {
		p += "?" + quoteExcept(r.URL.RawQuery, "/#%[]=:;$&()+,!?*@'~-_.")
	}
	return p
}

func quoteExcept(s, safe string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch < 0x80 && (ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			strings.IndexByte(safe, ch) >= 0) {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[ch>>4])
		b.WriteByte(hexd[ch&15])
	}
	return b.String()
}

// pyB64Decode decodes like Python's base64.b64decode without validation:
// characters outside the alphabet are discarded; bad padding is an error.
func pyB64Decode(s string) ([]byte, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '+' || ch == '/' || ch == '=' {
			b.WriteByte(ch)
		}
	}
	out, err := base64.StdEncoding.DecodeString(b.String())
	return out, err == nil
}

func ipAllowed(r *http.Request, group []string) bool {
	if len(group) == 0 {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	for _, g := range group {
		if g == "*" || g == host {
			return true
		}
		if _, n, err := net.ParseCIDR(g); err == nil && ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
