package aliyun

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/collector"
)

// creationLayouts: Aliyun answers minute precision ("2006-01-02T15:04Z");
// seconds are accepted in case an API version adds them.
var creationLayouts = []string{"2006-01-02T15:04Z", "2006-01-02T15:04:05Z", time.RFC3339}

// MapInstance turns one DescribeInstances instance into a normalised
// asset.Instance of accountID (the configured stable id) and region (the
// region listed). It is pure: no I/O, no clock.
//
//   - OSType: Aliyun's OSType field wins; without it the English then the
//     localised OS name, the image id and last the instance name are read
//     word by word (asset.DetectOS), so a Linux server named "twin-db" stays
//     Linux.
//   - OSName: the OSName field as Aliyun returns it (localised, what the
//     console shows and what the old tool read); OSNameEn only when OSName
//     is empty.
//   - PrivateIPs, primary first, deduplicated: VpcAttributes.PrivateIpAddress
//     (the primary NIC's primary address), then every NIC's PrivateIpSets
//     (primary NIC first, each NIC's primary address first; PrimaryIpAddress
//     when a NIC lists no set), then InnerIpAddress (classic network).
//     IPv6 addresses are not collected (asset.Instance has no field for them).
//   - PublicIPs: PublicIpAddress; EIP: EipAddress.IpAddress (Normalize drops
//     an EIP that also shows among the public IPs from PublicIPs).
//   - Values that cannot be published are repaired, never used to drop the
//     instance: addresses that do not parse are left out, and control
//     characters are removed from optional text and tags. The instance id and
//     status are kept as returned; Validate decides about them.
func MapInstance(in ecs.Instance, accountID, region string) asset.Instance {
	out := asset.Instance{
		Provider:     asset.Aliyun,
		AccountID:    accountID,
		Region:       region,
		Zone:         collector.CleanText(in.ZoneId),
		InstanceID:   in.InstanceId,
		Name:         collector.CleanText(in.InstanceName),
		Hostname:     collector.CleanText(collector.FirstNonEmpty(in.HostName, in.Hostname)),
		OSName:       collector.CleanText(collector.FirstNonEmpty(in.OSName, in.OSNameEn)),
		ImageName:    collector.CleanText(in.ImageId),
		Status:       in.Status,
		PrivateIPs:   privateIPs(in),
		PublicIPs:    validIPs(in.PublicIpAddress.IpAddress),
		VPCID:        collector.CleanText(in.VpcAttributes.VpcId),
		InstanceType: collector.CleanText(in.InstanceType),
		CreatedAt:    collector.ParseTime(in.CreationTime, creationLayouts...),
		Tags:         tags(in.Tags.Tag),
	}
	if eip := validIPs([]string{in.EipAddress.IpAddress}); len(eip) == 1 {
		out.EIP = eip[0]
	}
	out.State = asset.NormalizeState(asset.Aliyun, in.Status)
	out.OSType = asset.DetectOS(in.OSType, in.OSNameEn, in.OSName, in.ImageId)
	if out.OSType == asset.UnknownOS {
		out.OSType = asset.DetectOS("", "", "", in.InstanceName)
	}
	out.Normalize()
	return out
}

func privateIPs(in ecs.Instance) []string {
	ips := slices.Clone(in.VpcAttributes.PrivateIpAddress.IpAddress)
	nics := slices.Clone(in.NetworkInterfaces.NetworkInterface)
	slices.SortStableFunc(nics, func(a, b ecs.NetworkInterface) int {
		return rank(strings.EqualFold(a.Type, "Primary")) - rank(strings.EqualFold(b.Type, "Primary"))
	})
	for _, n := range nics {
		sets := slices.Clone(n.PrivateIpSets.PrivateIpSet)
		slices.SortStableFunc(sets, func(a, b ecs.PrivateIpSet) int { return rank(a.Primary) - rank(b.Primary) })
		if len(sets) == 0 && n.PrimaryIpAddress != "" {
			ips = append(ips, n.PrimaryIpAddress)
		}
		for _, s := range sets {
			ips = append(ips, s.PrivateIpAddress)
		}
	}
	ips = append(ips, in.InnerIpAddress.IpAddress...)
	return validIPs(ips)
}

// rank orders true before false.
func rank(first bool) int {
	if first {
		return 0
	}
	return 1
}

// validIPs keeps the entries that parse as IP addresses, trimmed and in
// canonical form; Normalize removes duplicates.
func validIPs(ips []string) []string {
	var out []string
	for _, ip := range ips {
		if a, err := netip.ParseAddr(strings.TrimSpace(ip)); err == nil {
			out = append(out, a.Unmap().String())
		}
	}
	return out
}

func tags(list []ecs.Tag) map[string]string {
	var out map[string]string
	for _, t := range list {
		k, v := t.TagKey, t.TagValue
		if k == "" { // the shared SDK struct; other APIs fill Key/Value
			k, v = t.Key, t.Value
		}
		if k = collector.CleanText(k); k == "" {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(list))
		}
		out[k] = collector.CleanText(v)
	}
	return out
}
