package asset

import (
	"fmt"
	"strings"
)

// Provider names a cloud. The values are the wire form (JSON, subjects, keys).
type Provider string

const (
	Aliyun      Provider = "aliyun"
	HuaweiCloud Provider = "huaweicloud"
)

// Providers lists every supported provider.
func Providers() []Provider { return []Provider{Aliyun, HuaweiCloud} }

// Valid reports whether p is a supported provider.
func (p Provider) Valid() bool { return p == Aliyun || p == HuaweiCloud }

// DisplayName is the cloud's name as the old tool wrote it in node paths
// (阿里云, 华为云). Unknown providers return their own string.
func (p Provider) DisplayName() string {
	switch p {
	case Aliyun:
		return "阿里云"
	case HuaweiCloud:
		return "华为云"
	}
	return string(p)
}

// ParseProvider accepts the wire names (any case) and the old tool's cloud
// types 阿里云 and 华为云, plus a few common aliases.
func ParseProvider(s string) (Provider, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "aliyun", "alibaba", "alibabacloud", "alicloud", "阿里云":
		return Aliyun, nil
	case "huaweicloud", "huawei", "hwcloud", "华为云":
		return HuaweiCloud, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownProvider, s)
}
