// Package sourcetest holds the assertions that the unit tests of every
// cloud collector.Source share: failed listings, secrets kept out of
// errors and renderings, listings checked against a cloudinv inventory.
// Only tests import it.
package sourcetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

// Build applies edit (when not nil) to cfg and builds a Source of it with
// build (the cloud's New), stopping t on an error.
func Build[C, S any](t testing.TB, cfg C, edit func(*C), build func(C) (S, error)) S {
	t.Helper()
	if edit != nil {
		edit(&cfg)
	}
	src, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// ConfigProblems asserts that err is the cloud's invalid-config error
// (sentinel) made of *config.FieldErrors, and that it names every one of
// fields ("PageSize:").
func ConfigProblems(t testing.TB, err, sentinel error, fields ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("want %v, got %v", sentinel, err)
	}
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("no FieldError in %v", err)
	}
	for _, field := range fields {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
}

// ListError asserts that err is a *collector.ListError with reason, that
// no listing came with it, and that its Detail names account.
func ListError(t testing.TB, l *collector.Listing, err error, reason, account string) *collector.ListError {
	t.Helper()
	if l != nil {
		t.Errorf("a failed List returned a listing of %d", len(l.Instances))
	}
	var le *collector.ListError
	if !errors.As(err, &le) {
		t.Fatalf("want ListError %s, got %T %v", reason, err, err)
	}
	if le.Reason != reason {
		t.Fatalf("reason %q, want %q (%v)", le.Reason, reason, le)
	}
	if !strings.Contains(le.Detail, "account "+account) {
		t.Errorf("detail does not name the account: %s", le.Detail)
	}
	return le
}

// Probes renders probes as "name=outcome,…".
func Probes(p []events.Probe) string {
	var s []string
	for _, x := range p {
		s = append(s, x.Name+"="+x.Outcome)
	}
	return strings.Join(s, ",")
}

// AssertNoLeak fails t when any text of err — Error, %+v and %#v of it and
// of every error it wraps, a ListError's Detail and its probes' details —
// holds one of secrets or one of signing, the cloud's request-signing
// material.
func AssertNoLeak(t testing.TB, err error, secrets, signing []string) {
	t.Helper()
	var texts []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
	}
	var le *collector.ListError
	if errors.As(err, &le) {
		texts = append(texts, le.Detail)
		for _, p := range le.Probes {
			texts = append(texts, p.Detail)
		}
	}
	for _, txt := range texts {
		for _, sec := range secrets {
			if strings.Contains(txt, sec) {
				t.Fatalf("secret %q in error text: %s", sec, txt)
			}
		}
		for _, signed := range signing {
			if strings.Contains(txt, signed) {
				t.Fatalf("request signing material (%s) in error text: %s", signed, txt)
			}
		}
	}
}

// Renderings are what PrintsNoSecret rendered.
type Renderings struct {
	String string // %v of the Config
	Slog   string // the slog JSON line that logged it
}

// PrintsNoSecret renders cfg every way a log line or an error might — every
// fmt verb of the value and of a pointer, JSON, slog — and src (a Source,
// pointer and value) under every fmt verb, and fails t if any rendering
// holds secret.
func PrintsNoSecret[C, S any](t testing.TB, secret string, cfg C, src *S) Renderings {
	t.Helper()
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%q", "%x"} {
		outs = append(outs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg))
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", cfg)
	outs = append(outs, buf.String())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, src), fmt.Sprintf(verb, *src))
	}
	for _, o := range outs {
		if strings.Contains(o, secret) {
			t.Fatalf("secret printed: %s", o)
		}
	}
	return Renderings{String: outs[0], Slog: buf.String()}
}

// Field is one field of a listed instance and what the inventory says it
// must be.
type Field struct {
	Name      string
	Got, Want any
}

// CheckInstance compares a listed instance with the inventory's: the
// fields every cloud maps alike, then the cloud's own (status, state,
// image, public addresses…), then Validate. It stops t at the first
// difference.
func CheckInstance(t testing.TB, got asset.Instance, want *cloudinv.Instance, provider asset.Provider, account string, own ...Field) {
	t.Helper()
	wantOS := asset.Linux
	if want.OSType == "windows" {
		wantOS = asset.Windows
	}
	var tags map[string]string
	for _, tg := range want.Tags {
		if tags == nil {
			tags = map[string]string{}
		}
		tags[tg.Key] = tg.Value
	}
	fields := []Field{
		{"provider", got.Provider, provider}, {"account", got.AccountID, account}, {"region", got.Region, want.Region},
		{"id", got.InstanceID, want.ID}, {"zone", got.Zone, want.Zone}, {"name", got.Name, want.Name}, {"hostname", got.Hostname, want.HostName},
		{"os type", got.OSType, wantOS}, {"os name", got.OSName, want.OSName},
		{"private ips", fmt.Sprint(got.PrivateIPs), fmt.Sprint(want.PrivateIPs())}, {"vpc", got.VPCID, want.VPCID},
		{"tags", fmt.Sprint(got.Tags), fmt.Sprint(tags)}, {"type", got.InstanceType, want.InstanceType}, {"created", got.CreatedAt, want.CreatedAt.UTC()},
	}
	for _, f := range append(fields, own...) {
		if f.Got != f.Want {
			t.Fatalf("%s: %s = %v, want %v", want.ID, f.Name, f.Got, f.Want)
		}
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("%s: %v", want.ID, err)
	}
}

// ListAll lists every region through src in parallel and fails t on any
// error. The listings are in the order of regions.
func ListAll(t testing.TB, src collector.Source, regions []string) []*collector.Listing {
	t.Helper()
	listings := make([]*collector.Listing, len(regions))
	errs := make([]error, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Go(func() { listings[i], errs[i] = src.List(t.Context(), r) })
	}
	wg.Wait()
	for i, r := range regions {
		if errs[i] != nil {
			t.Fatalf("%s: %v", r, errs[i])
		}
	}
	return listings
}

// CheckListing reports on t (without stopping it: it may run in another
// goroutine) a failed listing, or one that does not hold n unique
// instances of account and region in pages pages.
func CheckListing(t testing.TB, l *collector.Listing, err error, region, account string, n, pages int) {
	t.Helper()
	if err != nil {
		t.Error(err)
		return
	}
	if len(l.Instances) != n || l.Pages != pages {
		t.Errorf("%s: %d in %d pages", region, len(l.Instances), l.Pages)
	}
	ids := make([]string, 0, len(l.Instances))
	for _, in := range l.Instances {
		ids = append(ids, in.InstanceID)
		if in.Region != region || in.AccountID != account {
			t.Errorf("%s in %s/%s", in.InstanceID, in.AccountID, in.Region)
		}
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != n {
		t.Errorf("%s: duplicates", region)
	}
}

// Listed returns the instance ids of l.
func Listed(l *collector.Listing) map[string]bool {
	listed := make(map[string]bool, len(l.Instances))
	for _, in := range l.Instances {
		listed[in.InstanceID] = true
	}
	return listed
}
