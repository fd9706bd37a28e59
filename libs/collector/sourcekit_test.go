package collector

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
)

var errTestInvalid = errors.New("cloud: invalid config")

func TestAccountConfigValidate(t *testing.T) {
	const secret = "Sup3r-Secret-Value-42"
	a := AccountConfig{AccessKeyID: " AK1 ", Secret: secret, SecretField: "SecretKey", AccountName: " 生产账号 ",
		Regions: []string{" cn-north-4 ", "cn-east-3"}}
	if errs := a.Validate(); len(errs) != 0 {
		t.Fatal(errs)
	}
	if a.AccessKeyID != "AK1" || a.AccountID != "生产账号" || a.AccountName != "生产账号" || fmt.Sprint(a.Regions) != "[cn-north-4 cn-east-3]" {
		t.Errorf("trimmed and defaulted: %+v", a)
	}

	a = AccountConfig{AccessKeyID: "A K", Secret: " " + secret, SecretField: "SecretKey", Regions: []string{"cn north", "a", "a"}}
	var p ConfigProblems = a.Validate()
	err := p.Err(errTestInvalid, a.Secret)
	if !errors.Is(err, errTestInvalid) {
		t.Fatalf("want the sentinel, got %v", err)
	}
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("no FieldError in %v", err)
	}
	for _, field := range []string{"AccessKeyID:", "SecretKey:", "AccountID:", "Regions[0]:", "Regions[2]:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
	if strings.Contains(err.Error(), secret) || !strings.HasPrefix(err.Error(), "cloud: invalid config: 5 problem(s): ") {
		t.Errorf("error text: %v", err)
	}
	a = AccountConfig{AccessKeyID: "AK1", Secret: "AK1", SecretField: "SecretKey", AccountID: "a", Regions: []string{"r"}}
	if errs := a.Validate(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "SecretKey: equals AccessKeyID") {
		t.Errorf("secret == id: %v", errs)
	}
	// A secret pasted into another field is masked there too.
	a = AccountConfig{AccessKeyID: "AK1", Secret: secret, SecretField: "SecretKey", AccountID: "a", Regions: []string{secret + "/"}}
	if err := ConfigProblems(a.Validate()).Err(errTestInvalid, secret); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("secret echoed: %v", err)
	}
}

func TestConfigProblemsDefaults(t *testing.T) {
	var p ConfigProblems
	size, timeout := 0, time.Duration(0)
	p.PageSize(&size, 100)
	p.Timeout(&timeout, 10*time.Second)
	if size != 100 || timeout != 10*time.Second || p.Err(errTestInvalid, "") != nil {
		t.Errorf("defaults: %d %s %v", size, timeout, p)
	}
	size, timeout = 101, -time.Second
	p.PageSize(&size, 100)
	p.Timeout(&timeout, 10*time.Second)
	if err := p.Err(errTestInvalid, ""); err == nil || !strings.Contains(err.Error(), "PageSize: must be 1-100 (0 = 100), got 101") ||
		!strings.Contains(err.Error(), "Timeout: must not be negative") {
		t.Errorf("limits: %v", err)
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Endpoint
		bad  bool
	}{
		{in: "", want: Endpoint{Scheme: "https"}},
		{in: "127.0.0.1:8080", want: Endpoint{Scheme: "http", Host: "127.0.0.1:8080", Loopback: true}},
		{in: "localhost:8080", want: Endpoint{Scheme: "http", Host: "localhost:8080", Loopback: true}},
		{in: "[::1]:8080", want: Endpoint{Scheme: "http", Host: "[::1]:8080", Loopback: true}},
		{in: "http://127.0.0.1:8080/", want: Endpoint{Scheme: "http", Host: "127.0.0.1:8080", Loopback: true}},
		{in: "https://127.0.0.1:8443", want: Endpoint{Scheme: "https", Host: "127.0.0.1:8443", Loopback: true}},
		{in: "ecs.private.example.com", want: Endpoint{Scheme: "https", Host: "ecs.private.example.com"}},
		{in: "10.0.0.5:80", want: Endpoint{Scheme: "https", Host: "10.0.0.5:80"}},
		{in: "HTTP://10.0.0.5:80", want: Endpoint{Scheme: "http", Host: "10.0.0.5:80"}},
		{in: "ftp://host", bad: true},
		{in: "http://host/api", bad: true},
		{in: "host:99999", bad: true},
		{in: "host:", bad: true},
		{in: "http://user:pw@host", bad: true},
		{in: "host?x=1", bad: true},
		{in: "http://", bad: true},
	} {
		got, err := ParseEndpoint(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q accepted as %+v", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if u := (Endpoint{Scheme: "https"}).URL(); u != "" {
		t.Errorf("empty endpoint URL %q", u)
	}
}

func TestCleanMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ak X not exist", "ak X not exist"},
		{"Get \"http://h:1/v1/p?limit=1&marker=x\": dial tcp: refused", `Get "http://h:1/v1/p": dial tcp: refused`},
		{"secret s3cr3t  here\n", "secret [REDACTED] here"},
		{strings.Repeat("é", 200), strings.Repeat("é", 80) + "…"},
	} {
		if got := CleanMessage(tc.in, "s3cr3t"); got != tc.want {
			t.Errorf("CleanMessage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	ue := &url.Error{Op: "Get", URL: "http://h:1/v1/p?Signature=abc", Err: errors.New("refused")}
	if got := URLErrorText(ue); got != "Get http://h:1: refused" {
		t.Errorf("URLErrorText: %q", got)
	}
}

var testCodes = ErrorCodes{
	Auth:     func(e *APIError) bool { return e.Code == "BadKey" },
	Throttle: func(e *APIError) bool { return e.Code == "SlowDown" },
}

func TestErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		e                    *APIError
		reason               string
		throttled, transient bool
	}{
		{ContextAPIError("A", context.Canceled), events.ReasonCanceled, false, false},
		{ContextAPIError("A", context.DeadlineExceeded), events.ReasonTimeout, false, false},
		{&APIError{Timeout: true}, events.ReasonTimeout, false, false},
		{&APIError{Code: "BadKey", HTTPStatus: 400}, events.ReasonAuth, false, false},
		{&APIError{HTTPStatus: 403}, events.ReasonPermission, false, false},
		{&APIError{Code: "SlowDown", HTTPStatus: 400}, events.ReasonThrottled, true, false},
		{&APIError{HTTPStatus: 429}, events.ReasonThrottled, true, false},
		{&APIError{HTTPStatus: 503}, events.ReasonAPIError, false, true},
		{&APIError{HTTPStatus: 404}, events.ReasonAPIError, false, false},
	} {
		if r := testCodes.Reason(tc.e); r != tc.reason || testCodes.Throttled(tc.e) != tc.throttled || testCodes.Transient(tc.e) != tc.transient {
			t.Errorf("%+v: reason %s throttled %t transient %t", tc.e, r, testCodes.Throttled(tc.e), testCodes.Transient(tc.e))
		}
	}
	if !errors.Is(ContextAPIError("A", context.Canceled), context.Canceled) {
		t.Error("a context APIError does not unwrap to its cause")
	}
}

func TestErrorCodesRetry(t *testing.T) {
	b := Backoff{Base: time.Microsecond, Max: time.Microsecond, Attempts: 3}
	classify := func(err error) *APIError {
		var ae *APIError
		if errors.As(err, &ae) {
			return ae
		}
		return ContextAPIError("A", err)
	}
	answers := func(list ...*APIError) func() error {
		return func() error {
			ae := list[0]
			if len(list) > 1 {
				list = list[1:]
			}
			if ae == nil {
				return nil
			}
			return ae
		}
	}
	throttled, unavailable := &APIError{HTTPStatus: 429}, &APIError{HTTPStatus: 503}
	if calls, ae := testCodes.Retry(t.Context(), b, classify, answers(throttled, throttled, nil)); calls != 3 || ae != nil {
		t.Errorf("throttled twice: %d calls, %v", calls, ae)
	}
	if calls, ae := testCodes.Retry(t.Context(), b, classify, answers(throttled)); calls != 4 || ae != throttled {
		t.Errorf("throttled beyond the budget: %d calls, %v", calls, ae)
	}
	if calls, ae := testCodes.Retry(t.Context(), b, classify, answers(unavailable)); calls != 2 || ae != unavailable {
		t.Errorf("5xx: %d calls, %v", calls, ae)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if calls, ae := testCodes.Retry(ctx, b, classify, answers(throttled)); calls != 1 || !errors.Is(ae, context.Canceled) {
		t.Errorf("canceled: %d calls, %v", calls, ae)
	}
}

func TestFailures(t *testing.T) {
	f := Failures{AccountID: "acct", Secret: "s3cr3t", Codes: testCodes, RequestTimeout: "Timeout 5s"}
	for _, tc := range []struct {
		ae             *APIError
		where          string
		reason, detail string
	}{
		{&APIError{Action: "List", HTTPStatus: 429, RequestID: "r1"}, "page 2", events.ReasonThrottled,
			"account acct: region r: page 2: List: request failed (HTTP 429), request id r1, still throttled after 7 calls"},
		{ContextAPIError("List", context.Canceled), "", events.ReasonCanceled, "account acct: region r: List canceled"},
		{&APIError{Action: "List", Timeout: true}, "", events.ReasonTimeout,
			"account acct: region r: List got no answer within the request timeout (Timeout 5s)"},
		{ContextAPIError("List", context.DeadlineExceeded), "", events.ReasonTimeout, "account acct: region r: List: the pass deadline passed"},
		{&APIError{Action: "List", Code: "Oops", HTTPStatus: 500, Message: "key s3cr3t"}, "probe", events.ReasonAPIError,
			"account acct: region r: probe: List: Oops (HTTP 500): key [REDACTED]"},
	} {
		le := f.Fail(tc.ae, "r", tc.where, 7)
		if le.Reason != tc.reason || le.Detail != tc.detail || !errors.Is(le, tc.ae) {
			t.Errorf("got %s %q, want %s %q", le.Reason, le.Detail, tc.reason, tc.detail)
		}
	}
	le := f.FailIdentity(&APIError{Action: "Who", HTTPStatus: 403}, "", "", 2)
	if le.Reason != events.ReasonIdentityUnknown || le.Calls != 2 || le.Detail != "account acct: Who: request failed (HTTP 403)" {
		t.Errorf("identity: %s %d %q", le.Reason, le.Calls, le.Detail)
	}
	if le := f.FailIdentity(&APIError{Action: "Who", Code: "BadKey"}, "", "", 1); le.Reason != events.ReasonAuth {
		t.Errorf("identity auth: %s", le.Reason)
	}
	lst := &Listing{Calls: 3, Probes: []events.Probe{{Name: events.ProbeDryRun, Outcome: events.ProbeOK}}}
	if l, err := lst.Failed(f.Failf(events.ReasonChurn, nil, "r", "page %d", 1)); l != nil || err.(*ListError).Calls != 3 || len(err.(*ListError).Probes) != 1 {
		t.Errorf("Failed: %v %+v", l, err)
	}
}
