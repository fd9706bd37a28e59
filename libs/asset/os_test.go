package asset

import "testing"

func TestDetectOS(t *testing.T) {
	tests := []struct {
		name                           string
		field, osName, image, instance string
		want                           OSType
	}{
		// The cloud's field wins.
		{name: "aliyun field linux", field: "linux", want: Linux},
		{name: "aliyun field windows", field: "windows", want: Windows},
		{name: "huawei field capitalised", field: "Linux", want: Linux},
		{name: "huawei field Windows", field: "Windows", want: Windows},
		{name: "field upper case", field: "WINDOWS", want: Windows},
		{name: "field padded", field: "  linux ", want: Linux},
		{name: "field linux beats windows name", field: "linux", instance: "win-ad-01", want: Linux},
		{name: "field linux beats windows os name", field: "linux", osName: "Windows Server 2019", want: Linux},
		{name: "field windows beats linux name", field: "windows", instance: "centos-box", want: Windows},
		{name: "field windows with linux-looking image", field: "windows", image: "centos_7_9_x64", want: Windows},
		{name: "unrecognised field falls back", field: "other", osName: "Windows Server 2022", want: Windows},
		{name: "empty field falls back to os name", osName: "CentOS 7.9 64位", want: Linux},

		// OS names as the clouds send them.
		{name: "aliyun windows chinese", osName: "Windows Server 2019 数据中心版 64位中文版", want: Windows},
		{name: "aliyun windows english", osName: "Windows Server 2022 Datacenter 64bit Chinese Edition", want: Windows},
		{name: "windows glued to chinese", osName: "windows数据中心版", want: Windows},
		{name: "aliyun linux", osName: "Alibaba Cloud Linux  3.2104 LTS 64位", want: Linux},
		{name: "ubuntu", osName: "Ubuntu  22.04 64位", want: Linux},
		{name: "debian", osName: "Debian 12.1 64bit", want: Linux},
		{name: "rhel", osName: "Red Hat Enterprise Linux 8.6", want: Linux},
		{name: "euleros", osName: "EulerOS 2.5 64bit", want: Linux},
		{name: "huawei cloud euler", osName: "Huawei Cloud EulerOS 2.0 标准版 64位", want: Linux},
		{name: "openeuler", osName: "openEuler 22.03", want: Linux},
		{name: "anolis", osName: "Anolis OS 8.8", want: Linux},
		{name: "rocky", osName: "Rocky Linux 9", want: Linux},
		{name: "almalinux glued", osName: "almalinux-9", want: Linux},
		{name: "kylin", osName: "Kylin V10 SP2", want: Linux},
		{name: "freebsd ssh family", osName: "FreeBSD 13.1", want: Linux},
		{name: "os name beats image", osName: "CentOS 7", image: "win2019dc", want: Linux},
		{name: "os name beats instance name", osName: "Windows Server 2016", instance: "ubuntu-jump", want: Windows},

		// Image names.
		{name: "aliyun windows image id", image: "win2019dc_x64_dtc_zh-cn_40G_alibase.vhd", want: Windows},
		{name: "aliyun linux image id", image: "centos_7_9_x64_20G_alibase_20240628.vhd", want: Linux},
		{name: "huawei image name", image: "Windows Server 2019 Standard 64bit", want: Windows},
		{name: "image beats instance name", image: "ubuntu_22_04_x64", instance: "win-db", want: Linux},
		{name: "uninformative image falls through", image: "img-0042abcd", instance: "win-ad", want: Windows},

		// Instance names: the old tool's defects.
		{name: "twin-db is not windows", instance: "twin-db", want: UnknownOS},
		{name: "winner-api is not windows", instance: "winner-api", want: UnknownOS},
		{name: "winery-app is not windows", instance: "winery-app", want: UnknownOS},
		{name: "darwin-build is not windows", instance: "darwin-build", want: UnknownOS},
		{name: "erwin is not windows", instance: "erwin", want: UnknownOS},
		{name: "edwina is not windows", instance: "edwina-01", want: UnknownOS},
		{name: "twin with linux field", field: "linux", instance: "twin-db", want: Linux},
		{name: "prod-twin-db-01", instance: "prod-twin-db-01", want: UnknownOS},
		{name: "wind farm", instance: "wind-farm", want: UnknownOS},
		{name: "window cleaner (no s)", instance: "window-cleaner", want: UnknownOS},

		// Instance names that do say Windows.
		{name: "win-ad", instance: "win-ad", want: Windows},
		{name: "WIN-IIS upper", instance: "WIN-IIS-01", want: Windows},
		{name: "win2019", instance: "win2019", want: Windows},
		{name: "win10 inside name", instance: "desk-win10-07", want: Windows},
		{name: "win_underscore", instance: "ops_win_jump", want: Windows},
		{name: "win dot", instance: "jump.win.corp", want: Windows},
		{name: "windows prefix word", instance: "windowsserver-01", want: Windows},
		{name: "windows2016", instance: "Windows2016-DC", want: Windows},
		{name: "winsrv", instance: "winsrv-03", want: Windows},
		{name: "chinese around win", instance: "生产win服务器", want: Windows},
		{name: "chinese name no hint", instance: "生产数据库", want: UnknownOS},
		{name: "linux word in name", instance: "centos-web-01", want: Linux},

		// Conflicts decide nothing at that level.
		{name: "both families in name", instance: "win-to-linux-migration", want: UnknownOS},
		{name: "both in os name fall to image", osName: "Windows Subsystem for Linux", image: "ubuntu", want: Linux},

		// Nothing.
		{name: "all empty", want: UnknownOS},
		{name: "only punctuation", instance: "--__..", want: UnknownOS},
		{name: "generic name", instance: "web-01", want: UnknownOS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectOS(tt.field, tt.osName, tt.image, tt.instance); got != tt.want {
				t.Errorf("DetectOS(%q, %q, %q, %q) = %q, want %q", tt.field, tt.osName, tt.image, tt.instance, got, tt.want)
			}
		})
	}
}

func FuzzDetectOSNeverSubstring(f *testing.F) {
	for _, s := range []string{"twin", "winery", "darwin", "erwin", "kiwi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// A name made of letters glued in front of "win" is never Windows.
		got := DetectOS("", "", "", "x"+s+"win")
		for _, w := range words("x" + s + "win") {
			if windowsWords[w] || len(w) >= 7 && w[:7] == "windows" {
				return // the fuzzer built a real Windows word elsewhere
			}
		}
		if got == Windows {
			t.Fatalf("%q detected as Windows", "x"+s+"win")
		}
	})
}

func TestOSTypeValid(t *testing.T) {
	for _, v := range []OSType{Linux, Windows, UnknownOS} {
		if !v.Valid() {
			t.Errorf("%q not valid", v)
		}
	}
	if OSType("Linux").Valid() || OSType("").Valid() {
		t.Error("non-canonical os type accepted")
	}
}
