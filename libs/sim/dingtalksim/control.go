package dingtalksim

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// faultJSON is the wire form of a Fault in the control API.
type faultJSON struct {
	Token      string `json:"token"`
	Errcode    int    `json:"errcode,omitempty"`
	Errmsg     string `json:"errmsg,omitempty"`
	HTTPStatus int    `json:"http_status,omitempty"`
	Reset      bool   `json:"reset,omitempty"`
	LatencyMS  int64  `json:"latency_ms,omitempty"`
	Times      int    `json:"times,omitempty"`
}

func sortRobots(rs []Robot) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Token < rs[j].Token })
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/_sim/")
	method := r.Method
	bad := func(err string) { writeJSONStatus(w, http.StatusBadRequest, map[string]string{"error": err}) }
	notAllowed := func(allow string) {
		w.Header().Set("Allow", allow)
		writeJSONStatus(w, http.StatusMethodNotAllowed, map[string]string{"error": "method " + method + " not allowed"})
	}
	token := r.URL.Query().Get("token")
	switch path {
	case "messages":
		if method != http.MethodGet {
			notAllowed("GET")
			return
		}
		msgs := s.Accepted(token)
		if msgs == nil {
			msgs = []Message{}
		}
		writeJSONStatus(w, http.StatusOK, msgs)
	case "rejections":
		if method != http.MethodGet {
			notAllowed("GET")
			return
		}
		rejs := s.Rejected(token)
		if rejs == nil {
			rejs = []Rejection{}
		}
		writeJSONStatus(w, http.StatusOK, rejs)
	case "reset":
		if method != http.MethodPost {
			notAllowed("POST")
			return
		}
		s.Reset()
		writeJSONStatus(w, http.StatusOK, map[string]bool{"reset": true})
	case "faults":
		switch method {
		case http.MethodGet:
			out := []faultJSON{}
			for tok, f := range s.Faults() {
				out = append(out, toFaultJSON(tok, f))
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Token < out[j].Token })
			writeJSONStatus(w, http.StatusOK, out)
		case http.MethodPut:
			var fj faultJSON
			if err := decodeStrict(r.Body, &fj); err != nil {
				bad("fault body: " + err.Error())
				return
			}
			if fj.Token == "" {
				bad(`fault body: "token" is required ("*" for all robots)`)
				return
			}
			if fj.HTTPStatus != 0 && (fj.HTTPStatus < 400 || fj.HTTPStatus > 599) {
				bad("fault body: http_status must be 4xx or 5xx")
				return
			}
			if fj.Times < 0 || fj.LatencyMS < 0 {
				bad("fault body: negative times or latency_ms")
				return
			}
			f := Fault{Errcode: fj.Errcode, Errmsg: fj.Errmsg, HTTPStatus: fj.HTTPStatus, Reset: fj.Reset,
				Latency: time.Duration(fj.LatencyMS) * time.Millisecond, Times: fj.Times}
			s.SetFaultSpec(fj.Token, f)
			writeJSONStatus(w, http.StatusOK, toFaultJSON(fj.Token, f))
		case http.MethodDelete:
			if token == "" {
				s.ClearFaults()
			} else {
				s.SetFaultSpec(token, Fault{})
			}
			writeJSONStatus(w, http.StatusOK, map[string]bool{"cleared": true})
		default:
			notAllowed("GET, PUT, DELETE")
		}
	case "robots":
		switch method {
		case http.MethodGet:
			writeJSONStatus(w, http.StatusOK, s.Robots())
		case http.MethodPost:
			var rb Robot
			if err := decodeStrict(r.Body, &rb); err != nil {
				bad("robot body: " + err.Error())
				return
			}
			if err := s.AddRobot(rb); err != nil {
				bad(err.Error())
				return
			}
			writeJSONStatus(w, http.StatusOK, rb)
		default:
			notAllowed("GET, POST")
		}
	case "clock":
		switch method {
		case http.MethodGet:
		case http.MethodPost:
			var body struct {
				Advance string `json:"advance"`
			}
			if err := decodeStrict(r.Body, &body); err != nil {
				bad("clock body: " + err.Error())
				return
			}
			d, err := time.ParseDuration(body.Advance)
			if err != nil || d < 0 {
				bad(`clock body: "advance" must be a non-negative Go duration such as "10m"`)
				return
			}
			s.Advance(d)
		default:
			notAllowed("GET, POST")
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]string{"now": s.Now().Format(time.RFC3339Nano)})
	case "requests":
		if method != http.MethodGet {
			notAllowed("GET")
			return
		}
		writeJSONStatus(w, http.StatusOK, s.rec.Counts())
	default:
		writeJSONStatus(w, http.StatusNotFound, map[string]string{"error": "unknown control endpoint " + r.URL.Path})
	}
}

func toFaultJSON(token string, f Fault) faultJSON {
	return faultJSON{Token: token, Errcode: f.Errcode, Errmsg: f.Errmsg, HTTPStatus: f.HTTPStatus,
		Reset: f.Reset, LatencyMS: f.Latency.Milliseconds(), Times: f.Times}
}

func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
