package huawei

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2/model"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
)

// createdLayouts: Huawei answers "2006-01-02T15:04:05Z"; offsets and
// fractions are accepted too.
var createdLayouts = []string{time.RFC3339, time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.000000"}

// MapServer turns one ListServersDetails server into a normalised
// asset.Instance of accountID (the configured stable id) and region (the
// region listed). It is pure: no I/O, no clock.
//
//   - Zone: OS-EXT-AZ:availability_zone; Hostname: OS-EXT-SRV-ATTR:hostname;
//     InstanceType: flavor.id (flavor.name when the id is empty).
//   - OSType: metadata.os_type ("Linux"/"Windows") wins; without it the
//     image name (metadata.image_name), then the server name are read word
//     by word (asset.DetectOS), so a Linux server named "twin-db" stays
//     Linux and a name alone never makes one Windows by a substring.
//   - OSName and ImageName: metadata.image_name. Huawei has no other OS name
//     field; for public images it is the OS ("CentOS 7.9 64bit").
//   - Status: the API's status word as returned. State: NormalizeState of
//     it, except that any task in progress (OS-EXT-STS:task_state set) makes
//     the server Transitional: per the ECS status table a server being
//     started is still SHUTOFF (task powering-on) and one being stopped
//     still ACTIVE (task powering-off), and asset.NormalizeState sees only
//     the status word.
//   - Addresses are keyed by VPC id; entries are read key by key (the key of
//     metadata.vpc_id first, then the others sorted, each in API order),
//     then the primary NIC's entries ("primary": true) are moved first,
//     keeping that order. PrivateIPs: the fixed IPv4 entries. EIP: the first
//     floating IPv4 entry; any further floating IPv4 goes to PublicIPs
//     (Huawei has no public address that is not an EIP). IPv6 addresses are
//     not collected (asset.Instance has no field for them).
//   - VPCID: metadata.vpc_id, else the addresses key of the primary NIC,
//     else the first key.
//   - Tags: the "k=v" strings split on the first "=" (asset.TagsFromStrings);
//     a tag without "=" is a key with an empty value.
//   - Values that cannot be published are repaired, never used to drop the
//     server: addresses that do not parse are left out and control
//     characters are removed from optional text and tags. The id and status
//     are kept as returned; Validate decides about them.
func MapServer(s model.ServerDetail, accountID, region string) asset.Instance {
	out := asset.Instance{
		Provider:   asset.HuaweiCloud,
		AccountID:  accountID,
		Region:     region,
		Zone:       collector.CleanText(s.OSEXTAZavailabilityZone),
		InstanceID: s.Id,
		Name:       collector.CleanText(s.Name),
		Hostname:   collector.CleanText(s.OSEXTSRVATTRhostname),
		OSName:     collector.CleanText(s.Metadata["image_name"]),
		ImageName:  collector.CleanText(s.Metadata["image_name"]),
		Status:     s.Status,
		CreatedAt:  collector.ParseTime(s.Created, createdLayouts...),
	}
	if s.Flavor != nil {
		out.InstanceType = collector.CleanText(collector.FirstNonEmpty(s.Flavor.Id, s.Flavor.Name))
	}
	out.State = asset.NormalizeState(asset.HuaweiCloud, s.Status)
	if strings.TrimSpace(s.OSEXTSTStaskState) != "" {
		out.State = asset.Transitional
	}
	out.OSType = asset.DetectOS(s.Metadata["os_type"], s.Metadata["image_name"], "", "")
	if out.OSType == asset.UnknownOS {
		out.OSType = asset.DetectOS("", "", "", s.Name)
	}

	entries, primaryKey := addressEntries(s.Addresses, s.Metadata["vpc_id"])
	var floating []string
	for _, a := range entries {
		ip, ok := ipv4(a)
		if !ok {
			continue
		}
		switch addrType(a) {
		case "fixed":
			out.PrivateIPs = append(out.PrivateIPs, ip)
		case "floating":
			floating = append(floating, ip)
		}
	}
	if len(floating) > 0 {
		out.EIP, out.PublicIPs = floating[0], floating[1:]
		if len(out.PublicIPs) == 0 {
			out.PublicIPs = nil
		}
	}
	out.VPCID = collector.CleanText(collector.FirstNonEmpty(s.Metadata["vpc_id"], primaryKey))
	if s.Tags != nil {
		tags := make([]string, 0, len(*s.Tags))
		for _, t := range *s.Tags {
			tags = append(tags, collector.CleanText(t))
		}
		out.Tags = asset.TagsFromStrings(tags)
	}
	out.Normalize()
	return out
}

// addressEntries flattens the addresses map in a deterministic order (see
// MapServer) and returns the key that holds the primary NIC (else the first
// key).
func addressEntries(addrs map[string][]model.ServerAddress, vpcID string) ([]model.ServerAddress, string) {
	keys := slices.Sorted(maps.Keys(addrs))
	if i := slices.Index(keys, vpcID); i > 0 {
		keys = append(append([]string{vpcID}, keys[:i]...), keys[i+1:]...)
	}
	var entries []model.ServerAddress
	primaryKey := ""
	for _, k := range keys {
		for _, a := range addrs[k] {
			if primaryKey == "" && a.Primary != nil && *a.Primary {
				primaryKey = k
			}
			entries = append(entries, a)
		}
	}
	if primaryKey == "" && len(keys) > 0 {
		primaryKey = keys[0]
	}
	slices.SortStableFunc(entries, func(a, b model.ServerAddress) int { return rank(isPrimary(a)) - rank(isPrimary(b)) })
	return entries, primaryKey
}

func isPrimary(a model.ServerAddress) bool { return a.Primary != nil && *a.Primary }

// rank orders true before false.
func rank(first bool) int {
	if first {
		return 0
	}
	return 1
}

func addrType(a model.ServerAddress) string {
	if a.OSEXTIPStype == nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(a.OSEXTIPStype.Value()))
}

// ipv4 returns the entry's address in canonical form when it is IPv4
// (version "4", or no version and an IPv4 address).
func ipv4(a model.ServerAddress) (string, bool) {
	v := strings.TrimSpace(a.Version)
	if v != "4" && v != "" {
		return "", false
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(a.Addr))
	if err != nil {
		return "", false
	}
	ip = ip.Unmap()
	if !ip.Is4() {
		return "", false
	}
	return ip.String(), true
}
