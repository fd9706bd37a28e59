package reconciler

import (
	"time"

	"github.com/jmssync/jmssync/libs/events"
	"github.com/jmssync/jmssync/libs/mirror"
	"github.com/jmssync/jmssync/services/reconciler/internal/plan"
)

// inFlightTTL is how long an issued intent keeps an equal one from being
// issued again. Past it the intent is taken as lost (dead-lettered, or its
// stream purged) and the next cycle issues it anew.
const inFlightTTL = 15 * time.Minute

type inFlight struct {
	plan.InFlight
	issued time.Time
}

// inFlight drops what the mirror shows applied (or superseded) and what is
// too old, and returns the rest for plan.Input. Callers hold s.mu.
func (s *Service) inFlight(m map[string]*mirror.Entry, now time.Time) map[string]plan.InFlight {
	out := make(map[string]plan.InFlight, len(s.inflight))
	for k, f := range s.inflight {
		if e := m[k]; (e != nil && e.Generation >= f.Generation) || now.Sub(f.issued) > inFlightTTL {
			delete(s.inflight, k)
			continue
		}
		out[k] = f.InFlight
	}
	return out
}

// issued records a cycle's published intents. Callers hold s.mu.
func (s *Service) issued(intents []events.Intent, now time.Time) {
	if s.inflight == nil {
		s.inflight = make(map[string]inFlight, len(intents))
	}
	for i := range intents {
		in := &intents[i]
		f := plan.InFlight{Op: in.Op, Generation: in.Generation, Fingerprint: plan.Fingerprint(in.Op, in.AssetID, in.Desired)}
		if in.Op == events.OpCreate && in.Desired != nil {
			f.Identity, f.Name = in.Identity, in.Desired.Name
		}
		s.inflight[in.Identity.Key()] = inFlight{issued: now, InFlight: f}
	}
}
