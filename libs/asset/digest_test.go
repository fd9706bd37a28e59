package asset

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func many(n int) []Instance {
	out := make([]Instance, n)
	for i := range out {
		in := sample()
		in.InstanceID = fmt.Sprintf("i-%04d", i)
		in.Name = fmt.Sprintf("名字-%d <&>", i) // non-ASCII and HTML-escaped characters
		in.Tags = map[string]string{"b": "2", "a": "1", "i": fmt.Sprint(i)}
		out[i] = in
	}
	return out
}

func TestDigestOrderAndChunkIndependent(t *testing.T) {
	ins := many(50)
	want, err := Digest(ins)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 64 {
		t.Fatalf("digest %q is not hex sha256", want)
	}
	shuffled := append([]Instance(nil), ins...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var d Digester
	for _, in := range shuffled {
		if err := d.Add(in); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.Sum(); got != want || d.Count() != 50 {
		t.Fatalf("shuffled digest %s (%d), want %s", got, d.Count(), want)
	}
	// Sum does not consume: adding more changes it.
	_ = d.Add(ins[0])
	if d.Sum() == want {
		t.Fatal("a repeated instance must change the digest")
	}
}

func TestDigestSurvivesJSONRoundTrip(t *testing.T) {
	ins := many(20)
	ins[3].CreatedAt = time.Date(2023, 5, 10, 10, 3, 4, 500, time.FixedZone("CST", 8*3600))
	ins[4].Name = "bad\xffutf8"
	for i := range ins {
		ins[i].Normalize()
	}
	want, _ := Digest(ins)
	b, err := json.Marshal(ins)
	if err != nil {
		t.Fatal(err)
	}
	var back []Instance
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, _ := Digest(back)
	if got != want {
		t.Fatalf("digest changed across encode/decode: %s vs %s", got, want)
	}
}

func TestDigestDetectsChange(t *testing.T) {
	ins := many(10)
	base, _ := Digest(ins)
	if empty, _ := Digest(nil); empty != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty digest %s", empty)
	}
	missing, _ := Digest(ins[:9])
	changed := append([]Instance(nil), ins...)
	changed[5].PrivateIPs = []string{"172.16.0.99"}
	ch, _ := Digest(changed)
	if missing == base || ch == base {
		t.Fatal("digest blind to a missing or changed instance")
	}
}

func BenchmarkDigest10k(b *testing.B) {
	ins := many(10000)
	for b.Loop() {
		if _, err := Digest(ins); err != nil {
			b.Fatal(err)
		}
	}
}
