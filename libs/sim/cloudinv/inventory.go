// Package cloudinv is the provider-neutral inventory behind the Aliyun and
// Huawei Cloud simulators: regions full of instances generated from a seed,
// mutations that tests and the demo make at run time (add, release, rename,
// stop, start, re-IP), and the faults a listing can meet (a failed region, a
// failed page, throttling, latency, churn between pages, a key without list
// permission). Each simulator renders it in its own wire format.
package cloudinv

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"
)

// Provider selects id formats and naming conventions.
type Provider string

const (
	Aliyun Provider = "aliyun"
	Huawei Provider = "huaweicloud"
)

// State is a provider-neutral lifecycle state; simulators map it to their
// own words (Aliyun "Running", Huawei "ACTIVE", …).
type State string

const (
	Pending  State = "pending"
	Starting State = "starting"
	Running  State = "running"
	Stopping State = "stopping"
	Stopped  State = "stopped"
)

// Tag is one instance tag. An empty Value with HasValue false models a
// Huawei tag written without "=".
type Tag struct {
	Key      string
	Value    string
	HasValue bool
}

// NIC is one network interface.
type NIC struct {
	ID         string
	MAC        string
	Primary    bool
	PrivateIPs []string // the first is the NIC's primary address
	IPv6       []string
}

// Instance is one cloud server.
type Instance struct {
	ID                  string
	Name                string
	HostName            string
	Description         string
	Region              string
	Zone                string
	OSType              string // "linux" or "windows"
	OSName              string // localised (Chinese in CN regions for Aliyun)
	OSNameEn            string
	ImageID             string
	State               State
	InstanceType        string
	CPU                 int
	MemoryMiB           int
	VPCID               string
	NICs                []NIC
	PublicIPs           []string // system-assigned public addresses
	EIP                 string   // elastic / floating address, "" if none
	Tags                []Tag
	EnterpriseProjectID string
	CreatedAt           time.Time
	seq                 int64 // creation order, the listing order
}

// PrivateIPs returns every private IPv4 address, primary NIC first.
func (in *Instance) PrivateIPs() []string {
	var out []string
	for _, n := range in.NICs {
		out = append(out, n.PrivateIPs...)
	}
	return out
}

// Seq is the instance's position in creation order. Listings are sorted by it.
func (in *Instance) Seq() int64 { return in.seq }

func (in *Instance) clone() *Instance {
	c := *in
	c.NICs = make([]NIC, len(in.NICs))
	for i, n := range in.NICs {
		n.PrivateIPs = slices.Clone(n.PrivateIPs)
		n.IPv6 = slices.Clone(n.IPv6)
		c.NICs[i] = n
	}
	c.PublicIPs = slices.Clone(in.PublicIPs)
	c.Tags = slices.Clone(in.Tags)
	return &c
}

// Spec describes a generated inventory.
type Spec struct {
	Provider  Provider
	Seed      uint64
	Regions   []string
	PerRegion int // instances per region
	// WindowsPercent and StoppedPercent shape the mix (defaults 20 and 10).
	WindowsPercent int
	StoppedPercent int
	// Now anchors creation times (default 2024-01-01T00:00Z) so that output is reproducible.
	Now time.Time
}

// Inventory is safe for concurrent use.
type Inventory struct {
	mu       sync.Mutex
	provider Provider
	regions  []string
	byRegion map[string][]*Instance // sorted by seq
	byID     map[string]*Instance
	seq      int64
	rng      *rand.Rand
	now      time.Time
	faults   Faults
	calls    int64 // list calls seen, for ThrottleEvery
}

// New generates an inventory from spec. The same spec gives the same inventory.
func New(spec Spec) *Inventory {
	if spec.Provider == "" {
		spec.Provider = Aliyun
	}
	if spec.Now.IsZero() {
		spec.Now = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if spec.WindowsPercent == 0 {
		spec.WindowsPercent = 20
	}
	if spec.StoppedPercent == 0 {
		spec.StoppedPercent = 10
	}
	inv := &Inventory{
		provider: spec.Provider,
		byRegion: map[string][]*Instance{},
		byID:     map[string]*Instance{},
		rng:      rand.New(rand.NewPCG(spec.Seed, 0x6a6d732d73796e63)),
		now:      spec.Now,
	}
	for _, r := range spec.Regions {
		inv.addRegionLocked(r)
	}
	for _, r := range spec.Regions {
		for i := 0; i < spec.PerRegion; i++ {
			inv.addLocked(inv.generate(r, i, spec))
		}
	}
	return inv
}

// Provider returns the provider the inventory was generated for.
func (inv *Inventory) Provider() Provider { return inv.provider }

// Regions returns the configured regions in order.
func (inv *Inventory) Regions() []string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return slices.Clone(inv.regions)
}

// HasRegion reports whether region is configured.
func (inv *Inventory) HasRegion(region string) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	_, ok := inv.byRegion[region]
	return ok
}

// AddRegion adds an empty region (no-op if present).
func (inv *Inventory) AddRegion(region string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.addRegionLocked(region)
}

func (inv *Inventory) addRegionLocked(region string) {
	if _, ok := inv.byRegion[region]; ok {
		return
	}
	inv.regions = append(inv.regions, region)
	inv.byRegion[region] = nil
}

// Count returns the number of instances in region ("" for all regions).
func (inv *Inventory) Count(region string) int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if region == "" {
		return len(inv.byID)
	}
	return len(inv.byRegion[region])
}

// Get returns a copy of one instance.
func (inv *Inventory) Get(id string) (*Instance, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	in, ok := inv.byID[id]
	if !ok {
		return nil, false
	}
	return in.clone(), true
}

// All returns copies of every instance of region ("" for all), in listing order.
func (inv *Inventory) All(region string) []*Instance {
	return inv.List(region, nil)
}

// List returns copies of region's instances that match keep (nil keeps all),
// in listing order (creation order).
func (inv *Inventory) List(region string, keep func(*Instance) bool) []*Instance {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	var src []*Instance
	if region == "" {
		for _, r := range inv.regions {
			src = append(src, inv.byRegion[r]...)
		}
	} else {
		src = inv.byRegion[region]
	}
	out := make([]*Instance, 0, len(src))
	for _, in := range src {
		if keep == nil || keep(in) {
			out = append(out, in.clone())
		}
	}
	return out
}

// Add inserts a new instance generated in region and returns a copy. The
// region is created if needed. name overrides the generated name if set.
func (inv *Inventory) Add(region, name string) *Instance {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.addRegionLocked(region)
	in := inv.launchLocked(region)
	if name != "" {
		in.Name, in.HostName = name, hostname(name)
	}
	inv.addLocked(in)
	return in.clone()
}

// launchLocked generates a new, running instance of region, created now
// (Add, and the churn fault's creations).
func (inv *Inventory) launchLocked(region string) *Instance {
	in := inv.generate(region, len(inv.byRegion[region]), Spec{WindowsPercent: 20, StoppedPercent: 1})
	in.State = Running
	in.CreatedAt = time.Now().UTC().Truncate(time.Second) // just launched
	return in
}

// Put inserts or replaces an instance as given (tests that need exact data).
func (inv *Inventory) Put(in Instance) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.addRegionLocked(in.Region)
	if old, ok := inv.byID[in.ID]; ok {
		inv.removeLocked(old.ID)
	}
	c := in.clone()
	inv.addLocked(c)
}

func (inv *Inventory) addLocked(in *Instance) {
	inv.seq++
	in.seq = inv.seq
	inv.byID[in.ID] = in
	inv.byRegion[in.Region] = append(inv.byRegion[in.Region], in)
}

// Release removes an instance. It reports whether it existed.
func (inv *Inventory) Release(id string) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.removeLocked(id)
}

func (inv *Inventory) removeLocked(id string) bool {
	in, ok := inv.byID[id]
	if !ok {
		return false
	}
	delete(inv.byID, id)
	list := inv.byRegion[in.Region]
	i := sort.Search(len(list), func(i int) bool { return list[i].seq >= in.seq })
	if i < len(list) && list[i].ID == id {
		inv.byRegion[in.Region] = append(list[:i:i], list[i+1:]...)
	}
	return true
}

// Update applies f to the stored instance. It reports whether it existed.
// f must not change ID or Region (use Release and Put to move an instance).
func (inv *Inventory) Update(id string, f func(*Instance)) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	in, ok := inv.byID[id]
	if !ok {
		return false
	}
	keepID, keepRegion := in.ID, in.Region
	f(in)
	in.ID, in.Region = keepID, keepRegion
	return true
}

// Rename sets name and hostname.
func (inv *Inventory) Rename(id, name string) bool {
	return inv.Update(id, func(in *Instance) { in.Name, in.HostName = name, hostname(name) })
}

// SetState stops, starts, … an instance.
func (inv *Inventory) SetState(id string, s State) bool {
	return inv.Update(id, func(in *Instance) { in.State = s })
}

// ReIP gives the primary NIC a new primary private address (a fresh one if ip is "").
// It returns the address set.
func (inv *Inventory) ReIP(id, ip string) (string, bool) {
	inv.mu.Lock()
	if ip == "" {
		ip = inv.privateIP()
	}
	inv.mu.Unlock()
	ok := inv.Update(id, func(in *Instance) {
		if len(in.NICs) == 0 {
			in.NICs = []NIC{{ID: "eni-" + id, Primary: true}}
		}
		if len(in.NICs[0].PrivateIPs) == 0 {
			in.NICs[0].PrivateIPs = []string{ip}
		} else {
			in.NICs[0].PrivateIPs[0] = ip
		}
	})
	return ip, ok
}

// Pick returns the id of the n-th instance (listing order) of region, for tests.
func (inv *Inventory) Pick(region string, n int) (string, error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	list := inv.byRegion[region]
	if n < 0 || n >= len(list) {
		return "", fmt.Errorf("cloudinv: region %q has %d instances, no index %d", region, len(list), n)
	}
	return list[n].ID, nil
}
