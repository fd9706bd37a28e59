package aliyunsim

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Requests the SDK never sends malformed, built and signed by hand.
func TestGatewayChecks(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s := Start(t, Options{Inventory: smallInventory(5), Keys: allKeys, Now: now})

	// GET works as well as POST.
	st, body := rawDo(t, s, "GET", rawParams(keyOK, "DescribeRegions", now()), keyOK.Secret)
	if st != 200 || body["RequestId"] == "" || body["Regions"] == nil {
		t.Fatalf("GET DescribeRegions: %d %v", st, body)
	}

	for _, p := range requiredParams {
		v := rawParams(keyOK, "DescribeInstances", now())
		v.Set("Signature", Sign("POST", v, keyOK.Secret))
		v.Del(p)
		st, body := rawDo(t, s, "POST", v, "")
		wantCode(t, st, body, 400, "MissingParameter")
		if !strings.Contains(body["Message"].(string), `"`+p+`"`) {
			t.Errorf("missing %s: message %q", p, body["Message"])
		}
	}
	v := rawParams(keyOK, "DescribeInstances", now())
	v.Del("RegionId")
	st, body = rawDo(t, s, "POST", v, keyOK.Secret)
	wantCode(t, st, body, 400, "MissingParameter")

	for name, edit := range map[string]func(url.Values){
		"InvalidParameter":       func(v url.Values) { v.Set("Format", "XML") },
		"InvalidVersion":         func(v url.Values) { v.Set("Version", "2016-03-14") },
		"InvalidAction.NotFound": func(v url.Values) { v.Set("Action", "DeleteInstance") },
	} {
		v := rawParams(keyOK, "DescribeInstances", now())
		edit(v)
		st, body := rawDo(t, s, "POST", v, keyOK.Secret)
		want := 400
		if name == "InvalidAction.NotFound" {
			want = 404
		}
		wantCode(t, st, body, want, name)
	}

	// A reused nonce is refused, even though the signature is right.
	v = rawParams(keyOK, "DescribeInstances", now())
	v.Set("Signature", Sign("POST", v, keyOK.Secret))
	if st, body := rawDo(t, s, "POST", v, ""); st != 200 {
		t.Fatalf("first use: %d %v", st, body)
	}
	st, body = rawDo(t, s, "POST", v, "")
	wantCode(t, st, body, 400, "SignatureNonceUsed")
	// The same nonce under another key is a different nonce.
	v2 := rawParams(keyEmpty, "DescribeInstances", now())
	v2.Set("SignatureNonce", v.Get("SignatureNonce"))
	if st, body := rawDo(t, s, "POST", v2, keyEmpty.Secret); st != 200 {
		t.Fatalf("nonce of another key: %d %v", st, body)
	}

	// Timestamp skew, both ways, with the injectable clock.
	for _, skew := range []time.Duration{16 * time.Minute, -16 * time.Minute} {
		v := rawParams(keyOK, "DescribeInstances", now().Add(skew))
		st, body := rawDo(t, s, "POST", v, keyOK.Secret)
		wantCode(t, st, body, 400, "InvalidTimeStamp.Expired")
	}
	v = rawParams(keyOK, "DescribeInstances", now().Add(14*time.Minute))
	if st, body := rawDo(t, s, "POST", v, keyOK.Secret); st != 200 {
		t.Fatalf("14 min skew refused: %d %v", st, body)
	}
	offset.Store(int64(20 * time.Minute)) // the server's clock runs ahead: a fresh SDK-style request is stale
	v = rawParams(keyOK, "DescribeInstances", time.Now())
	st, body = rawDo(t, s, "POST", v, keyOK.Secret)
	wantCode(t, st, body, 400, "InvalidTimeStamp.Expired")
	offset.Store(0)
	v = rawParams(keyOK, "DescribeInstances", now())
	v.Set("Timestamp", "2026-01-02 03:04:05")
	st, body = rawDo(t, s, "POST", v, keyOK.Secret)
	wantCode(t, st, body, 400, "InvalidTimeStamp.Format")

	// Parameters in a form body are read and signed too.
	v = rawParams(keyOK, "DescribeInstances", now())
	v.Set("PageSize", "2")
	v.Set("Signature", Sign("POST", v, keyOK.Secret))
	form := url.Values{"PageSize": {"2"}}
	v.Del("PageSize")
	req, _ := http.NewRequest("POST", s.URL+"/?"+v.Encode(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	st, body = doJSON(t, req)
	if st != 200 || len(body["Instances"].(map[string]any)["Instance"].([]any)) != 2 {
		t.Fatalf("form body: %d %v", st, body)
	}

	// Every answer has a fresh RequestId; the log has verified flags.
	ids := map[string]bool{}
	for _, e := range s.Log() {
		if ids[e.RequestID] {
			t.Fatalf("RequestId %s reused", e.RequestID)
		}
		ids[e.RequestID] = true
		if e.Code == "" && !e.Verified {
			t.Fatalf("unverified success %+v", e)
		}
	}
}
