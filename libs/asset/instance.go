package asset

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Instance is one cloud server, normalised. It is what collectors publish in
// snapshot chunks (schemas/instance.v1.json). Empty optional fields are left
// out of the JSON encoding to keep chunks small.
type Instance struct {
	Provider   Provider `json:"provider"`
	AccountID  string   `json:"account_id"` // the configured account's stable id
	Region     string   `json:"region"`
	Zone       string   `json:"zone,omitempty"`
	InstanceID string   `json:"instance_id"`
	Name       string   `json:"name,omitempty"` // console name; may be empty
	Hostname   string   `json:"hostname,omitempty"`
	OSType     OSType   `json:"os_type"`
	OSName     string   `json:"os_name,omitempty"`
	ImageName  string   `json:"image_name,omitempty"`
	State      State    `json:"state"`
	Status     string   `json:"status"` // the cloud's own status word, as returned
	// PrivateIPs in the cloud's order, primary NIC's primary address first.
	PrivateIPs []string `json:"private_ips,omitempty"`
	// PublicIPs are system-assigned public addresses (not the EIP).
	PublicIPs []string `json:"public_ips,omitempty"`
	// EIP is the bound elastic IP (Aliyun) or floating IP (Huawei).
	EIP          string            `json:"eip,omitempty"`
	VPCID        string            `json:"vpc_id,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	InstanceType string            `json:"instance_type,omitempty"`
	CreatedAt    time.Time         `json:"created_at,omitzero"`
}

// ID is the instance's identity.
func (in *Instance) ID() ID { return ID{Provider: in.Provider, InstanceID: in.InstanceID} }

// Normalize puts in into the canonical form collectors must publish: text
// trimmed and made valid UTF-8, provider lower-cased, IP lists without empty
// or duplicate entries (order kept), an EIP that also appears among public
// IPs kept only as EIP, empty tag maps dropped, the creation time in UTC,
// State derived from Status and OSType detected when they were left empty.
func (in *Instance) Normalize() {
	for _, p := range []*string{&in.AccountID, &in.Region, &in.Zone, &in.InstanceID, &in.Name,
		&in.Hostname, &in.OSName, &in.ImageName, &in.Status, &in.EIP, &in.VPCID, &in.InstanceType} {
		*p = clean(*p)
	}
	in.Provider = Provider(strings.ToLower(clean(string(in.Provider))))
	in.PrivateIPs = cleanIPs(in.PrivateIPs, "")
	in.PublicIPs = cleanIPs(in.PublicIPs, in.EIP)
	if len(in.Tags) == 0 {
		in.Tags = nil
	} else {
		tags := make(map[string]string, len(in.Tags))
		for k, v := range in.Tags {
			if k = clean(k); k != "" {
				tags[k] = clean(v)
			}
		}
		in.Tags = tags
	}
	if !in.CreatedAt.IsZero() {
		in.CreatedAt = in.CreatedAt.UTC()
	}
	if in.State == "" {
		in.State = NormalizeState(in.Provider, in.Status)
	}
	if in.OSType == "" {
		in.OSType = DetectOS("", in.OSName, in.ImageName, in.Name)
	}
}

func clean(s string) string { return strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD")) }

func cleanIPs(ips []string, drop string) []string {
	var out []string
	seen := make(map[string]bool, len(ips))
	for _, ip := range ips {
		ip = clean(ip)
		if ip == "" || ip == drop || seen[ip] {
			continue
		}
		seen[ip] = true
		out = append(out, ip)
	}
	return out
}

// Validate reports every problem of in at once; the error wraps ErrInvalid
// and names fields by their JSON names. Required: provider, account_id,
// region, instance_id, os_type, state, status. IPs must parse; text must be
// valid UTF-8 without control characters.
func (in *Instance) Validate() error {
	var p []string
	add := func(field, msg string) { p = append(p, field+": "+msg) }
	if !in.Provider.Valid() {
		add("provider", fmt.Sprintf("unknown provider %q", in.Provider))
	}
	for _, f := range []struct {
		name, v  string
		required bool
	}{
		{"account_id", in.AccountID, true}, {"region", in.Region, true}, {"instance_id", in.InstanceID, true},
		{"status", in.Status, true}, {"zone", in.Zone, false}, {"name", in.Name, false},
		{"hostname", in.Hostname, false}, {"os_name", in.OSName, false}, {"image_name", in.ImageName, false},
		{"vpc_id", in.VPCID, false}, {"instance_type", in.InstanceType, false},
	} {
		if msg := CheckText(f.v, f.required); msg != "" {
			add(f.name, msg)
		}
	}
	if len(in.InstanceID) > 255 {
		add("instance_id", "longer than 255 bytes")
	}
	if !in.OSType.Valid() {
		add("os_type", fmt.Sprintf("must be linux, windows or unknown, not %q", in.OSType))
	}
	if !in.State.Valid() {
		add("state", fmt.Sprintf("must be running, stopped or transitional, not %q", in.State))
	}
	for name, ips := range map[string][]string{"private_ips": in.PrivateIPs, "public_ips": in.PublicIPs} {
		for i, ip := range ips {
			if _, err := netip.ParseAddr(ip); err != nil {
				add(fmt.Sprintf("%s[%d]", name, i), fmt.Sprintf("not an IP address: %q", ip))
			}
		}
	}
	if in.EIP != "" {
		if _, err := netip.ParseAddr(in.EIP); err != nil {
			add("eip", fmt.Sprintf("not an IP address: %q", in.EIP))
		}
	}
	for k, v := range in.Tags {
		if msg := CheckText(k, true); msg != "" {
			add("tags", "key "+msg)
		}
		if msg := CheckText(v, false); msg != "" {
			add("tags."+k, msg)
		}
	}
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{What: "instance", Problems: sortedCopy(p)}
}

// CheckText returns "" when s is acceptable message text, otherwise why not:
// required and empty or blank, not valid UTF-8, or holding control characters.
func CheckText(s string, required bool) string {
	switch {
	case required && strings.TrimSpace(s) == "":
		return "required"
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "contains control characters"
	}
	return ""
}

// TagsFromStrings parses Huawei-style "key=value" tags, splitting on the
// first "="; an entry without "=" is a key with an empty value. Blank
// entries are skipped; a repeated key keeps its last value.
func TagsFromStrings(tags []string) map[string]string {
	var out map[string]string
	for _, t := range tags {
		k, v, _ := strings.Cut(t, "=")
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(tags))
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
