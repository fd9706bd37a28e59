package asset

import "strings"

// OSType is the operating-system family that decides the JumpServer platform
// and protocol: Linux (ssh/22) or Windows (rdp/3389).
type OSType string

const (
	Linux   OSType = "linux"
	Windows OSType = "windows"
	// UnknownOS: no source said. The mapping decides the default (Linux, as
	// the old tool did) — an unknown OS is never guessed from a substring.
	UnknownOS OSType = "unknown"
)

// Valid reports whether t is one of the three values.
func (t OSType) Valid() bool { return t == Linux || t == Windows || t == UnknownOS }

// DetectOS decides the OS family of an instance.
//
// The cloud's OS-type field (Aliyun OSType, Huawei metadata.os_type) wins
// when it names a family. Otherwise the OS name, then the image name, then
// the instance name are read in that order and the first one that names
// exactly one family decides.
//
// Reading is word-based: a text is lower-cased and split on every character
// that is not an ASCII letter, so "win2019", "Win-AD" and "windows数据中心版"
// all yield the word "win" or "windows", while "twin-db", "winery-app",
// "darwin-build" and "erwin" yield no Windows word. Windows words are "win",
// "winsrv", "winsvr", "winserver" and any word starting with "windows";
// Linux words are the family name and common distributions (centos, ubuntu,
// debian, rhel, euleros, anolis…). A text carrying words of both families
// decides nothing.
func DetectOS(osTypeField, osName, imageName, instanceName string) OSType {
	for _, text := range []string{osTypeField, osName, imageName, instanceName} {
		if t := classify(text); t != UnknownOS {
			return t
		}
	}
	return UnknownOS
}

var linuxWords = map[string]bool{
	"linux": true, "gnu": true, "centos": true, "ubuntu": true, "debian": true,
	"rhel": true, "redhat": true, "fedora": true, "suse": true, "opensuse": true,
	"sles": true, "alinux": true, "anolis": true, "anolisos": true, "rocky": true,
	"rockylinux": true, "almalinux": true, "euleros": true, "openeuler": true,
	"hce": true, "kylin": true, "uos": true, "deepin": true, "coreos": true,
	"gentoo": true, "tencentos": true, "freebsd": true, "unix": true,
}

var windowsWords = map[string]bool{"win": true, "winsrv": true, "winsvr": true, "winserver": true}

// classify returns the one family the words of text name, or UnknownOS.
func classify(text string) OSType {
	var win, lin bool
	for _, w := range words(text) {
		switch {
		case windowsWords[w] || strings.HasPrefix(w, "windows"):
			win = true
		case linuxWords[w] || strings.HasSuffix(w, "linux"):
			lin = true
		}
	}
	switch {
	case win && !lin:
		return Windows
	case lin && !win:
		return Linux
	}
	return UnknownOS
}

// words lower-cases s and splits it on every rune that is not an ASCII letter.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r < 'a' || r > 'z' })
}
