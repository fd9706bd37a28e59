package simnet

import (
	"io"
	"net/http"
	"testing"
	"time"
)

func TestListenRefusesNonLoopback(t *testing.T) {
	if _, err := Listen("0.0.0.0:0", http.NotFoundHandler()); err == nil {
		t.Fatal("Listen on 0.0.0.0 succeeded; simulators must stay on loopback")
	}
}

func TestStartTestServesAndRecords(t *testing.T) {
	rec := NewRecorder(2)
	s := StartTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &StatusWriter{ResponseWriter: w}
		start := time.Now()
		_, _ = io.WriteString(sw, "ok")
		rec.Record("/x/{id}", Entry{Time: start, Method: r.Method, Path: r.URL.Path, Status: sw.Status})
	}))
	for i := 0; i < 3; i++ {
		resp, err := http.Get(s.URL + "/x/1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := rec.Counts()["GET /x/{id}"]; got != 3 {
		t.Fatalf("count = %d, want 3", got)
	}
	if got := rec.Total("POST"); got != 0 {
		t.Fatalf("POST total = %d, want 0", got)
	}
	if got := len(rec.Log()); got != 2 {
		t.Fatalf("log keeps %d entries, want the last 2", got)
	}
	if st := rec.Log()[1].Status; st != 200 {
		t.Fatalf("status = %d", st)
	}
	rec.Reset()
	if rec.Total() != 0 || len(rec.Log()) != 0 {
		t.Fatal("Reset left data")
	}
}
