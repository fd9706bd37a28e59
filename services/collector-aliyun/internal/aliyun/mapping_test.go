package aliyun

import (
	"reflect"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/jmssync/jmssync/libs/asset"
)

// sdkInstance builds an SDK instance the way the SDK decodes one.
func sdkInstance(edit func(*ecs.Instance)) ecs.Instance {
	in := ecs.Instance{
		InstanceId: "i-bp1abc", InstanceName: "web-1", HostName: "web-1", Status: "Running",
		RegionId: "cn-hangzhou", ZoneId: "cn-hangzhou-h", InstanceType: "ecs.g6.large",
		OSType: "linux", OSName: "CentOS 7.9 64位", OSNameEn: "CentOS 7.9 64 bit",
		ImageId: "centos_7_9_x64_20G_alibase_2023.vhd", CreationTime: "2023-01-01T08:00Z",
	}
	in.VpcAttributes.VpcId = "vpc-bp1x"
	in.VpcAttributes.PrivateIpAddress.IpAddress = []string{"172.16.0.10"}
	in.NetworkInterfaces.NetworkInterface = []ecs.NetworkInterface{{
		NetworkInterfaceId: "eni-1", Type: "Primary", PrimaryIpAddress: "172.16.0.10",
		PrivateIpSets: ecs.PrivateIpSetsInDescribeInstances{PrivateIpSet: []ecs.PrivateIpSet{{PrivateIpAddress: "172.16.0.10", Primary: true}}},
	}}
	in.Tags.Tag = []ecs.Tag{{TagKey: "env", TagValue: "prod"}}
	if edit != nil {
		edit(&in)
	}
	return in
}

func nic(typ string, sets ...ecs.PrivateIpSet) ecs.NetworkInterface {
	n := ecs.NetworkInterface{Type: typ}
	n.PrivateIpSets.PrivateIpSet = sets
	if len(sets) > 0 {
		n.PrimaryIpAddress = sets[0].PrivateIpAddress
	}
	return n
}

func TestMapInstance(t *testing.T) {
	created := time.Date(2023, 1, 1, 8, 0, 0, 0, time.UTC)
	base := asset.Instance{
		Provider: asset.Aliyun, AccountID: "acct-1", Region: "cn-hangzhou", Zone: "cn-hangzhou-h",
		InstanceID: "i-bp1abc", Name: "web-1", Hostname: "web-1", OSType: asset.Linux, OSName: "CentOS 7.9 64位",
		ImageName: "centos_7_9_x64_20G_alibase_2023.vhd", State: asset.Running, Status: "Running",
		PrivateIPs: []string{"172.16.0.10"}, VPCID: "vpc-bp1x", Tags: map[string]string{"env": "prod"},
		InstanceType: "ecs.g6.large", CreatedAt: created,
	}
	want := func(edit func(*asset.Instance)) asset.Instance {
		w := base
		w.PrivateIPs = append([]string(nil), base.PrivateIPs...)
		w.Tags = map[string]string{"env": "prod"}
		if edit != nil {
			edit(&w)
		}
		return w
	}
	for _, tc := range []struct {
		name string
		in   ecs.Instance
		want asset.Instance
	}{
		{"plain VPC Linux", sdkInstance(nil), want(nil)},
		{"Linux named twin-db is Linux", sdkInstance(func(in *ecs.Instance) { in.InstanceName, in.HostName = "twin-db", "twin-db" }),
			want(func(w *asset.Instance) { w.Name, w.Hostname = "twin-db", "twin-db" })},
		{"twin-db without OSType: the OS name decides", sdkInstance(func(in *ecs.Instance) { in.InstanceName, in.OSType = "twin-db", "" }),
			want(func(w *asset.Instance) { w.Name = "twin-db" })},
		{"nothing but the name twin-db: unknown, never Windows", sdkInstance(func(in *ecs.Instance) {
			in.InstanceName, in.OSType, in.OSName, in.OSNameEn, in.ImageId = "twin-db", "", "", "", "m-bp1custom"
		}), want(func(w *asset.Instance) {
			w.Name, w.OSType, w.OSName, w.ImageName = "twin-db", asset.UnknownOS, "", "m-bp1custom"
		})},
		{"Windows from OSType", sdkInstance(func(in *ecs.Instance) {
			in.InstanceName, in.OSType = "ad-01", "windows"
			in.OSName, in.OSNameEn = "Windows Server 2019 数据中心版 64位中文版", "Windows Server 2019 Datacenter 64bit Chinese Edition"
			in.ImageId = "win2019dc_x64_dtc_zh-cn_40G_alibase.vhd"
		}), want(func(w *asset.Instance) {
			w.Name, w.OSType, w.OSName = "ad-01", asset.Windows, "Windows Server 2019 数据中心版 64位中文版"
			w.ImageName = "win2019dc_x64_dtc_zh-cn_40G_alibase.vhd"
		})},
		{"Windows from the English OS name when OSType is empty", sdkInstance(func(in *ecs.Instance) {
			in.OSType, in.OSName, in.OSNameEn = "", "数据中心版", "Windows Server 2022 Datacenter"
		}), want(func(w *asset.Instance) { w.OSType, w.OSName = asset.Windows, "数据中心版" })},
		{"OSNameEn only when OSName is empty", sdkInstance(func(in *ecs.Instance) { in.OSName = "" }),
			want(func(w *asset.Instance) { w.OSName = "CentOS 7.9 64 bit" })},
		{"no private IP at all", sdkInstance(func(in *ecs.Instance) {
			in.VpcAttributes.PrivateIpAddress.IpAddress = []string{}
			in.NetworkInterfaces.NetworkInterface = []ecs.NetworkInterface{nic("Primary")}
			in.NetworkInterfaces.NetworkInterface[0].PrimaryIpAddress = ""
		}), want(func(w *asset.Instance) { w.PrivateIPs = nil })},
		{"EIP and public IP", sdkInstance(func(in *ecs.Instance) {
			in.PublicIpAddress.IpAddress = []string{"47.1.2.3"}
			in.EipAddress.IpAddress = "39.9.8.7"
		}), want(func(w *asset.Instance) { w.PublicIPs, w.EIP = []string{"47.1.2.3"}, "39.9.8.7" })},
		{"an EIP echoed among public IPs is kept only as EIP", sdkInstance(func(in *ecs.Instance) {
			in.PublicIpAddress.IpAddress = []string{"39.9.8.7"}
			in.EipAddress.IpAddress = "39.9.8.7"
		}), want(func(w *asset.Instance) { w.EIP = "39.9.8.7" })},
		{"several NICs: primary NIC first, primary address first, deduplicated", sdkInstance(func(in *ecs.Instance) {
			in.NetworkInterfaces.NetworkInterface = []ecs.NetworkInterface{
				nic("Secondary", ecs.PrivateIpSet{PrivateIpAddress: "172.16.1.20", Primary: true}, ecs.PrivateIpSet{PrivateIpAddress: "172.16.1.21"}),
				nic("Primary", ecs.PrivateIpSet{PrivateIpAddress: "172.16.0.11"}, ecs.PrivateIpSet{PrivateIpAddress: "172.16.0.10", Primary: true}),
			}
		}), want(func(w *asset.Instance) {
			w.PrivateIPs = []string{"172.16.0.10", "172.16.0.11", "172.16.1.20", "172.16.1.21"}
		})},
		{"a NIC without sets contributes its PrimaryIpAddress", sdkInstance(func(in *ecs.Instance) {
			n := nic("Secondary")
			n.PrimaryIpAddress = "172.16.2.5"
			in.NetworkInterfaces.NetworkInterface = append(in.NetworkInterfaces.NetworkInterface, n)
		}), want(func(w *asset.Instance) { w.PrivateIPs = []string{"172.16.0.10", "172.16.2.5"} })},
		{"classic network: InnerIpAddress", sdkInstance(func(in *ecs.Instance) {
			in.VpcAttributes = ecs.VpcAttributes{}
			in.NetworkInterfaces.NetworkInterface = nil
			in.InnerIpAddress.IpAddress = []string{"10.1.2.3"}
		}), want(func(w *asset.Instance) { w.PrivateIPs, w.VPCID = []string{"10.1.2.3"}, "" })},
		{"stopped", sdkInstance(func(in *ecs.Instance) { in.Status = "Stopped" }),
			want(func(w *asset.Instance) { w.Status, w.State = "Stopped", asset.Stopped })},
		{"starting is transitional", sdkInstance(func(in *ecs.Instance) { in.Status = "Starting" }),
			want(func(w *asset.Instance) { w.Status, w.State = "Starting", asset.Transitional })},
		{"tags: TagKey/TagValue, Key/Value fallback, a tag without value, blank keys skipped", sdkInstance(func(in *ecs.Instance) {
			in.Tags.Tag = []ecs.Tag{{TagKey: "env", TagValue: "prod"}, {Key: "team", Value: "infra"}, {TagKey: "legacy"}, {TagKey: " ", TagValue: "x"}}
		}), want(func(w *asset.Instance) { w.Tags = map[string]string{"env": "prod", "team": "infra", "legacy": ""} })},
		{"no tags", sdkInstance(func(in *ecs.Instance) { in.Tags.Tag = nil }), want(func(w *asset.Instance) { w.Tags = nil })},
		{"Hostname fallback, unparsable time left zero", sdkInstance(func(in *ecs.Instance) { in.HostName, in.Hostname, in.CreationTime = "", "h-2", "yesterday" }),
			want(func(w *asset.Instance) { w.Hostname, w.CreatedAt = "h-2", time.Time{} })},
		{"unpublishable values repaired, instance kept", sdkInstance(func(in *ecs.Instance) {
			in.InstanceName = "web\x00-1\n"
			in.PublicIpAddress.IpAddress = []string{"not-an-ip", " 47.1.2.3 ", ""}
			in.EipAddress.IpAddress = "garbage"
			in.VpcAttributes.PrivateIpAddress.IpAddress = []string{"::ffff:172.16.0.10"}
		}), want(func(w *asset.Instance) { w.Name, w.PublicIPs = "web-1", []string{"47.1.2.3"} })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := MapInstance(tc.in, "acct-1", "cn-hangzhou")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("MapInstance:\n got  %+v\n want %+v", got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("mapped instance does not validate: %v", err)
			}
		})
	}
}

// An instance whose id or status cannot be published is mapped as is;
// Validate (and so List) refuses it rather than dropping it.
func TestMapInstanceKeepsIdentityAsReturned(t *testing.T) {
	got := MapInstance(sdkInstance(func(in *ecs.Instance) { in.InstanceId, in.Status = "", "" }), "acct-1", "cn-hangzhou")
	if got.InstanceID != "" || got.State != asset.Transitional {
		t.Fatalf("got %+v", got)
	}
	if err := got.Validate(); err == nil {
		t.Fatal("an instance without id validated")
	}
}
