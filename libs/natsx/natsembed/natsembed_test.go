package natsembed

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	put := func(value string) string {
		s, err := Start(Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Shutdown()
		nc, err := nats.Connect(s.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "t", Storage: jetstream.FileStorage})
		if err != nil {
			t.Fatal(err)
		}
		old := ""
		if e, err := kv.Get(ctx, "k"); err == nil {
			old = string(e.Value())
		}
		if _, err := kv.Put(ctx, "k", []byte(value)); err != nil {
			t.Fatal(err)
		}
		return old
	}
	if old := put("first"); old != "" {
		t.Fatalf("fresh store had %q", old)
	}
	if old := put("second"); old != "first" {
		t.Fatalf("after a restart the store had %q, want first", old)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	if _, err := Start(Options{DataDir: t.TempDir(), Addr: "0.0.0.0:4222"}); err == nil {
		t.Fatal("listening on every interface was accepted")
	}
}
