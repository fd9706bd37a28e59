package huawei

import (
	"reflect"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2/model"

	"github.com/jmssync/jmssync/libs/asset"
)

var (
	fixed    = model.GetServerAddressOSEXTIPStypeEnum().FIXED
	floating = model.GetServerAddressOSEXTIPStypeEnum().FLOATING
)

func addr(typ model.ServerAddressOSEXTIPStype, version, ip string, primary bool) model.ServerAddress {
	return model.ServerAddress{Version: version, Addr: ip, OSEXTIPStype: &typ, Primary: &primary}
}

// sdkServer builds a server the way the SDK decodes one.
func sdkServer(edit func(*model.ServerDetail)) model.ServerDetail {
	tags := []string{"env=prod", "owner=ops"}
	s := model.ServerDetail{
		Id: "9f6d2d9e-1111-2222-3333-444455556666", Name: "ecs-web-01", Status: "ACTIVE",
		OSEXTSTSvmState: "active", OSEXTSTSpowerState: 1, OSEXTAZavailabilityZone: "cn-north-4a",
		OSEXTSRVATTRhostname: "ecs-web-01", Created: "2023-05-10T02:03:04Z", TenantId: "pid",
		Flavor:   &model.ServerFlavor{Id: "s6.large.2", Name: "s6.large.2", Vcpus: "2", Ram: "4096", Disk: "0"},
		Metadata: map[string]string{"os_type": "Linux", "image_name": "CentOS 7.9 64bit", "vpc_id": "vpc-1", "charging_mode": "0"},
		Addresses: map[string][]model.ServerAddress{"vpc-1": {
			addr(fixed, "4", "192.168.0.10", true),
		}},
		Tags: &tags,
	}
	if edit != nil {
		edit(&s)
	}
	return s
}

func TestMapServer(t *testing.T) {
	created := time.Date(2023, 5, 10, 2, 3, 4, 0, time.UTC)
	base := asset.Instance{
		Provider: asset.HuaweiCloud, AccountID: "acct-1", Region: "cn-north-4", Zone: "cn-north-4a",
		InstanceID: "9f6d2d9e-1111-2222-3333-444455556666", Name: "ecs-web-01", Hostname: "ecs-web-01",
		OSType: asset.Linux, OSName: "CentOS 7.9 64bit", ImageName: "CentOS 7.9 64bit", State: asset.Running,
		Status: "ACTIVE", PrivateIPs: []string{"192.168.0.10"}, VPCID: "vpc-1",
		Tags: map[string]string{"env": "prod", "owner": "ops"}, InstanceType: "s6.large.2", CreatedAt: created,
	}
	want := func(edit func(*asset.Instance)) asset.Instance {
		w := base
		w.PrivateIPs = append([]string(nil), base.PrivateIPs...)
		w.Tags = map[string]string{"env": "prod", "owner": "ops"}
		if edit != nil {
			edit(&w)
		}
		return w
	}
	for _, tc := range []struct {
		name string
		in   model.ServerDetail
		want asset.Instance
	}{
		{"plain Linux", sdkServer(nil), want(nil)},
		{"a Linux server named twin-db is Linux", sdkServer(func(s *model.ServerDetail) { s.Name, s.OSEXTSRVATTRhostname = "twin-db", "twin-db" }),
			want(func(w *asset.Instance) { w.Name, w.Hostname = "twin-db", "twin-db" })},
		{"twin-db without os_type: the image name decides", sdkServer(func(s *model.ServerDetail) {
			s.Name = "twin-db"
			delete(s.Metadata, "os_type")
		}), want(func(w *asset.Instance) { w.Name = "twin-db" })},
		{"nothing but the name twin-db: unknown, never Windows", sdkServer(func(s *model.ServerDetail) {
			s.Name = "twin-db"
			s.Metadata = map[string]string{"image_name": "golden-image-2024", "vpc_id": "vpc-1"}
		}), want(func(w *asset.Instance) {
			w.Name, w.OSType, w.OSName, w.ImageName = "twin-db", asset.UnknownOS, "golden-image-2024", "golden-image-2024"
		})},
		{"a name that says win decides when nothing else does", sdkServer(func(s *model.ServerDetail) {
			s.Name = "win-ad-01"
			s.Metadata = map[string]string{"image_name": "golden-image-2024", "vpc_id": "vpc-1"}
		}), want(func(w *asset.Instance) {
			w.Name, w.OSType, w.OSName, w.ImageName = "win-ad-01", asset.Windows, "golden-image-2024", "golden-image-2024"
		})},
		{"Windows from os_type", sdkServer(func(s *model.ServerDetail) {
			s.Name = "ad-01"
			s.Metadata["os_type"], s.Metadata["image_name"] = "Windows", "Windows Server 2019 Standard 64bit"
		}), want(func(w *asset.Instance) {
			w.Name, w.OSType, w.OSName, w.ImageName = "ad-01", asset.Windows, "Windows Server 2019 Standard 64bit", "Windows Server 2019 Standard 64bit"
		})},
		{"Windows from the image name when os_type is missing", sdkServer(func(s *model.ServerDetail) {
			delete(s.Metadata, "os_type")
			s.Metadata["image_name"] = "Windows Server 2022 Datacenter 64bit"
		}), want(func(w *asset.Instance) {
			w.OSType, w.OSName, w.ImageName = asset.Windows, "Windows Server 2022 Datacenter 64bit", "Windows Server 2022 Datacenter 64bit"
		})},
		{"SHUTOFF is stopped", sdkServer(func(s *model.ServerDetail) {
			s.Status, s.OSEXTSTSvmState, s.OSEXTSTSpowerState = "SHUTOFF", "stopped", 4
		}),
			want(func(w *asset.Instance) { w.Status, w.State = "SHUTOFF", asset.Stopped })},
		{"SHUTOFF powering-on is transitional", sdkServer(func(s *model.ServerDetail) { s.Status, s.OSEXTSTStaskState = "SHUTOFF", "powering-on" }),
			want(func(w *asset.Instance) { w.Status, w.State = "SHUTOFF", asset.Transitional })},
		{"ACTIVE powering-off is transitional", sdkServer(func(s *model.ServerDetail) { s.OSEXTSTStaskState = "powering-off" }),
			want(func(w *asset.Instance) { w.State = asset.Transitional })},
		{"BUILD is transitional", sdkServer(func(s *model.ServerDetail) { s.Status, s.OSEXTSTStaskState = "BUILD", "spawning" }),
			want(func(w *asset.Instance) { w.Status, w.State = "BUILD", asset.Transitional })},
		{"no address at all", sdkServer(func(s *model.ServerDetail) { s.Addresses = nil }),
			want(func(w *asset.Instance) { w.PrivateIPs = nil })},
		{"no private IP, a floating IP only", sdkServer(func(s *model.ServerDetail) {
			s.Addresses = map[string][]model.ServerAddress{"vpc-1": {addr(floating, "4", "121.36.1.2", true)}}
		}), want(func(w *asset.Instance) { w.PrivateIPs, w.EIP = nil, "121.36.1.2" })},
		{"floating IP: the first is the EIP, others public", sdkServer(func(s *model.ServerDetail) {
			s.Addresses["vpc-1"] = append(s.Addresses["vpc-1"],
				addr(floating, "4", "121.36.1.2", true), addr(floating, "4", "121.36.1.3", true), addr(floating, "4", "121.36.1.2", true))
		}), want(func(w *asset.Instance) { w.EIP, w.PublicIPs = "121.36.1.2", []string{"121.36.1.3"} })},
		{"several NICs and VPCs: primary NIC first, then metadata.vpc_id's key, then the others sorted", sdkServer(func(s *model.ServerDetail) {
			s.Metadata["vpc_id"] = "vpc-b"
			s.Addresses = map[string][]model.ServerAddress{
				"vpc-c": {addr(fixed, "4", "10.3.0.5", false)},
				"vpc-a": {addr(fixed, "4", "10.1.0.5", false), addr(fixed, "4", "10.1.0.6", false)},
				"vpc-b": {
					addr(fixed, "4", "10.2.0.9", false),
					addr(fixed, "4", "10.2.0.5", true), addr(fixed, "4", "10.2.0.6", true),
					addr(fixed, "6", "240e:3b7::5", true),
					addr(floating, "4", "121.36.1.2", true),
				},
			}
		}), want(func(w *asset.Instance) {
			w.PrivateIPs = []string{"10.2.0.5", "10.2.0.6", "10.2.0.9", "10.1.0.5", "10.1.0.6", "10.3.0.5"}
			w.EIP, w.VPCID = "121.36.1.2", "vpc-b"
		})},
		{"no metadata.vpc_id: the primary NIC's key", sdkServer(func(s *model.ServerDetail) {
			delete(s.Metadata, "vpc_id")
			s.Addresses = map[string][]model.ServerAddress{
				"vpc-a": {addr(fixed, "4", "10.1.0.5", false)},
				"vpc-z": {addr(fixed, "4", "10.9.0.5", true)},
			}
		}), want(func(w *asset.Instance) { w.PrivateIPs, w.VPCID = []string{"10.9.0.5", "10.1.0.5"}, "vpc-z" })},
		{"IPv6 only: no private IP", sdkServer(func(s *model.ServerDetail) {
			s.Addresses = map[string][]model.ServerAddress{"vpc-1": {addr(fixed, "6", "240e:3b7::5", true)}}
		}), want(func(w *asset.Instance) { w.PrivateIPs = nil })},
		{"tags: without '=', with '=' in the value, blank ones skipped", sdkServer(func(s *model.ServerDetail) {
			tags := []string{"env=prod", "legacy", "url=a=b", " ", "=nokey", "team= infra "}
			s.Tags = &tags
		}), want(func(w *asset.Instance) {
			w.Tags = map[string]string{"env": "prod", "legacy": "", "url": "a=b", "team": "infra"}
		})},
		{"no tags", sdkServer(func(s *model.ServerDetail) { s.Tags = nil }), want(func(w *asset.Instance) { w.Tags = nil })},
		{"flavor name when the id is empty; no flavor", sdkServer(func(s *model.ServerDetail) { s.Flavor = &model.ServerFlavor{Name: "c7.xlarge.2"} }),
			want(func(w *asset.Instance) { w.InstanceType = "c7.xlarge.2" })},
		{"nil flavor, unparsable time left zero", sdkServer(func(s *model.ServerDetail) { s.Flavor, s.Created = nil, "yesterday" }),
			want(func(w *asset.Instance) { w.InstanceType, w.CreatedAt = "", time.Time{} })},
		{"nil metadata and addresses", sdkServer(func(s *model.ServerDetail) { s.Metadata, s.Addresses = nil, nil }),
			want(func(w *asset.Instance) {
				w.OSType, w.OSName, w.ImageName, w.PrivateIPs, w.VPCID = asset.UnknownOS, "", "", nil, ""
			})},
		{"unpublishable values repaired, server kept", sdkServer(func(s *model.ServerDetail) {
			s.Name = "web\x00-1\n"
			s.Addresses = map[string][]model.ServerAddress{"vpc-1": {
				addr(fixed, "4", "not-an-ip", true), addr(fixed, "4", " 192.168.0.10 ", true), addr(fixed, "", "192.168.0.11", true),
				addr(floating, "4", "garbage", true), {Version: "4", Addr: "192.168.0.99"}, // no type: neither private nor public
			}}
		}), want(func(w *asset.Instance) { w.Name, w.PrivateIPs = "web-1", []string{"192.168.0.10", "192.168.0.11"} })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := MapServer(tc.in, "acct-1", "cn-north-4")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("MapServer:\n got  %+v\n want %+v", got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("mapped server does not validate: %v", err)
			}
		})
	}
}

// Map iteration order never shows: the same server maps the same way.
func TestMapServerIsDeterministic(t *testing.T) {
	s := sdkServer(func(s *model.ServerDetail) {
		s.Addresses = map[string][]model.ServerAddress{}
		for _, k := range []string{"vpc-e", "vpc-d", "vpc-c", "vpc-b", "vpc-a"} {
			s.Addresses[k] = []model.ServerAddress{addr(fixed, "4", "10.0.0."+k[4:5], false), addr(floating, "4", "121.0.0."+k[4:5], false)}
		}
		delete(s.Metadata, "vpc_id")
	})
	first := MapServer(s, "a", "r")
	for range 50 {
		if got := MapServer(s, "a", "r"); !reflect.DeepEqual(got, first) {
			t.Fatalf("not deterministic:\n%+v\n%+v", got, first)
		}
	}
}

// A server whose id or status cannot be published is mapped as is;
// Validate (and so List) refuses it rather than dropping it.
func TestMapServerKeepsIdentityAsReturned(t *testing.T) {
	got := MapServer(sdkServer(func(s *model.ServerDetail) { s.Id, s.Status = "", "" }), "acct-1", "cn-north-4")
	if got.InstanceID != "" || got.State != asset.Transitional {
		t.Fatalf("got %+v", got)
	}
	if err := got.Validate(); err == nil {
		t.Fatal("a server without id validated")
	}
}
