package huaweisim

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

// Paging limits of ListServersDetails (cloud-apis.md §2.5).
const (
	DefaultLimit = 25
	MaxLimit     = 1000
	// AllGrantedEPs lists every enterprise project the caller may see.
	AllGrantedEPs = "all_granted_eps"
)

// Wire types. Field types follow the SDK's strict decoder (§2.6): strings
// for numeric-looking values (version, flavor sizes, metadata), numbers for
// count/power_state/launch_index/progress, booleans for locked/primary.
type (
	listServersResponse struct {
		Count   int   `json:"count"`
		Servers []any `json:"servers"`
	}
	serverFlavor struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Vcpus string `json:"vcpus"`
		RAM   string `json:"ram"`
		Disk  string `json:"disk"`
	}
	serverAddress struct {
		Version string `json:"version"`
		Addr    string `json:"addr"`
		Type    string `json:"OS-EXT-IPS:type"`
		MAC     string `json:"OS-EXT-IPS-MAC:mac_addr"`
		PortID  string `json:"OS-EXT-IPS:port_id"`
		Primary bool   `json:"primary"`
	}
	serverIDRef struct {
		ID string `json:"id"`
	}
	securityGroup struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	sysTag struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	volumeAttachment struct {
		ID                  string `json:"id"`
		DeleteOnTermination string `json:"delete_on_termination"`
		BootIndex           string `json:"bootIndex"`
		Device              string `json:"device"`
	}
	serverDetail struct {
		ID                  string                     `json:"id"`
		Name                string                     `json:"name"`
		Description         string                     `json:"description"`
		Status              string                     `json:"status"`
		VMState             string                     `json:"OS-EXT-STS:vm_state"`
		PowerState          int                        `json:"OS-EXT-STS:power_state"`
		TaskState           string                     `json:"OS-EXT-STS:task_state"`
		AvailabilityZone    string                     `json:"OS-EXT-AZ:availability_zone"`
		Hostname            string                     `json:"OS-EXT-SRV-ATTR:hostname"`
		InstanceName        string                     `json:"OS-EXT-SRV-ATTR:instance_name"`
		Host                string                     `json:"OS-EXT-SRV-ATTR:host"`
		HypervisorHostname  string                     `json:"OS-EXT-SRV-ATTR:hypervisor_hostname"`
		LaunchIndex         int                        `json:"OS-EXT-SRV-ATTR:launch_index"`
		RootDeviceName      string                     `json:"OS-EXT-SRV-ATTR:root_device_name"`
		HostID              string                     `json:"hostId"`
		HostStatus          string                     `json:"host_status"`
		Created             string                     `json:"created"`
		Updated             string                     `json:"updated"`
		LaunchedAt          string                     `json:"OS-SRV-USG:launched_at"`
		TerminatedAt        string                     `json:"OS-SRV-USG:terminated_at"`
		TenantID            string                     `json:"tenant_id"`
		UserID              string                     `json:"user_id"`
		EnterpriseProjectID string                     `json:"enterprise_project_id"`
		Flavor              serverFlavor               `json:"flavor"`
		Image               serverIDRef                `json:"image"`
		Metadata            map[string]string          `json:"metadata"`
		Addresses           map[string][]serverAddress `json:"addresses"`
		AccessIPv4          string                     `json:"accessIPv4"`
		AccessIPv6          string                     `json:"accessIPv6"`
		Tags                []string                   `json:"tags"`
		SysTags             []sysTag                   `json:"sys_tags"`
		SecurityGroups      []securityGroup            `json:"security_groups"`
		VolumesAttached     []volumeAttachment         `json:"os-extended-volumes:volumes_attached"`
		DiskConfig          string                     `json:"OS-DCF:diskConfig"`
		ConfigDrive         string                     `json:"config_drive"`
		KeyName             string                     `json:"key_name"`
		Locked              bool                       `json:"locked"`
		Progress            int                        `json:"progress"`
		Fault               any                        `json:"fault"`
		AutoTerminateTime   string                     `json:"auto_terminate_time"`
	}
)

// Status is the Huawei API status of a cloudinv state, with the matching
// OS-EXT-STS fields. Per the ECS status table, a server being started is
// still SHUTOFF (task "powering-on") and one being stopped is still ACTIVE
// (task "powering-off"); a server being created is BUILD.
func Status(s cloudinv.State) (status, vmState, taskState string, powerState int) {
	switch s {
	case cloudinv.Pending:
		return "BUILD", "building", "spawning", 0
	case cloudinv.Starting:
		return "SHUTOFF", "stopped", "powering-on", 4
	case cloudinv.Stopping:
		return "ACTIVE", "active", "powering-off", 1
	case cloudinv.Stopped:
		return "SHUTOFF", "stopped", "", 4
	default:
		return "ACTIVE", "active", "", 1
	}
}

// OSType is metadata.os_type as Huawei spells it: "Linux" or "Windows".
func OSType(inventoryOSType string) string {
	if strings.EqualFold(inventoryOSType, "windows") {
		return "Windows"
	}
	return "Linux"
}

// TagStrings renders tags as the API does: "k=v", or "k" for a tag without a value.
func TagStrings(tags []cloudinv.Tag) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if t.HasValue {
			out = append(out, t.Key+"="+t.Value)
		} else {
			out = append(out, t.Key)
		}
	}
	return out
}

// TimeFormat is the layout of "created" and "updated".
const TimeFormat = "2006-01-02T15:04:05Z"

func shortHash(parts ...string) string {
	return ProjectID(strings.Join(parts, "\x00"), "h")
}

func uuidLike(parts ...string) string {
	h := shortHash(parts...)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// render turns an inventory instance into a ServerDetail body.
func render(in *cloudinv.Instance, projectID, account string) serverDetail {
	status, vm, task, power := Status(in.State)
	created := in.CreatedAt.UTC()
	ep := in.EnterpriseProjectID
	if ep == "" {
		ep = "0"
	}
	osBits := "64"
	specSuffix := ".linux"
	if OSType(in.OSType) == "Windows" {
		specSuffix = ".win"
	}
	d := serverDetail{
		ID:                  in.ID,
		Name:                in.Name,
		Description:         in.Description,
		Status:              status,
		VMState:             vm,
		PowerState:          power,
		TaskState:           task,
		AvailabilityZone:    in.Zone,
		Hostname:            in.HostName,
		InstanceName:        "instance-" + shortHash(in.ID)[:8],
		Host:                shortHash("host", in.Zone)[:12],
		HypervisorHostname:  shortHash("hyp", in.Zone)[:12],
		RootDeviceName:      "/dev/vda",
		HostID:              shortHash("hostid", in.Zone, projectID),
		HostStatus:          "UP",
		Created:             created.Format(TimeFormat),
		Updated:             created.Add(2 * time.Minute).Format(TimeFormat),
		LaunchedAt:          created.Add(time.Minute).Format("2006-01-02T15:04:05.000000"),
		TenantID:            projectID,
		UserID:              shortHash("user", account),
		EnterpriseProjectID: ep,
		Flavor: serverFlavor{
			ID: in.InstanceType, Name: in.InstanceType,
			Vcpus: strconv.Itoa(in.CPU), RAM: strconv.Itoa(in.MemoryMiB), Disk: "0",
		},
		Image: serverIDRef{ID: in.ImageID},
		Metadata: map[string]string{
			"os_type":                   OSType(in.OSType),
			"image_name":                in.OSName,
			"charging_mode":             "0",
			"vpc_id":                    in.VPCID,
			"os_bit":                    osBits,
			"metering.image_id":         in.ImageID,
			"metering.imagetype":        "gold",
			"metering.resourcespeccode": in.InstanceType + specSuffix,
			"metering.resourcetype":     "1",
			"EcmResStatus":              "normal",
		},
		Addresses:       addresses(in),
		Tags:            TagStrings(in.Tags),
		SysTags:         []sysTag{{Key: "_sys_enterprise_project_id", Value: ep}},
		SecurityGroups:  []securityGroup{{ID: uuidLike("sg", in.VPCID), Name: "default"}},
		VolumesAttached: []volumeAttachment{{ID: uuidLike("vol", in.ID), DeleteOnTermination: "true", BootIndex: "0", Device: "/dev/vda"}},
		DiskConfig:      "MANUAL",
		Fault:           nil,
	}
	if in.State == cloudinv.Pending {
		d.Progress = 0
	} else {
		d.Progress = 100
	}
	return d
}

// addresses keys every address by the VPC id: fixed IPv4/IPv6 addresses of
// each NIC, then the EIP and public addresses as floating addresses of the
// primary NIC.
func addresses(in *cloudinv.Instance) map[string][]serverAddress {
	var list []serverAddress
	primary := -1
	for i, n := range in.NICs {
		if n.Primary && primary < 0 {
			primary = i
		}
	}
	if primary < 0 && len(in.NICs) > 0 {
		primary = 0
	}
	port := func(n cloudinv.NIC) string { return uuidLike("port", n.ID) }
	for _, n := range in.NICs {
		for _, ip := range n.PrivateIPs {
			list = append(list, serverAddress{Version: "4", Addr: ip, Type: "fixed", MAC: n.MAC, PortID: port(n), Primary: n.Primary})
		}
		for _, ip := range n.IPv6 {
			list = append(list, serverAddress{Version: "6", Addr: ip, Type: "fixed", MAC: n.MAC, PortID: port(n), Primary: n.Primary})
		}
	}
	var floating []string
	if in.EIP != "" {
		floating = append(floating, in.EIP)
	}
	floating = append(floating, in.PublicIPs...)
	for _, ip := range floating {
		a := serverAddress{Version: "4", Addr: ip, Type: "floating"}
		if primary >= 0 {
			n := in.NICs[primary]
			a.MAC, a.PortID, a.Primary = n.MAC, port(n), n.Primary
		}
		list = append(list, a)
	}
	out := map[string][]serverAddress{}
	if len(list) > 0 {
		out[in.VPCID] = list
	}
	return out
}

// listQuery is the parsed query of ListServersDetails.
type listQuery struct {
	limit, offset int
	marker        string
	hasMarker     bool
	serverIDs     []string
	match         func(*cloudinv.Instance) bool
}

func badParam(format string, a ...any) error { return fmt.Errorf(format, a...) }

func parseListQuery(q url.Values) (listQuery, error) {
	lq := listQuery{limit: DefaultLimit, offset: 1}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return lq, badParam("Invalid limit %q", v[0])
		}
		switch {
		case n == 0:
			n = DefaultLimit
		case n > MaxLimit:
			n = MaxLimit
		}
		lq.limit = n
	}
	if v, ok := q["offset"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return lq, badParam("Invalid offset %q", v[0])
		}
		if n == 0 {
			n = 1
		}
		lq.offset = n
	}
	if v, ok := q["marker"]; ok && v[0] != "" {
		lq.marker, lq.hasMarker = v[0], true
	}
	if v := q.Get("server_id"); v != "" {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				lq.serverIDs = append(lq.serverIDs, id)
			}
		}
	}
	var preds []func(*cloudinv.Instance) bool
	if v := q.Get("status"); v != "" {
		preds = append(preds, func(in *cloudinv.Instance) bool {
			st, _, _, _ := Status(in.State)
			return strings.EqualFold(st, v)
		})
	}
	if v := q.Get("name"); v != "" {
		preds = append(preds, func(in *cloudinv.Instance) bool { return strings.Contains(in.Name, v) })
	}
	if v := q.Get("flavor"); v != "" {
		preds = append(preds, func(in *cloudinv.Instance) bool { return in.InstanceType == v })
	}
	if v := q.Get("ip"); v != "" {
		preds = append(preds, func(in *cloudinv.Instance) bool {
			return slices.ContainsFunc(in.PrivateIPs(), func(ip string) bool { return strings.Contains(ip, v) })
		})
	}
	if v := q.Get("ip_eq"); v != "" {
		preds = append(preds, func(in *cloudinv.Instance) bool { return slices.Contains(in.PrivateIPs(), v) })
	}
	if v := q.Get("tags"); v != "" {
		preds = append(preds, func(in *cloudinv.Instance) bool { return slices.Contains(TagStrings(in.Tags), v) })
	}
	if v := q.Get("not-tags"); v != "" {
		preds = append(preds, func(in *cloudinv.Instance) bool { return !slices.Contains(TagStrings(in.Tags), v) })
	}
	if _, ok := q["reservation_id"]; ok {
		// No simulated server was created by a batch with a reservation id.
		preds = append(preds, func(*cloudinv.Instance) bool { return false })
	}
	lq.match = func(in *cloudinv.Instance) bool {
		for _, p := range preds {
			if !p(in) {
				return false
			}
		}
		return true
	}
	return lq, nil
}

// epFilter decides which enterprise projects a call sees.
// ok=false means the key may not list the requested enterprise project.
func (s *Server) epFilter(ak string, q url.Values) (func(string) bool, bool) {
	granted, scoped := s.eps[ak]
	param, given := q["enterprise_project_id"]
	want := ""
	if given {
		want = param[0]
	}
	epOf := func(ep string) string {
		if ep == "" {
			return "0"
		}
		return ep
	}
	switch {
	case !scoped && (!given || want == AllGrantedEPs):
		return func(string) bool { return true }, true
	case !scoped:
		return func(ep string) bool { return epOf(ep) == want }, true
	case want == AllGrantedEPs:
		return func(ep string) bool { return slices.Contains(granted, epOf(ep)) }, true
	case !given:
		// A user authorised per enterprise project sees only the default
		// project when it names none, and nothing if that is not granted.
		return func(ep string) bool { return epOf(ep) == "0" && slices.Contains(granted, "0") }, true
	case slices.Contains(granted, want):
		return func(ep string) bool { return epOf(ep) == want }, true
	default:
		return nil, false
	}
}

// serveListServers answers GET /v1/{project_id}/cloudservers/detail.
func (s *Server) serveListServers(c *call) {
	r := c.r
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	pid := parts[1]
	if pid == "" || strings.ContainsAny(pid, "{}") || strings.Contains(strings.ToLower(pid), "%7b") {
		s.gatewayError(c, http.StatusNotFound, "APIGW.0101",
			"The API does not exist or has not been published in the environment (literal {project_id} in the path: no project id configured)")
		return
	}
	if h := r.Header.Get("X-Project-Id"); h != "" && h != pid {
		s.gatewayError(c, http.StatusBadRequest, "APIGW.0201",
			fmt.Sprintf("Request error: X-Project-Id %s does not match the project %s in the path", h, pid))
		return
	}
	proj, ok := s.lookupProject(pid)
	if !ok || proj.Account != c.key.Account {
		s.gatewayError(c, http.StatusForbidden, "APIGW.0302",
			fmt.Sprintf("The IAM user is not authorized to access the API: project %s is not a project of domain %s", pid, c.key.Account))
		return
	}
	region := proj.Name
	q := r.URL.Query()
	lq, err := parseListQuery(q)
	if err != nil {
		s.serviceError(c, http.StatusBadRequest, "Ecs.0005", err.Error())
		return
	}
	switch c.key.Permission {
	case cloudinv.ListForbidden:
		sleep(r, s.inv.Delay())
		s.serviceError(c, http.StatusForbidden, "Ecs.0319",
			"Policy doesn't allow ecs:cloudServers:list to be performed.")
		return
	case cloudinv.ListEmpty:
		sleep(r, s.inv.Delay())
		s.writeJSON(c, http.StatusOK, listServersResponse{Count: 0, Servers: []any{}})
		return
	}
	epOK, allowed := s.epFilter(c.key.ID, q)
	if !allowed {
		s.serviceError(c, http.StatusForbidden, "Ecs.0319",
			fmt.Sprintf("Policy doesn't allow ecs:cloudServers:list to be performed in enterprise project %s.", q.Get("enterprise_project_id")))
		return
	}

	// server_id overrides every other filter; unknown ids come back with
	// only id and fault set.
	if len(lq.serverIDs) > 0 {
		s.serveByID(c, region, pid, proj.Account, lq.serverIDs)
		return
	}

	all := s.inv.List(region, func(in *cloudinv.Instance) bool {
		return epOK(in.EnterpriseProjectID) && lq.match(in)
	})
	s.rememberSeq(all)
	start := (lq.offset - 1) * lq.limit
	if lq.hasMarker {
		seq, ok := s.seqOf(lq.marker)
		if !ok {
			s.serviceError(c, http.StatusBadRequest, "Ecs.0005", fmt.Sprintf("Invalid marker %s: server not found", lq.marker))
			return
		}
		start = len(all)
		for i, in := range all {
			if in.Seq() > seq {
				start = i
				break
			}
		}
	}
	page := start/lq.limit + 1

	kind, delay := s.inv.BeforeList(region, page)
	sleep(r, delay)
	switch kind {
	case cloudinv.RegionDown:
		s.gatewayError(c, http.StatusServiceUnavailable, "APIGW.0202",
			fmt.Sprintf("Backend unavailable: region %s is not available", region))
		return
	case cloudinv.Throttled:
		s.throttled(c, "The throttling threshold has been reached: policy user over ratelimit,time:1 second")
		return
	case cloudinv.PageFailed:
		s.serviceError(c, http.StatusInternalServerError, "Ecs.0000",
			fmt.Sprintf("Internal server error while listing page %d of region %s.", page, region))
		return
	}

	resp := listServersResponse{Count: len(all), Servers: []any{}}
	if start < len(all) {
		end := min(start+lq.limit, len(all))
		for _, in := range all[start:end] {
			resp.Servers = append(resp.Servers, render(in, pid, proj.Account))
		}
	}
	s.writeJSON(c, http.StatusOK, resp)
	s.inv.AfterList(region, page)
}

func (s *Server) serveByID(c *call, region, pid, account string, ids []string) {
	kind, delay := s.inv.BeforeList(region, 1)
	sleep(c.r, delay)
	switch kind {
	case cloudinv.RegionDown:
		s.gatewayError(c, http.StatusServiceUnavailable, "APIGW.0202", "Backend unavailable: region "+region+" is not available")
		return
	case cloudinv.Throttled:
		s.throttled(c, "The throttling threshold has been reached: policy user over ratelimit,time:1 second")
		return
	case cloudinv.PageFailed:
		s.serviceError(c, http.StatusInternalServerError, "Ecs.0000", "Internal server error.")
		return
	}
	resp := listServersResponse{Servers: []any{}}
	for _, id := range ids {
		in, ok := s.inv.Get(id)
		if ok && in.Region == region {
			resp.Servers = append(resp.Servers, render(in, pid, account))
			continue
		}
		resp.Servers = append(resp.Servers, map[string]any{
			"id":    id,
			"fault": map[string]any{"code": 404, "message": "Instance " + id + " could not be found", "details": "", "created": s.now().UTC().Format(TimeFormat)},
		})
	}
	resp.Count = len(resp.Servers)
	s.writeJSON(c, http.StatusOK, resp)
	s.inv.AfterList(region, 1)
}
