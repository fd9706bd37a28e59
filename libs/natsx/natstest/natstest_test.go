package natstest_test

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/natsx/natstest"
)

func TestServersAreIsolated(t *testing.T) {
	s1, url1 := natstest.Start(t)
	s2, url2 := natstest.Start(t)
	if url1 == url2 {
		t.Fatalf("two servers on one URL %s", url1)
	}
	if !s1.JetStreamEnabled() || !s2.JetStreamEnabled() {
		t.Fatal("JetStream not enabled")
	}
	_, js1 := natstest.Dial(t, url1)
	_, js2 := natstest.Dial(t, url2)
	if _, err := js1.CreateStream(t.Context(), jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js2.Stream(t.Context(), "S"); err == nil {
		t.Fatal("stream visible on the other server")
	}
}

func TestUsersNeedCredentials(t *testing.T) {
	opt := natstest.WithUsers(natstest.User{Name: "reader", Password: "reader-pw", Publish: []string{"none.>"}, Subscribe: []string{"jmssync.>"}})
	_, url := natstest.Start(t, opt)
	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("anonymous connection accepted")
	}
	_, js := natstest.Connect(t, opt) // as AdminUser on a fresh server
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Fatalf("admin has no JetStream: %v", err)
	}
	natstest.Dial(t, url, nats.UserInfo("reader", "reader-pw"))
}
