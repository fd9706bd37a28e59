package cloudinv

import (
	"fmt"
	"strings"
	"time"
)

// Word lists for generated names. They include the traps the old tool fell
// into: "win" inside a Linux name (twin, winery), Chinese names, and
// duplicates across instances.
var (
	linuxRoles   = []string{"web", "api", "db", "cache", "mq", "twin-db", "winery-app", "job", "gateway", "es"}
	windowsRoles = []string{"win-ad", "win-iis", "sqlserver", "rdp-jump", "ad"}
	chineseRoles = []string{"数据库", "应用服务器", "测试机", "跳板机"}
	envs         = []string{"prod", "test", "dev"}
	teams        = []string{"infra", "payments", "search", "data"}

	aliyunLinuxOS = [][2]string{
		{"CentOS 7.9 64位", "CentOS 7.9 64 bit"},
		{"Ubuntu 22.04 64位", "Ubuntu 22.04 64 bit"},
		{"Alibaba Cloud Linux 3.2104 LTS 64位", "Alibaba Cloud Linux 3.2104 LTS 64 bit"},
		{"Debian 12.5 64位", "Debian 12.5 64 bit"},
	}
	aliyunWindowsOS = [][2]string{
		{"Windows Server 2019 数据中心版 64位中文版", "Windows Server 2019 Datacenter 64bit Chinese Edition"},
		{"Windows Server 2022 数据中心版 64位中文版", "Windows Server 2022 Datacenter 64bit Chinese Edition"},
	}
	huaweiLinuxOS   = []string{"CentOS 7.9 64bit", "Ubuntu 22.04 server 64bit", "EulerOS 2.9 64bit", "Huawei Cloud EulerOS 2.0 64bit"}
	huaweiWindowsOS = []string{"Windows Server 2019 Standard 64bit", "Windows Server 2022 Datacenter 64bit"}

	aliyunTypes = []struct {
		name     string
		cpu, mem int
	}{{"ecs.g6.large", 2, 8192}, {"ecs.c6.xlarge", 4, 8192}, {"ecs.r6.2xlarge", 8, 65536}, {"ecs.t6-c1m1.large", 2, 2048}}
	huaweiTypes = []struct {
		name     string
		cpu, mem int
	}{{"s6.large.2", 2, 4096}, {"c7.xlarge.2", 4, 8192}, {"m7.2xlarge.8", 8, 65536}, {"t6.small.1", 1, 1024}}
)

const alnum = "0123456789abcdefghijklmnopqrstuvwxyz"

func (inv *Inventory) pick(n int) int { return inv.rng.IntN(n) }

func (inv *Inventory) percent(p int) bool { return inv.rng.IntN(100) < p }

func (inv *Inventory) newID(region string) string {
	if inv.provider == Huawei {
		var b [16]byte
		for i := range b {
			b[i] = byte(inv.rng.Uint32())
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}
	// Aliyun ids: "i-" + a region-ish two-letter prefix + 18 characters.
	var sb strings.Builder
	sb.WriteString("i-")
	if len(region) >= 5 {
		sb.WriteString(region[3:5])
	} else {
		sb.WriteString("xx")
	}
	for i := 0; i < 18; i++ {
		sb.WriteByte(alnum[inv.pick(len(alnum))])
	}
	return sb.String()
}

func (inv *Inventory) privateIP() string {
	// Unique across the inventory: 10.x.y.z from a counter, skipping .0 and .255.
	inv.seq++ // keep ids and ips distinct even when called outside addLocked
	n := uint32(inv.seq) + 256
	for n&0xff == 0 || n&0xff == 255 {
		n++
		inv.seq++
	}
	return fmt.Sprintf("10.%d.%d.%d", (n>>16)&0xff, (n>>8)&0xff, n&0xff)
}

func (inv *Inventory) publicIP() string {
	n := inv.rng.Uint32()
	return fmt.Sprintf("47.%d.%d.%d", (n>>16)&0xff, (n>>8)&0xff, 1+n&0xfd)
}

func hostname(name string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			sb.WriteRune(r)
		default:
			sb.WriteByte('-')
		}
	}
	h := strings.Trim(sb.String(), "-")
	if h == "" {
		h = "host"
	}
	return h
}

func (inv *Inventory) mac() string {
	n := inv.rng.Uint64()
	return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", byte(n), byte(n>>8), byte(n>>16))
}

// generate makes the i-th instance of a region. Edge cases come at fixed
// strides so that every region of a few hundred instances has all of them.
func (inv *Inventory) generate(region string, i int, spec Spec) *Instance {
	in := &Instance{ID: inv.newID(region), Region: region, State: Running}
	windows := inv.percent(spec.WindowsPercent)
	role := linuxRoles[inv.pick(len(linuxRoles))]
	if windows {
		role = windowsRoles[inv.pick(len(windowsRoles))]
	}
	env := envs[inv.pick(len(envs))]
	switch {
	case i%97 == 13:
		in.Name = fmt.Sprintf("%s-%04d", chineseRoles[inv.pick(len(chineseRoles))], i)
	case i%50 == 49:
		in.Name = fmt.Sprintf("%s-%s-dup", role, env) // several instances share this name
	default:
		in.Name = fmt.Sprintf("%s-%s-%04d", role, env, i)
	}
	in.HostName = hostname(in.Name)
	if inv.provider == Huawei {
		in.Zone = region + string(rune('a'+inv.pick(3)))
		t := huaweiTypes[inv.pick(len(huaweiTypes))]
		in.InstanceType, in.CPU, in.MemoryMiB = t.name, t.cpu, t.mem
		in.EnterpriseProjectID = "0"
		if i%10 == 7 {
			in.EnterpriseProjectID = "ep-" + region
		}
		if windows {
			in.OSType, in.OSName = "windows", huaweiWindowsOS[inv.pick(len(huaweiWindowsOS))]
		} else {
			in.OSType, in.OSName = "linux", huaweiLinuxOS[inv.pick(len(huaweiLinuxOS))]
		}
		in.OSNameEn = in.OSName
		in.ImageID = fmt.Sprintf("img-%08x", inv.rng.Uint32())
	} else {
		in.Zone = region + "-" + string(rune('a'+inv.pick(8)))
		t := aliyunTypes[inv.pick(len(aliyunTypes))]
		in.InstanceType, in.CPU, in.MemoryMiB = t.name, t.cpu, t.mem
		if windows {
			os := aliyunWindowsOS[inv.pick(len(aliyunWindowsOS))]
			in.OSType, in.OSName, in.OSNameEn = "windows", os[0], os[1]
			in.ImageID = "win2019dc_x64_dtc_zh-cn_40G_alibase.vhd"
		} else {
			os := aliyunLinuxOS[inv.pick(len(aliyunLinuxOS))]
			in.OSType, in.OSName, in.OSNameEn = "linux", os[0], os[1]
			in.ImageID = "centos_7_9_x64_20G_alibase_20240628.vhd"
		}
	}
	in.VPCID = fmt.Sprintf("vpc-%s-%d", region, i%3)
	switch r := inv.pick(100); {
	case r < spec.StoppedPercent:
		in.State = Stopped
	case r < spec.StoppedPercent+1:
		in.State = Starting
	case r < spec.StoppedPercent+2:
		in.State = Pending
	}
	nic := NIC{ID: fmt.Sprintf("eni-%s-%d", region, i), MAC: inv.mac(), Primary: true}
	if i%200 != 199 { // one in 200 has no private address at all
		nic.PrivateIPs = []string{inv.privateIP()}
		if i%20 == 3 {
			nic.PrivateIPs = append(nic.PrivateIPs, inv.privateIP()) // secondary address
		}
	}
	if i%33 == 5 {
		nic.IPv6 = []string{fmt.Sprintf("240e:3b7:%x::%x", i, inv.rng.Uint32()&0xffff)}
	}
	in.NICs = []NIC{nic}
	if i%20 == 11 {
		in.NICs = append(in.NICs, NIC{ID: fmt.Sprintf("eni-%s-%d-b", region, i), MAC: inv.mac(), PrivateIPs: []string{inv.privateIP()}})
	}
	switch r := inv.pick(10); {
	case r < 3:
		in.PublicIPs = []string{inv.publicIP()}
	case r < 4:
		in.EIP = inv.publicIP()
	case r < 5 && i%2 == 0:
		in.PublicIPs = []string{inv.publicIP()}
		in.EIP = inv.publicIP()
	}
	if i%9 != 0 { // some instances have no tags
		in.Tags = []Tag{{Key: "env", Value: env, HasValue: true}, {Key: "team", Value: teams[inv.pick(len(teams))], HasValue: true}}
		if i%31 == 1 {
			in.Tags = append(in.Tags, Tag{Key: "legacy"}) // a tag without a value
		}
	}
	if i%15 == 0 {
		in.Description = "由 Terraform 创建"
	}
	in.CreatedAt = spec.Now.Add(-time.Duration(i) * time.Hour).Truncate(time.Minute)
	return in
}
