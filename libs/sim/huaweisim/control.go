package huaweisim

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

// controlRequest is the body of POST /_sim/instances/{action}.
type controlRequest struct {
	Region string `json:"region"`
	Name   string `json:"name"`
	ID     string `json:"id"`
	IP     string `json:"ip"`
}

func ctlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func ctlError(w http.ResponseWriter, status int, format string, a ...any) {
	ctlJSON(w, status, map[string]string{"error": fmt.Sprintf(format, a...)})
}

// serveControl is the test/demo control API under /_sim/ (see package doc).
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/_sim/instances" && r.Method == http.MethodGet:
		region := r.URL.Query().Get("region")
		list := s.inv.All(region)
		if list == nil {
			list = []*cloudinv.Instance{}
		}
		ctlJSON(w, http.StatusOK, list)
	case strings.HasPrefix(path, "/_sim/instances/") && r.Method == http.MethodPost:
		s.controlInstance(w, r, strings.TrimPrefix(path, "/_sim/instances/"))
	case path == "/_sim/faults" && r.Method == http.MethodGet:
		ctlJSON(w, http.StatusOK, s.inv.Faults())
	case path == "/_sim/faults" && r.Method == http.MethodPut:
		f, err := decodeFaults(r.Body)
		if err != nil {
			ctlError(w, http.StatusBadRequest, "faults: %v", err)
			return
		}
		s.inv.SetFaults(f)
		ctlJSON(w, http.StatusOK, s.inv.Faults())
	case path == "/_sim/iam" && r.Method == http.MethodPut:
		var body struct {
			Mode IAMMode `json:"mode"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			ctlError(w, http.StatusBadRequest, "iam: %v", err)
			return
		}
		switch body.Mode {
		case IAMOne, IAMNone, IAMTwo:
		default:
			ctlError(w, http.StatusBadRequest, "iam: mode must be one, none or two, not %q", body.Mode)
			return
		}
		s.SetIAMMode(body.Mode)
		ctlJSON(w, http.StatusOK, body)
	case path == "/_sim/projects" && r.Method == http.MethodGet:
		ctlJSON(w, http.StatusOK, s.Projects())
	case path == "/_sim/log" && r.Method == http.MethodGet:
		ctlJSON(w, http.StatusOK, s.Log())
	case path == "/_sim/counters" && r.Method == http.MethodGet:
		counts := s.Counts()
		keys := simnet.SortedKeys(counts)
		ordered := make([]map[string]any, 0, len(keys))
		for _, k := range keys {
			ordered = append(ordered, map[string]any{"route": k, "count": counts[k]})
		}
		ctlJSON(w, http.StatusOK, map[string]any{"total": s.Recorder.Total(), "counters": counts, "ordered": ordered})
	case path == "/_sim/reset" && r.Method == http.MethodPost:
		s.Reset()
		ctlJSON(w, http.StatusOK, map[string]bool{"reset": true})
	default:
		ctlError(w, http.StatusNotFound, "no control endpoint %s %s", r.Method, r.URL.Path)
	}
}

func (s *Server) controlInstance(w http.ResponseWriter, r *http.Request, action string) {
	var req controlRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil && err != io.EOF {
		ctlError(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if action != "add" && req.ID == "" {
		ctlError(w, http.StatusBadRequest, "%s: id is required", action)
		return
	}
	ok := true
	switch action {
	case "add":
		if req.Region == "" {
			ctlError(w, http.StatusBadRequest, "add: region is required")
			return
		}
		in := s.inv.Add(req.Region, req.Name)
		ctlJSON(w, http.StatusOK, in)
		return
	case "release":
		ok = s.inv.Release(req.ID)
	case "rename":
		if req.Name == "" {
			ctlError(w, http.StatusBadRequest, "rename: name is required")
			return
		}
		ok = s.inv.Rename(req.ID, req.Name)
	case "stop":
		ok = s.inv.SetState(req.ID, cloudinv.Stopped)
	case "start":
		ok = s.inv.SetState(req.ID, cloudinv.Running)
	case "reip":
		var ip string
		ip, ok = s.inv.ReIP(req.ID, req.IP)
		if ok {
			in, _ := s.inv.Get(req.ID)
			ctlJSON(w, http.StatusOK, map[string]any{"ip": ip, "instance": in})
			return
		}
	default:
		ctlError(w, http.StatusNotFound, "unknown action %q (add, release, rename, stop, start, reip)", action)
		return
	}
	if !ok {
		ctlError(w, http.StatusNotFound, "%s: no instance %s", action, req.ID)
		return
	}
	if in, found := s.inv.Get(req.ID); found {
		ctlJSON(w, http.StatusOK, in)
		return
	}
	ctlJSON(w, http.StatusOK, map[string]string{"released": req.ID})
}

// decodeFaults reads cloudinv.Faults as JSON. Latency and Hang may be
// nanoseconds (as encoding/json writes a time.Duration) or Go duration
// strings such as "1.5s".
func decodeFaults(body io.Reader) (cloudinv.Faults, error) {
	var f cloudinv.Faults
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&raw); err != nil {
		return f, err
	}
	for k, v := range raw {
		lk := strings.ToLower(k)
		if lk != "latency" && lk != "hang" {
			continue
		}
		var str string
		if json.Unmarshal(v, &str) == nil {
			d, err := time.ParseDuration(str)
			if err != nil {
				return f, fmt.Errorf("%s: %w", k, err)
			}
			raw[k] = json.RawMessage(fmt.Sprint(int64(d)))
		}
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return f, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, err
	}
	return f, nil
}
