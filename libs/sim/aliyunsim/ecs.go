package aliyunsim

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

// MaxPageSize is the largest PageSize and MaxResults DescribeInstances accepts.
const MaxPageSize = 100

// TimeFormat is Aliyun's minute-precision UTC time format (yyyy-MM-ddTHH:mmZ).
const TimeFormat = "2006-01-02T15:04Z"

// StatusOf maps a cloudinv state to Aliyun's Status word.
func StatusOf(s cloudinv.State) string {
	switch s {
	case cloudinv.Pending:
		return "Pending"
	case cloudinv.Starting:
		return "Starting"
	case cloudinv.Stopping:
		return "Stopping"
	case cloudinv.Stopped:
		return "Stopped"
	default:
		return "Running"
	}
}

// Wire types: the field names are Aliyun's.
type (
	ipList struct {
		IpAddress []string `json:"IpAddress"`
	}
	vpcAttributes struct {
		VpcId            string `json:"VpcId"`
		VSwitchId        string `json:"VSwitchId"`
		NatIpAddress     string `json:"NatIpAddress"`
		PrivateIpAddress ipList `json:"PrivateIpAddress"`
	}
	eipAddress struct {
		IpAddress            string `json:"IpAddress"`
		AllocationId         string `json:"AllocationId"`
		Bandwidth            int    `json:"Bandwidth"`
		InternetChargeType   string `json:"InternetChargeType"`
		IsSupportUnassociate bool   `json:"IsSupportUnassociate"`
	}
	privateIPSet struct {
		PrivateIpAddress string `json:"PrivateIpAddress"`
		Primary          bool   `json:"Primary"`
	}
	ipv6Set struct {
		Ipv6Address string `json:"Ipv6Address"`
	}
	networkInterface struct {
		NetworkInterfaceId string `json:"NetworkInterfaceId"`
		Type               string `json:"Type"`
		MacAddress         string `json:"MacAddress"`
		PrimaryIpAddress   string `json:"PrimaryIpAddress"`
		PrivateIpSets      struct {
			PrivateIpSet []privateIPSet `json:"PrivateIpSet"`
		} `json:"PrivateIpSets"`
		Ipv6Sets struct {
			Ipv6Set []ipv6Set `json:"Ipv6Set"`
		} `json:"Ipv6Sets"`
	}
	tag struct {
		TagKey   string `json:"TagKey"`
		TagValue string `json:"TagValue"`
	}
	instanceJSON struct {
		InstanceId              string        `json:"InstanceId"`
		InstanceName            string        `json:"InstanceName"`
		HostName                string        `json:"HostName"`
		Description             string        `json:"Description"`
		Status                  string        `json:"Status"`
		RegionId                string        `json:"RegionId"`
		ZoneId                  string        `json:"ZoneId"`
		InstanceType            string        `json:"InstanceType"`
		InstanceTypeFamily      string        `json:"InstanceTypeFamily"`
		Cpu                     int           `json:"Cpu"`
		Memory                  int           `json:"Memory"`
		OSType                  string        `json:"OSType"`
		OSName                  string        `json:"OSName"`
		OSNameEn                string        `json:"OSNameEn"`
		ImageId                 string        `json:"ImageId"`
		SerialNumber            string        `json:"SerialNumber"`
		InstanceChargeType      string        `json:"InstanceChargeType"`
		InternetChargeType      string        `json:"InternetChargeType"`
		InternetMaxBandwidthOut int           `json:"InternetMaxBandwidthOut"`
		InstanceNetworkType     string        `json:"InstanceNetworkType"`
		IoOptimized             bool          `json:"IoOptimized"`
		DeviceAvailable         bool          `json:"DeviceAvailable"`
		CreationTime            string        `json:"CreationTime"`
		StartTime               string        `json:"StartTime"`
		ExpiredTime             string        `json:"ExpiredTime"`
		StoppedMode             string        `json:"StoppedMode"`
		ResourceGroupId         string        `json:"ResourceGroupId"`
		VpcAttributes           vpcAttributes `json:"VpcAttributes"`
		InnerIpAddress          ipList        `json:"InnerIpAddress"`
		PublicIpAddress         ipList        `json:"PublicIpAddress"`
		EipAddress              eipAddress    `json:"EipAddress"`
		NetworkInterfaces       struct {
			NetworkInterface []networkInterface `json:"NetworkInterface"`
		} `json:"NetworkInterfaces"`
		SecurityGroupIds struct {
			SecurityGroupId []string `json:"SecurityGroupId"`
		} `json:"SecurityGroupIds"`
		Tags *struct {
			Tag []tag `json:"Tag"`
		} `json:"Tags,omitempty"`
		OperationLocks struct {
			LockReason []any `json:"LockReason"`
		} `json:"OperationLocks"`
	}
	describeInstancesResponse struct {
		RequestId  string `json:"RequestId"`
		TotalCount int    `json:"TotalCount"`
		PageNumber int    `json:"PageNumber,omitempty"`
		PageSize   int    `json:"PageSize,omitempty"`
		NextToken  string `json:"NextToken"`
		Instances  struct {
			Instance []instanceJSON `json:"Instance"`
		} `json:"Instances"`
	}
)

func short(s string, n int) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])[:n]
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RenderInstance renders one instance as DescribeInstances does.
func RenderInstance(in *cloudinv.Instance) any { return render(in) }

func render(in *cloudinv.Instance) instanceJSON {
	j := instanceJSON{
		InstanceId:          in.ID,
		InstanceName:        in.Name,
		HostName:            in.HostName,
		Description:         in.Description,
		Status:              StatusOf(in.State),
		RegionId:            in.Region,
		ZoneId:              in.Zone,
		InstanceType:        in.InstanceType,
		InstanceTypeFamily:  in.InstanceType,
		Cpu:                 in.CPU,
		Memory:              in.MemoryMiB,
		OSType:              in.OSType,
		OSName:              in.OSName,
		OSNameEn:            in.OSNameEn,
		ImageId:             in.ImageID,
		InstanceChargeType:  "PostPaid",
		InternetChargeType:  "PayByTraffic",
		InstanceNetworkType: "vpc",
		IoOptimized:         true,
		CreationTime:        in.CreatedAt.UTC().Format(TimeFormat),
		StartTime:           in.CreatedAt.UTC().Format(TimeFormat),
		ExpiredTime:         "2099-12-31T15:59Z",
		StoppedMode:         "Not-applicable",
		ResourceGroupId:     "rg-acfm" + short(in.Region, 10),
	}
	if i := strings.LastIndexByte(in.InstanceType, '.'); i > 0 {
		j.InstanceTypeFamily = in.InstanceType[:i]
	}
	sn := short("sn"+in.ID, 32)
	j.SerialNumber = sn[0:8] + "-" + sn[8:12] + "-" + sn[12:16] + "-" + sn[16:20] + "-" + sn[20:32]
	if in.State == cloudinv.Stopped {
		j.StoppedMode = "KeepCharging"
	}
	j.VpcAttributes = vpcAttributes{VpcId: in.VPCID, VSwitchId: "vsw-" + short(in.VPCID+in.Zone, 20), PrivateIpAddress: ipList{IpAddress: []string{}}}
	if len(in.NICs) > 0 && len(in.NICs[0].PrivateIPs) > 0 {
		j.VpcAttributes.PrivateIpAddress.IpAddress = []string{in.NICs[0].PrivateIPs[0]}
	}
	j.InnerIpAddress.IpAddress = []string{}
	j.PublicIpAddress.IpAddress = orEmpty(slices.Clone(in.PublicIPs))
	if len(in.PublicIPs) > 0 || in.EIP != "" {
		j.InternetMaxBandwidthOut = 5
	}
	if in.EIP != "" {
		j.EipAddress = eipAddress{IpAddress: in.EIP, AllocationId: "eip-" + short(in.EIP, 20), Bandwidth: 5, InternetChargeType: "PayByTraffic", IsSupportUnassociate: true}
	}
	j.NetworkInterfaces.NetworkInterface = []networkInterface{}
	for i, n := range in.NICs {
		ni := networkInterface{NetworkInterfaceId: n.ID, Type: "Secondary", MacAddress: n.MAC}
		if n.Primary || i == 0 {
			ni.Type = "Primary"
		}
		ni.PrivateIpSets.PrivateIpSet = []privateIPSet{}
		for k, ip := range n.PrivateIPs {
			ni.PrivateIpSets.PrivateIpSet = append(ni.PrivateIpSets.PrivateIpSet, privateIPSet{PrivateIpAddress: ip, Primary: k == 0})
		}
		if len(n.PrivateIPs) > 0 {
			ni.PrimaryIpAddress = n.PrivateIPs[0]
		}
		ni.Ipv6Sets.Ipv6Set = []ipv6Set{}
		for _, ip := range n.IPv6 {
			ni.Ipv6Sets.Ipv6Set = append(ni.Ipv6Sets.Ipv6Set, ipv6Set{Ipv6Address: ip})
		}
		j.NetworkInterfaces.NetworkInterface = append(j.NetworkInterfaces.NetworkInterface, ni)
	}
	j.SecurityGroupIds.SecurityGroupId = []string{"sg-" + short(in.VPCID, 20)}
	if len(in.Tags) > 0 {
		j.Tags = &struct {
			Tag []tag `json:"Tag"`
		}{}
		for _, t := range in.Tags {
			j.Tags.Tag = append(j.Tags.Tag, tag{TagKey: t.Key, TagValue: t.Value})
		}
	}
	j.OperationLocks.LockReason = []any{}
	return j
}

// filter is the subset of DescribeInstances filters the simulator honours.
type filter struct {
	ids, privateIPs, publicIPs, eips map[string]bool
	status, zone, vpc, itype, image  string
	name                             string
	netType                          string
	tags                             []cloudinv.Tag
}

func jsonSet(c *call, name string, max int) (map[string]bool, *apiError) {
	v := c.get(name)
	if v == "" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		if name == "InstanceIds" {
			return nil, &apiError{400, "InvalidInstanceIds.Malformed", "The specified parameter InstanceIds is not valid.", nil}
		}
		return nil, errInvalid(name)
	}
	if len(list) > max {
		if name == "InstanceIds" {
			return nil, &apiError{400, "InvalidInstanceIds.ValueExcessLimit", "The number of InstanceIds exceeds the limit of 100.", nil}
		}
		return nil, errInvalid(name)
	}
	m := make(map[string]bool, len(list))
	for _, x := range list {
		m[x] = true
	}
	return m, nil
}

func parseFilter(c *call) (*filter, *apiError) {
	f := &filter{status: c.get("Status"), zone: c.get("ZoneId"), vpc: c.get("VpcId"), itype: c.get("InstanceType"),
		image: c.get("ImageId"), name: c.get("InstanceName"), netType: c.get("InstanceNetworkType")}
	var e *apiError
	if f.ids, e = jsonSet(c, "InstanceIds", 100); e != nil {
		return nil, e
	}
	if f.privateIPs, e = jsonSet(c, "PrivateIpAddresses", 100); e != nil {
		return nil, e
	}
	if f.publicIPs, e = jsonSet(c, "PublicIpAddresses", 100); e != nil {
		return nil, e
	}
	if f.eips, e = jsonSet(c, "EipAddresses", 100); e != nil {
		return nil, e
	}
	switch f.status {
	case "", "Pending", "Running", "Starting", "Stopping", "Stopped":
	default:
		return nil, errInvalid("Status")
	}
	for i := 1; i <= 20; i++ {
		k, v := c.get(fmt.Sprintf("Tag.%d.Key", i)), c.get(fmt.Sprintf("Tag.%d.Value", i))
		if k == "" && v == "" {
			continue
		}
		if k == "" {
			return nil, errMissing(fmt.Sprintf("Tag.%d.Key", i))
		}
		f.tags = append(f.tags, cloudinv.Tag{Key: k, Value: v, HasValue: v != ""})
	}
	return f, nil
}

// wildcard matches s against a pattern where "*" matches any run.
func wildcard(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

func anyIn(set map[string]bool, list []string) bool {
	for _, x := range list {
		if set[x] {
			return true
		}
	}
	return false
}

func (f *filter) match(in *cloudinv.Instance) bool {
	if f.ids != nil && !f.ids[in.ID] {
		return false
	}
	if f.status != "" && StatusOf(in.State) != f.status {
		return false
	}
	if f.zone != "" && in.Zone != f.zone || f.vpc != "" && in.VPCID != f.vpc ||
		f.itype != "" && in.InstanceType != f.itype || f.image != "" && in.ImageID != f.image {
		return false
	}
	if f.netType != "" && f.netType != "vpc" {
		return false
	}
	if f.name != "" && !wildcard(f.name, in.Name) {
		return false
	}
	if f.privateIPs != nil && !anyIn(f.privateIPs, in.PrivateIPs()) {
		return false
	}
	if f.publicIPs != nil && !anyIn(f.publicIPs, in.PublicIPs) {
		return false
	}
	if f.eips != nil && !f.eips[in.EIP] {
		return false
	}
	for _, want := range f.tags {
		found := false
		for _, t := range in.Tags {
			if t.Key == want.Key && (!want.HasValue || t.Value == want.Value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// A NextToken carries the region, the seq of the last instance served and
// the number of the next page: a position, not an offset, so that releases
// and creations between pages neither skip nor repeat instances.
func encodeToken(region string, lastSeq int64, nextPage int) string {
	raw := fmt.Sprintf("v1|%s|%d|%d", region, lastSeq, nextPage)
	return base64.RawURLEncoding.EncodeToString([]byte(raw + "|" + short(raw, 8)))
}

func decodeToken(tok, region string) (lastSeq int64, page int, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, 0, false
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 5 || parts[0] != "v1" || parts[1] != region ||
		short(strings.Join(parts[:4], "|"), 8) != parts[4] {
		return 0, 0, false
	}
	lastSeq, err1 := strconv.ParseInt(parts[2], 10, 64)
	page, err2 := strconv.Atoi(parts[3])
	if err1 != nil || err2 != nil || page < 2 {
		return 0, 0, false
	}
	return lastSeq, page, true
}

func intParam(c *call, name string, def, lo, hi int) (int, *apiError) {
	v := c.get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errInvalid(name)
	}
	return n, nil
}

func forbidden(c *call, action string) *apiError {
	return &apiError{403, "Forbidden.RAM", "User not authorized to operate on the specified resource, or this API doesn't support RAM.", map[string]any{
		"AuthAction":               action,
		"AuthPrincipalDisplayName": userName(c.key),
		"AuthPrincipalOwnerId":     account(c.key),
		"AuthPrincipalType":        "SubUser",
		"NoPermissionType":         "ImplicitDeny",
		"PolicyType":               "AccountLevelIdentityBasedPolicy",
		"EncodedDiagnosticMessage": base64.StdEncoding.EncodeToString([]byte("simulated denial for " + c.key.ID)),
	}}
}

func (s *Server) describeInstances(c *call) (any, *apiError) {
	inv := s.Inventory
	if c.region == "" {
		return nil, errMissing("RegionId")
	}
	if !inv.HasRegion(c.region) {
		return nil, errBadRegion
	}
	dryRun := false
	switch strings.ToLower(c.get("DryRun")) {
	case "", "false":
	case "true":
		dryRun = true
	default:
		return nil, errInvalid("DryRun")
	}
	f, e := parseFilter(c)
	if e != nil {
		return nil, e
	}
	tokenMode := c.get("MaxResults") != "" || c.get("NextToken") != ""
	var pageNumber, pageSize, maxResults, page int
	var lastSeq int64
	if tokenMode {
		if maxResults, e = intParam(c, "MaxResults", 10, 1, MaxPageSize); e != nil {
			return nil, e
		}
		page = 1
		if tok := c.get("NextToken"); tok != "" {
			var ok bool
			if lastSeq, page, ok = decodeToken(tok, c.region); !ok {
				return nil, &apiError{400, "InvalidParameter.NextToken", `The specified parameter "NextToken" is not valid.`, nil}
			}
		}
	} else {
		if pageNumber, e = intParam(c, "PageNumber", 1, 1, 1<<30); e != nil {
			return nil, e
		}
		if pageSize, e = intParam(c, "PageSize", 10, 1, MaxPageSize); e != nil {
			return nil, e
		}
		page = pageNumber
	}

	// Permission: a key without it is refused on DryRun in both modes; a
	// real call is refused (403, from 2025-12-20) or answered empty (before).
	if dryRun {
		if !sleep(c.r.Context(), inv.Delay()) {
			return nil, errClientGone
		}
		if c.key.Permission != cloudinv.CanList {
			return nil, forbidden(c, "ecs:DescribeInstances")
		}
		return nil, errDryRun
	}
	if c.key.Permission == cloudinv.ListForbidden {
		if !sleep(c.r.Context(), inv.Delay()) {
			return nil, errClientGone
		}
		return nil, forbidden(c, "ecs:DescribeInstances")
	}

	kind, delay := inv.BeforeList(c.region, page)
	if !sleep(c.r.Context(), delay) {
		return nil, errClientGone // nobody reads this; it shows in the log
	}
	switch kind {
	case cloudinv.RegionDown:
		return nil, errUnavailable
	case cloudinv.PageFailed:
		return nil, errInternal
	case cloudinv.Throttled:
		return nil, s.throttled()
	}

	resp := &describeInstancesResponse{RequestId: c.requestID}
	resp.Instances.Instance = []instanceJSON{}
	if c.key.Permission == cloudinv.ListEmpty {
		if !tokenMode {
			resp.PageNumber, resp.PageSize = pageNumber, pageSize
		}
		return resp, nil
	}
	list := inv.List(c.region, f.match)
	resp.TotalCount = len(list)
	var served []*cloudinv.Instance
	if tokenMode {
		i := 0
		for i < len(list) && list[i].Seq() <= lastSeq {
			i++
		}
		end := min(i+maxResults, len(list))
		served = list[i:end]
		if end < len(list) && len(served) > 0 {
			resp.NextToken = encodeToken(c.region, served[len(served)-1].Seq(), page+1)
		}
	} else {
		resp.PageNumber, resp.PageSize = pageNumber, pageSize
		off := (pageNumber - 1) * pageSize
		if off < len(list) {
			served = list[off:min(off+pageSize, len(list))]
		}
	}
	for _, in := range served {
		resp.Instances.Instance = append(resp.Instances.Instance, render(in))
	}
	c.returned = len(served)
	inv.AfterList(c.region, page)
	return resp, nil
}

// Region names as DescribeRegions gives them (zh-CN, en-US).
var regionNames = map[string][2]string{
	"cn-qingdao":     {"华北1（青岛）", "China (Qingdao)"},
	"cn-beijing":     {"华北2（北京）", "China (Beijing)"},
	"cn-zhangjiakou": {"华北3（张家口）", "China (Zhangjiakou)"},
	"cn-huhehaote":   {"华北5（呼和浩特）", "China (Hohhot)"},
	"cn-wulanchabu":  {"华北6（乌兰察布）", "China (Ulanqab)"},
	"cn-hangzhou":    {"华东1（杭州）", "China (Hangzhou)"},
	"cn-shanghai":    {"华东2（上海）", "China (Shanghai)"},
	"cn-nanjing":     {"华东5（南京-本地地域）", "China (Nanjing - Local Region)"},
	"cn-fuzhou":      {"华东6（福州-本地地域）", "China (Fuzhou - Local Region)"},
	"cn-shenzhen":    {"华南1（深圳）", "China (Shenzhen)"},
	"cn-heyuan":      {"华南2（河源）", "China (Heyuan)"},
	"cn-guangzhou":   {"华南3（广州）", "China (Guangzhou)"},
	"cn-chengdu":     {"西南1（成都）", "China (Chengdu)"},
	"cn-hongkong":    {"中国香港", "China (Hong Kong)"},
	"ap-southeast-1": {"新加坡", "Singapore"},
	"ap-southeast-3": {"马来西亚（吉隆坡）", "Malaysia (Kuala Lumpur)"},
	"ap-southeast-5": {"印度尼西亚（雅加达）", "Indonesia (Jakarta)"},
	"ap-northeast-1": {"日本（东京）", "Japan (Tokyo)"},
	"us-west-1":      {"美国（硅谷）", "US (Silicon Valley)"},
	"us-east-1":      {"美国（弗吉尼亚）", "US (Virginia)"},
	"eu-central-1":   {"德国（法兰克福）", "Germany (Frankfurt)"},
	"eu-west-1":      {"英国（伦敦）", "UK (London)"},
}

// LocalName returns a region's display name in lang ("zh-CN" default, "en-US").
func LocalName(region, lang string) string {
	n, ok := regionNames[region]
	if !ok {
		return region
	}
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return n[1]
	}
	return n[0]
}

type regionJSON struct {
	RegionId       string `json:"RegionId"`
	LocalName      string `json:"LocalName"`
	RegionEndpoint string `json:"RegionEndpoint"`
	Status         string `json:"Status"`
}

func (s *Server) describeRegions(c *call) (any, *apiError) {
	if !sleep(c.r.Context(), s.Inventory.Delay()) {
		return nil, errClientGone
	}
	resp := struct {
		RequestId string `json:"RequestId"`
		Regions   struct {
			Region []regionJSON `json:"Region"`
		} `json:"Regions"`
	}{RequestId: c.requestID}
	resp.Regions.Region = []regionJSON{}
	for _, r := range s.Inventory.Regions() {
		resp.Regions.Region = append(resp.Regions.Region, regionJSON{RegionId: r, LocalName: LocalName(r, c.get("AcceptLanguage")),
			RegionEndpoint: "ecs." + r + ".aliyuncs.com", Status: "available"})
	}
	return resp, nil
}

func account(k cloudinv.Key) string {
	if k.Account != "" {
		return k.Account
	}
	return DefaultAccount
}

// userName is the RAM user name the simulator gives a key.
func userName(k cloudinv.Key) string { return "sim-" + strings.ToLower(k.ID) }

// userID is a stable 16-digit RAM user id for a key.
func userID(k cloudinv.Key) string {
	h := sha1.Sum([]byte("user" + k.ID))
	var n uint64
	for _, b := range h[:8] {
		n = n<<8 | uint64(b)
	}
	return fmt.Sprintf("2%015d", n%1_000_000_000_000_000)
}

// Identity is what GetCallerIdentity answers for a key.
type Identity struct {
	IdentityType string `json:"IdentityType"`
	AccountId    string `json:"AccountId"`
	UserId       string `json:"UserId"`
	PrincipalId  string `json:"PrincipalId"`
	Arn          string `json:"Arn"`
	RequestId    string `json:"RequestId"`
}

// IdentityOf returns the identity of k as GetCallerIdentity reports it
// (a RAM user of k.Account), without a RequestId.
func IdentityOf(k cloudinv.Key) Identity {
	return Identity{IdentityType: "RAMUser", AccountId: account(k), UserId: userID(k), PrincipalId: userID(k),
		Arn: "acs:ram::" + account(k) + ":user/" + userName(k)}
}

func (s *Server) getCallerIdentity(c *call) (any, *apiError) {
	if !sleep(c.r.Context(), s.Inventory.Delay()) {
		return nil, errClientGone
	}
	id := IdentityOf(c.key)
	id.RequestId = c.requestID
	return id, nil
}
