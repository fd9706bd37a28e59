package cloudinv

import (
	"time"
)

// Faults are the conditions a listing meets. Each simulator turns a fault
// into its cloud's own error shape.
type Faults struct {
	// FailRegions: every list call in these regions fails with a server error.
	FailRegions map[string]bool
	// FailPage (1-based) fails that page of every listing in FailPageRegion
	// ("" = every region). 0 disables it.
	FailPage       int
	FailPageRegion string
	// ThrottleEvery throttles every k-th list call (0 = never).
	ThrottleEvery int
	// Latency is added to every call; Hang, if set, replaces it for list
	// calls, to run past client timeouts.
	Latency time.Duration
	Hang    time.Duration
	// Churn changes the inventory after a page has been served, once.
	Churn []Churn
}

// Churn releases or creates instances after page AfterPage (1-based) of a
// listing of Region has been served. Release takes the first listed
// instance, so that offset paging shifts and skips one instance; Create adds
// one at the end of the listing.
type Churn struct {
	Region    string
	AfterPage int
	Release   bool
	Create    bool
	done      bool
}

// FaultKind is what a list call must answer.
type FaultKind int

const (
	NoFault FaultKind = iota
	RegionDown
	PageFailed
	Throttled
)

func (k FaultKind) String() string {
	return [...]string{"none", "region-down", "page-failed", "throttled"}[k]
}

// SetFaults replaces the faults.
func (inv *Inventory) SetFaults(f Faults) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	f.Churn = append([]Churn(nil), f.Churn...)
	inv.faults = f
	inv.calls = 0
}

// UpdateFaults edits the faults in place.
func (inv *Inventory) UpdateFaults(edit func(*Faults)) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	edit(&inv.faults)
}

// Faults returns a copy of the current faults.
func (inv *Inventory) Faults() Faults {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	f := inv.faults
	f.Churn = append([]Churn(nil), f.Churn...)
	return f
}

// Delay returns the latency to add to a call that is not a listing.
func (inv *Inventory) Delay() time.Duration {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.faults.Latency
}

// BeforeList is called by a simulator before it serves page (1-based) of a
// listing of region. It counts the call and says which fault applies and
// how long to wait before answering.
func (inv *Inventory) BeforeList(region string, page int) (FaultKind, time.Duration) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.calls++
	f := &inv.faults
	delay := f.Latency
	if f.Hang > 0 {
		delay = f.Hang
	}
	switch {
	case f.FailRegions[region]:
		return RegionDown, delay
	case f.ThrottleEvery > 0 && inv.calls%int64(f.ThrottleEvery) == 0:
		return Throttled, delay
	case f.FailPage > 0 && page == f.FailPage && (f.FailPageRegion == "" || f.FailPageRegion == region):
		return PageFailed, delay
	}
	return NoFault, delay
}

// AfterList is called once page (1-based) of a listing of region has been
// rendered; it applies pending churn.
func (inv *Inventory) AfterList(region string, page int) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for i := range inv.faults.Churn {
		c := &inv.faults.Churn[i]
		if c.done || c.Region != region || c.AfterPage != page {
			continue
		}
		c.done = true
		if c.Release && len(inv.byRegion[region]) > 0 {
			inv.removeLocked(inv.byRegion[region][0].ID)
		}
		if c.Create {
			inv.addLocked(inv.launchLocked(region))
		}
	}
}

// ChurnDone reports how many churn entries have fired.
func (inv *Inventory) ChurnDone() int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	n := 0
	for _, c := range inv.faults.Churn {
		if c.done {
			n++
		}
	}
	return n
}

// Permission models what a key may do with the list API.
type Permission int

const (
	// CanList is a normal key.
	CanList Permission = iota
	// ListForbidden answers list calls with the cloud's permission error.
	ListForbidden
	// ListEmpty answers list calls successfully with nothing in them: what
	// Aliyun did before 2025-12-20, and still does with resource-group
	// scoped policies. A collector must not read it as "all released".
	ListEmpty
)

// Key is one access key a simulator accepts.
type Key struct {
	ID     string
	Secret string
	// Account is the cloud account (Aliyun account id, Huawei domain id) the key belongs to.
	Account    string
	Permission Permission
}
