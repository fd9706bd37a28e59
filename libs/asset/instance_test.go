package asset

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func sample() Instance {
	return Instance{
		Provider: Aliyun, AccountID: "prod", Region: "cn-hangzhou", Zone: "cn-hangzhou-h",
		InstanceID: "i-bp1abc", Name: "web-1", Hostname: "web-1",
		OSType: Linux, OSName: "CentOS 7.9 64位", State: Running, Status: "Running",
		PrivateIPs: []string{"172.16.0.10"}, PublicIPs: []string{"47.1.2.3"},
		VPCID: "vpc-bp1x", Tags: map[string]string{"env": "prod"}, InstanceType: "ecs.g6.large",
		CreatedAt: time.Date(2023, 1, 1, 8, 0, 0, 0, time.UTC),
	}
}

func TestNormalize(t *testing.T) {
	in := Instance{
		Provider: " Aliyun ", AccountID: " prod ", Region: "cn-hangzhou", InstanceID: " i-1 ",
		Name: "twin-db\xff", Status: "Stopped",
		PrivateIPs: []string{"10.0.0.1", "", " 10.0.0.2", "10.0.0.1"},
		PublicIPs:  []string{"47.1.1.1", "47.2.2.2"}, EIP: "47.2.2.2",
		Tags:      map[string]string{" env ": " prod ", " ": "x"},
		CreatedAt: time.Date(2023, 1, 1, 16, 0, 0, 0, time.FixedZone("CST", 8*3600)),
	}
	in.Normalize()
	if in.Provider != Aliyun || in.AccountID != "prod" || in.InstanceID != "i-1" {
		t.Errorf("text not trimmed: %+v", in)
	}
	if in.Name != "twin-db\uFFFD" {
		t.Errorf("invalid UTF-8 kept: %q", in.Name)
	}
	if strings.Join(in.PrivateIPs, ",") != "10.0.0.1,10.0.0.2" || strings.Join(in.PublicIPs, ",") != "47.1.1.1" {
		t.Errorf("ips = %v %v", in.PrivateIPs, in.PublicIPs)
	}
	if len(in.Tags) != 1 || in.Tags["env"] != "prod" {
		t.Errorf("tags = %v", in.Tags)
	}
	if in.CreatedAt.Location() != time.UTC || in.CreatedAt.Hour() != 8 {
		t.Errorf("created_at = %v", in.CreatedAt)
	}
	if in.State != Stopped || in.OSType != UnknownOS {
		t.Errorf("state %q os %q", in.State, in.OSType)
	}
	if err := in.Validate(); err != nil {
		t.Errorf("normalised instance invalid: %v", err)
	}
}

func TestInstanceValidate(t *testing.T) {
	good := sample()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(*Instance)
		field  string
	}{
		{"no provider", func(i *Instance) { i.Provider = "" }, "provider"},
		{"no account", func(i *Instance) { i.AccountID = "" }, "account_id"},
		{"no region", func(i *Instance) { i.Region = " " }, "region"},
		{"no id", func(i *Instance) { i.InstanceID = "" }, "instance_id"},
		{"no status", func(i *Instance) { i.Status = "" }, "status"},
		{"bad os", func(i *Instance) { i.OSType = "Linux" }, "os_type"},
		{"bad state", func(i *Instance) { i.State = "Running" }, "state"},
		{"bad private ip", func(i *Instance) { i.PrivateIPs = []string{"10.0.0.300"} }, "private_ips[0]"},
		{"bad eip", func(i *Instance) { i.EIP = "nope" }, "eip"},
		{"control char", func(i *Instance) { i.Name = "a\x07b" }, "name"},
		{"bad utf8", func(i *Instance) { i.Hostname = "\xff" }, "hostname"},
		{"empty tag key", func(i *Instance) { i.Tags = map[string]string{"": "x"} }, "tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := sample()
			tt.mutate(&in)
			err := in.Validate()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field+":") {
				t.Fatalf("err = %v, want ErrInvalid naming %s", err, tt.field)
			}
		})
	}
}

func TestInstanceJSONCompact(t *testing.T) {
	in := Instance{Provider: HuaweiCloud, AccountID: "a", Region: "r", InstanceID: "i", OSType: UnknownOS, State: Transitional, Status: "BUILD"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"provider":"huaweicloud","account_id":"a","region":"r","instance_id":"i","os_type":"unknown","state":"transitional","status":"BUILD"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestTagsFromStrings(t *testing.T) {
	got := TagsFromStrings([]string{"env=prod", "owner=ops=team", "flag", "", "=x", "env=dev"})
	want := map[string]string{"env": "dev", "owner": "ops=team", "flag": ""}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if TagsFromStrings(nil) != nil {
		t.Error("nil input should give nil")
	}
}
