package plan

import (
	"fmt"
	"testing"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// benchDesiredInstances are 100,000 instances over 4 scopes with the mix a
// real inventory has: Windows, stopped, public-IP-only, transitional, no
// address, secondary addresses.
func benchDesiredInstances() []asset.Instance {
	scopes := []events.Scope{scopeA, scopeB, scopeH, {Provider: asset.HuaweiCloud, AccountID: "hw", Region: "cn-east-3"}}
	out := make([]asset.Instance, 0, 100_000)
	for i := range 100_000 {
		s := scopes[i%len(scopes)]
		in := vm(s, fmt.Sprintf("i-%d-%08d", i%len(scopes), i), fmt.Sprintf("srv-%d", i), fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%250+1))
		switch {
		case i%5 == 0:
			in.OSType = asset.Windows
		case i%11 == 0:
			in.OSType = asset.UnknownOS
		}
		switch {
		case i%10 == 1:
			in.State, in.Status = asset.Stopped, "Stopped"
		case i%50 == 2:
			in.State, in.Status = asset.Transitional, "Starting"
		}
		switch {
		case i%200 == 3:
			in.PrivateIPs, in.PublicIPs = nil, []string{fmt.Sprintf("47.0.%d.%d", i/256%256, i%250+1)}
		case i%200 == 4:
			in.PrivateIPs = nil
		case i%20 == 5:
			in.PrivateIPs = append(in.PrivateIPs, fmt.Sprintf("172.16.%d.%d", i/256%256, i%250+1))
		}
		out = append(out, in)
	}
	return out
}

// BenchmarkDesired100k maps 100,000 instances to desired assets one by one
// through the exported Desired (a fresh scope cache per call).
func BenchmarkDesired100k(b *testing.B) {
	ins := benchDesiredInstances()
	p := testPolicy()
	if err := p.Validate(); err != nil {
		b.Fatal(err)
	}
	mapped := 0
	for i := range ins {
		if _, skip := Desired(&ins[i], &p); skip == "" {
			mapped++
		}
	}
	if mapped == 0 || mapped == len(ins) {
		b.Fatalf("%d of %d mapped: the mix is wrong", mapped, len(ins))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range ins {
			Desired(&ins[i], &p)
		}
	}
	b.ReportMetric(float64(len(ins)), "instances/op")
}

// BenchmarkMapInstance100k is the part of the mapping Diff runs for every
// listed instance (one shared scope cache; names, comments and slices are
// built only for intents).
func BenchmarkMapInstance100k(b *testing.B) {
	ins := benchDesiredInstances()
	p := testPolicy()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sc := newScopeCache(&p)
		for i := range ins {
			sc.mapInstance(&ins[i])
		}
	}
	b.ReportMetric(float64(len(ins)), "instances/op")
}
