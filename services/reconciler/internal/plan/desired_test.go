package plan

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

func TestDesired(t *testing.T) {
	base := vm(scopeA, "i-1", "web-1", "172.16.0.1")
	for _, tc := range []struct {
		name   string
		policy func(*Policy)
		inst   func(*asset.Instance)
		check  func(t *testing.T, d events.Desired)
		skip   string
	}{
		{name: "defaults", check: func(t *testing.T, d events.Desired) {
			want := events.Desired{Name: "web-1", Address: "172.16.0.1", Platform: "Linux",
				Protocols: []events.Protocol{{Name: "ssh", Port: 22}}, NodePath: "/DEFAULT/阿里云/生产", Zone: "dmz",
				Comment: "jms-sync: aliyun prod cn-hangzhou i-1", IsActive: true,
				Labels: []events.Label{{Name: "jmssync", Value: "test"}, {Name: "jmssync-account", Value: "prod"},
					{Name: "jmssync-provider", Value: "aliyun"}, {Name: "jmssync-region", Value: "cn-hangzhou"}}}
			if fmt.Sprint(d) != fmt.Sprint(want) {
				t.Fatalf("\n got %+v\nwant %+v", d, want)
			}
		}},
		{name: "windows", inst: func(in *asset.Instance) { in.OSType = asset.Windows }, check: func(t *testing.T, d events.Desired) {
			if d.Platform != "Windows" || d.Protocols[0] != (events.Protocol{Name: "rdp", Port: 3389}) {
				t.Fatalf("%+v", d)
			}
		}},
		{name: "account template", policy: func(p *Policy) {
			m := p.OS[asset.Linux]
			m.AccountTemplate = "root-tpl"
			p.OS[asset.Linux] = m
		}, check: func(t *testing.T, d events.Desired) {
			if d.AccountTemplate != "root-tpl" {
				t.Fatalf("%+v", d)
			}
		}},
		{name: "name falls back to hostname", inst: func(in *asset.Instance) { in.Name, in.Hostname = " ", "host-1" },
			check: func(t *testing.T, d events.Desired) { eq(t, d.Name, "host-1") }},
		{name: "name falls back to id", inst: func(in *asset.Instance) { in.Name = "" },
			check: func(t *testing.T, d events.Desired) { eq(t, d.Name, "i-1") }},
		{name: "long Chinese name cut to 128", inst: func(in *asset.Instance) { in.Name = strings.Repeat("服", 200) },
			check: func(t *testing.T, d events.Desired) { eq(t, utf8.RuneCountInString(d.Name), 128) }},
		{name: "multi-line name", inst: func(in *asset.Instance) { in.Name = "a\nb\tc" },
			check: func(t *testing.T, d events.Desired) { eq(t, d.Name, "a b c") }},
		{name: "public when no private", inst: func(in *asset.Instance) { in.PrivateIPs, in.PublicIPs = nil, []string{"47.1.1.1"} },
			check: func(t *testing.T, d events.Desired) { eq(t, d.Address, "47.1.1.1") }},
		{name: "eip first by preference", policy: func(p *Policy) { p.AddressOrder = []AddressKind{AddressEIP, AddressPrivate} },
			inst:  func(in *asset.Instance) { in.EIP = "47.2.2.2" },
			check: func(t *testing.T, d events.Desired) { eq(t, d.Address, "47.2.2.2") }},
		{name: "preferred CIDR", policy: func(p *Policy) { p.PreferredCIDRs, _ = ParsePrefixes([]string{"10.8.0.0/16"}) },
			inst:  func(in *asset.Instance) { in.PrivateIPs = []string{"172.16.0.1", "10.8.1.1"} },
			check: func(t *testing.T, d events.Desired) { eq(t, d.Address, "10.8.1.1") }},
		{name: "preferred CIDR absent falls back", policy: func(p *Policy) { p.PreferredCIDRs, _ = ParsePrefixes([]string{"10.8.0.0/16"}) },
			check: func(t *testing.T, d events.Desired) { eq(t, d.Address, "172.16.0.1") }},
		{name: "garbage address skipped", inst: func(in *asset.Instance) { in.PrivateIPs = []string{"nope", "172.16.0.2"} },
			check: func(t *testing.T, d events.Desired) { eq(t, d.Address, "172.16.0.2") }},
		{name: "whitelisted", policy: func(p *Policy) { p.Whitelist, _ = ParsePrefixes([]string{"172.16.0.1"}) },
			check: func(t *testing.T, d events.Desired) { eq(t, d.Address, "172.16.0.1") }},
		{name: "stopped kept active", inst: func(in *asset.Instance) { in.State = asset.Stopped },
			check: func(t *testing.T, d events.Desired) { eq(t, d.IsActive, true) }},
		{name: "stopped deactivated", policy: func(p *Policy) { p.Stopped = StoppedDeactivate }, inst: func(in *asset.Instance) { in.State = asset.Stopped },
			check: func(t *testing.T, d events.Desired) { eq(t, d.IsActive, false) }},
		{name: "unknown OS as Linux by default", inst: func(in *asset.Instance) { in.OSType = asset.UnknownOS },
			check: func(t *testing.T, d events.Desired) { eq(t, d.Platform, "Linux") }},
		{name: "node path template", policy: func(p *Policy) { p.NodePathTemplate = "/{root}/{provider}/{account_id}/{region}"; p.Accounts = nil },
			check: func(t *testing.T, d events.Desired) { eq(t, d.NodePath, "/DEFAULT/aliyun/prod/cn-hangzhou") }},
		{name: "slash in account name", policy: func(p *Policy) { p.Accounts = map[string]Account{"prod": {Name: "a/b"}} },
			check: func(t *testing.T, d events.Desired) { eq(t, d.NodePath, "/DEFAULT/阿里云/a-b") }},
		{name: "no address", inst: func(in *asset.Instance) { in.PrivateIPs = nil }, skip: SkipNoAddress},
		{name: "outside whitelist", policy: func(p *Policy) { p.Whitelist, _ = ParsePrefixes([]string{"10.0.0.0/8"}) }, skip: SkipWhitelist},
		{name: "transitional", inst: func(in *asset.Instance) { in.State = asset.Transitional }, skip: SkipTransitional},
		{name: "unknown OS unmapped", policy: func(p *Policy) { delete(p.OS, asset.UnknownOS) },
			inst: func(in *asset.Instance) { in.OSType = asset.UnknownOS }, skip: SkipUnknownOS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			if tc.policy != nil {
				tc.policy(&p)
			}
			in := with(base, tc.inst)
			d, skip := Desired(&in, &p)
			if skip != tc.skip {
				t.Fatalf("skip %q, want %q", skip, tc.skip)
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestLabelValue(t *testing.T) {
	eq(t, labelValue(" a:b,c "), "a_b_c")
	eq(t, utf8.RuneCountInString(labelValue(strings.Repeat("区", 80))), 64)
}

func TestAssignNames(t *testing.T) {
	id := func(s string) asset.ID { return asset.ID{Provider: asset.Aliyun, InstanceID: s} }
	taken := map[string]asset.ID{"db": id("i-old"), "db-000002": id("i-other")}
	claims := []NameClaim{
		{id("i-000001"), "web"}, {id("i-000002"), "WEB"}, {id("i-000003"), "web"},
		{id("i-old"), "db"}, {id("i-000002x"), "db"}, {id("i-y000002"), "db"},
		{id("i-long"), strings.Repeat("名", 128)}, {id("i-long2"), strings.Repeat("名", 128)},
	}
	want := AssignNames(claims, taken)
	for i := 0; i < 20; i++ {
		sh := append([]NameClaim(nil), claims...)
		rand.New(rand.NewPCG(uint64(i), 7)).Shuffle(len(sh), func(a, b int) { sh[a], sh[b] = sh[b], sh[a] })
		got := AssignNames(sh, taken)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("order-dependent:\n%v\n%v", got, want)
		}
	}
	eq(t, want[id("i-000001")], "web")
	eq(t, want[id("i-000002")], "WEB-000002")
	eq(t, want[id("i-000003")], "web-000003")
	eq(t, want[id("i-old")], "db") // its own name
	eq(t, want[id("i-000002x")], "db-00002x")
	eq(t, want[id("i-y000002")], "db-y000002") // db-000002 is taken by another asset: a longer tail
	eq(t, want[id("i-long")], strings.Repeat("名", 128))
	eq(t, utf8.RuneCountInString(want[id("i-long2")]), 128)
	seen := map[string]bool{}
	for _, n := range want {
		if seen[NameKey(n)] {
			t.Fatalf("duplicate %q", n)
		}
		seen[NameKey(n)] = true
	}
}

func TestPolicyValidate(t *testing.T) {
	p := testPolicy()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := p
	bad.AbsentPasses, bad.Grace, bad.LabelPrefix, bad.Stopped, bad.ShrinkThreshold = 0, -1, "a:b", "sometimes", 0
	bad.AddressOrder = []AddressKind{"ipv9"}
	err := bad.Validate()
	for _, key := range []string{"absent_passes", "grace", "label_prefix", "stopped", "shrink_threshold", "address_order"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s not reported: %v", key, err)
		}
	}
	if _, err := ParsePrefixes([]string{"10.0.0.1", "10.0.0.0/8", "::1", "x", "10.0.0.0/99"}); err == nil ||
		!strings.Contains(err.Error(), `"x"`) || !strings.Contains(err.Error(), `"10.0.0.0/99"`) {
		t.Fatalf("err %v", err)
	}
	ps, _ := ParsePrefixes([]string{"10.0.0.1", " 10.1.2.3/16 "})
	if len(ps) != 2 || ps[0].Bits() != 32 || ps[1].String() != "10.1.0.0/16" {
		t.Fatalf("%v", ps)
	}
}
