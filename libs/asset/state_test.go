package asset

import "testing"

func TestNormalizeState(t *testing.T) {
	tests := []struct {
		p    Provider
		raw  string
		want State
	}{
		{Aliyun, "Running", Running},
		{Aliyun, "Stopped", Stopped},
		{Aliyun, "Pending", Transitional},
		{Aliyun, "Starting", Transitional},
		{Aliyun, "Stopping", Transitional},
		{Aliyun, " running ", Running},
		{HuaweiCloud, "ACTIVE", Running},
		{HuaweiCloud, "SHUTOFF", Stopped},
		{HuaweiCloud, "SUSPENDED", Stopped},
		{HuaweiCloud, "SHELVED_OFFLOADED", Stopped},
		{HuaweiCloud, "BUILD", Transitional},
		{HuaweiCloud, "REBOOT", Transitional},
		{HuaweiCloud, "RESIZE", Transitional},
		{HuaweiCloud, "ERROR", Transitional},
		{HuaweiCloud, "DELETED", Transitional},
		{HuaweiCloud, "", Transitional},
		{HuaweiCloud, "SOMETHING_NEW", Transitional},
	}
	for _, tt := range tests {
		if got := NormalizeState(tt.p, tt.raw); got != tt.want {
			t.Errorf("NormalizeState(%s, %q) = %q, want %q", tt.p, tt.raw, got, tt.want)
		}
	}
}

func TestParseProvider(t *testing.T) {
	for in, want := range map[string]Provider{
		"aliyun": Aliyun, "Aliyun": Aliyun, "阿里云": Aliyun, " alibabacloud ": Aliyun,
		"huaweicloud": HuaweiCloud, "HuaweiCloud": HuaweiCloud, "华为云": HuaweiCloud,
	} {
		got, err := ParseProvider(in)
		if err != nil || got != want {
			t.Errorf("ParseProvider(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "aws", "腾讯云"} {
		if _, err := ParseProvider(in); err == nil {
			t.Errorf("ParseProvider(%q) accepted", in)
		}
	}
	if Aliyun.DisplayName() != "阿里云" || HuaweiCloud.DisplayName() != "华为云" {
		t.Error("display names changed")
	}
}
