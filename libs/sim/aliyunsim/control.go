package aliyunsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
	"github.com/jmssync/jmssync/libs/sim/simnet"
)

// duration decodes from nanoseconds (a JSON number) or a Go duration string ("250ms").
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: want nanoseconds or a string like \"250ms\": %w", err)
	}
	*d = duration(n)
	return nil
}

// faultsIn is cloudinv.Faults as the control API accepts it.
type faultsIn struct {
	FailRegions    map[string]bool
	FailPage       int
	FailPageRegion string
	ThrottleEvery  int
	Latency        duration
	Hang           duration
	Churn          []cloudinv.Churn
}

// faultsOut is cloudinv.Faults plus how many churn entries have fired.
type faultsOut struct {
	cloudinv.Faults
	ChurnDone int
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func controlError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// args reads a JSON object body of strings, falling back to query parameters.
func args(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(b))) > 0 {
		var body map[string]string
		if err := json.Unmarshal(b, &body); err != nil {
			return nil, fmt.Errorf("body must be a JSON object of strings: %w", err)
		}
		for k, v := range body {
			out[k] = v
		}
	}
	return out, nil
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &simnet.StatusWriter{ResponseWriter: w}
	s.controlRoute(sw, r)
	s.Recorder.Record(r.URL.Path, simnet.Entry{Time: start, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: sw.Status, Duration: time.Since(start)})
}

func (s *Server) controlRoute(w http.ResponseWriter, r *http.Request) {
	inv := s.Inventory
	path := strings.TrimSuffix(r.URL.Path, "/")
	method := r.Method
	switch {
	case path == "/_sim/instances" && method == http.MethodGet:
		list := inv.All(r.URL.Query().Get("region"))
		if r.URL.Query().Get("format") == "aliyun" {
			out := make([]instanceJSON, 0, len(list))
			for _, in := range list {
				out = append(out, render(in))
			}
			writeJSON(w, 200, out)
			return
		}
		writeJSON(w, 200, list)
	case path == "/_sim/instance" && method == http.MethodGet:
		in, ok := inv.Get(r.URL.Query().Get("id"))
		if !ok {
			controlError(w, 404, "no instance %q", r.URL.Query().Get("id"))
			return
		}
		writeJSON(w, 200, in)
	case strings.HasPrefix(path, "/_sim/instances/") && method == http.MethodPost:
		a, err := args(r)
		if err != nil {
			controlError(w, 400, "%v", err)
			return
		}
		s.mutate(w, strings.TrimPrefix(path, "/_sim/instances/"), a)
	case path == "/_sim/faults" && method == http.MethodGet:
		writeJSON(w, 200, faultsOut{Faults: inv.Faults(), ChurnDone: inv.ChurnDone()})
	case path == "/_sim/faults" && (method == http.MethodPut || method == http.MethodPost):
		var in faultsIn
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil && err != io.EOF {
			controlError(w, 400, "faults: %v", err)
			return
		}
		inv.SetFaults(cloudinv.Faults{FailRegions: in.FailRegions, FailPage: in.FailPage, FailPageRegion: in.FailPageRegion,
			ThrottleEvery: in.ThrottleEvery, Latency: time.Duration(in.Latency), Hang: time.Duration(in.Hang), Churn: in.Churn})
		writeJSON(w, 200, faultsOut{Faults: inv.Faults(), ChurnDone: inv.ChurnDone()})
	case path == "/_sim/faults" && method == http.MethodDelete:
		inv.SetFaults(cloudinv.Faults{})
		writeJSON(w, 200, faultsOut{})
	case path == "/_sim/log" && method == http.MethodGet:
		writeJSON(w, 200, s.Log())
	case path == "/_sim/counters" && method == http.MethodGet:
		writeJSON(w, 200, map[string]any{"actions": s.Counters(), "requests": s.Recorder.Counts()})
	case path == "/_sim/reset" && method == http.MethodPost:
		s.Reset()
		writeJSON(w, 200, map[string]bool{"ok": true})
	case path == "/_sim/regions" && method == http.MethodGet:
		writeJSON(w, 200, inv.Regions())
	default:
		controlError(w, 404, "no control endpoint %s %s", method, r.URL.Path)
	}
}

func (s *Server) mutate(w http.ResponseWriter, op string, a map[string]string) {
	inv := s.Inventory
	id := a["id"]
	need := func(names ...string) bool {
		for _, n := range names {
			if a[n] == "" {
				controlError(w, 400, "%s: %q is required", op, n)
				return false
			}
		}
		return true
	}
	notFound := func() { controlError(w, 404, "%s: no instance %q", op, id) }
	answer := func(ok bool) {
		if !ok {
			notFound()
			return
		}
		in, found := inv.Get(id)
		if !found { // released
			writeJSON(w, 200, map[string]any{"id": id, "released": true})
			return
		}
		writeJSON(w, 200, in)
	}
	switch op {
	case "add":
		if !need("region") {
			return
		}
		writeJSON(w, 201, inv.Add(a["region"], a["name"]))
	case "release":
		if need("id") {
			answer(inv.Release(id))
		}
	case "rename":
		if need("id", "name") {
			answer(inv.Rename(id, a["name"]))
		}
	case "stop":
		if need("id") {
			answer(inv.SetState(id, cloudinv.Stopped))
		}
	case "start":
		if need("id") {
			answer(inv.SetState(id, cloudinv.Running))
		}
	case "state":
		if !need("id", "state") {
			return
		}
		st := cloudinv.State(strings.ToLower(a["state"]))
		switch st {
		case cloudinv.Pending, cloudinv.Starting, cloudinv.Running, cloudinv.Stopping, cloudinv.Stopped:
		default:
			controlError(w, 400, "state: unknown state %q", a["state"])
			return
		}
		answer(inv.SetState(id, st))
	case "reip":
		if !need("id") {
			return
		}
		if _, ok := inv.ReIP(id, a["ip"]); !ok {
			notFound()
			return
		}
		answer(true)
	default:
		controlError(w, 404, "no control operation %q", op)
	}
}
