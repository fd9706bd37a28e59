package natsx_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/natsx"
)

// A batch lands in the stream complete and in order; publishing it again
// stores nothing (every message keeps its msg id); a message without an id
// is refused before anything is sent.
func TestPublishBatchInOrderOnceEach(t *testing.T) {
	js, _ := setup(t, nil)
	subj := natsx.IntentSubject(scope)
	const n = 2500 // several windows
	msgs := make([]natsx.Outgoing, n)
	for i := range msgs {
		msgs[i] = natsx.Outgoing{Subject: subj, Payload: fmt.Appendf(nil, `{"n":%d}`, i), MsgID: fmt.Sprintf("m-%d", i),
			Header: nats.Header{"content-type": {"application/json"}}}
	}
	if err := natsx.PublishBatch(t.Context(), js, msgs, 100); err != nil {
		t.Fatal(err)
	}
	if err := natsx.PublishBatch(t.Context(), js, msgs, 0); err != nil { // a retry after a failure
		t.Fatal(err)
	}
	st, stored := intents(t, js)
	if got := stored(); got != n {
		t.Fatalf("%d messages stored, want %d (the repeat is deduplicated)", got, n)
	}
	for _, seq := range []uint64{1, 2, n / 2, n} {
		m, err := st.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"n":%d}`, seq-1); string(m.Data) != want || m.Header.Get("Nats-Msg-Id") != fmt.Sprintf("m-%d", seq-1) {
			t.Fatalf("seq %d: %s %v, want %s", seq, m.Data, m.Header, want)
		}
	}

	bad := []natsx.Outgoing{{Subject: subj, Payload: []byte("{}"), MsgID: "x-1"}, {Subject: subj, Payload: []byte("{}")}}
	if err := natsx.PublishBatch(t.Context(), js, bad, 0); !errors.Is(err, natsx.ErrNoMsgID) {
		t.Fatalf("no msg id: %v", err)
	}
	if got := stored(); got != n {
		t.Fatalf("%d messages after the refused batch", got)
	}
}

// PublishEach makes each message as it is sent; an error from the maker
// ends the batch there, with what was sent before stored.
func TestPublishEachStopsAtTheMakersError(t *testing.T) {
	js, _ := setup(t, nil)
	subj := natsx.IntentSubject(scope)
	boom := errors.New("cannot encode")
	err := natsx.PublishEach(t.Context(), js, 10, func(i int) (natsx.Outgoing, error) {
		if i == 3 {
			return natsx.Outgoing{}, boom
		}
		return natsx.Outgoing{Subject: subj, Payload: []byte("{}"), MsgID: fmt.Sprintf("e-%d", i)}, nil
	}, 2)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the maker's", err)
	}
	if _, stored := intents(t, js); stored() != 3 {
		t.Fatalf("%d stored, want the 3 made before the error", stored())
	}
}

// intents returns the INTENTS stream and a function counting its messages.
func intents(t *testing.T, js jetstream.JetStream) (jetstream.Stream, func() uint64) {
	t.Helper()
	st, err := js.Stream(t.Context(), natsx.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	return st, func() uint64 {
		t.Helper()
		info, err := st.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
}
