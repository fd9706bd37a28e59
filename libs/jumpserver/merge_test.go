package jumpserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/jmssync/jmssync/libs/events"
)

func TestFlattenFields(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       map[string][]string
	}{
		{"plain", `{"name":["This field is required."],"address":["This field may not be blank."]}`,
			map[string][]string{"name": {"This field is required."}, "address": {"This field may not be blank."}}},
		{"nested list", `{"protocols":[{},{"port":["Ensure this value is less than or equal to 65535."]}]}`,
			map[string][]string{"protocols[1].port": {"Ensure this value is less than or equal to 65535."}}},
		{"nested dict with a string", `{"protocols":{"protocols":"Protocol is required: ssh"}}`,
			map[string][]string{"protocols": {"Protocol is required: ssh"}}},
		{"platform mismatch", `{"platform":{"platform":"Platform does not match: MySQL"}}`,
			map[string][]string{"platform": {"Platform does not match: MySQL"}}},
		{"non-field", `{"protocols":{"non_field_errors":["Expected a list of items but got type \"dict\"."]}}`,
			map[string][]string{"protocols": {`Expected a list of items but got type "dict".`}}},
		{"capitalised helper key", `{"Platform":["Invalid pk \"None\" - object does not exist."]}`,
			map[string][]string{"Platform": {`Invalid pk "None" - object does not exist.`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.body), &v); err != nil {
				t.Fatal(err)
			}
			if got := flattenFields(v); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	h := http.Header{}
	for _, tc := range []struct {
		status int
		body   string
		want   Kind
	}{
		{401, `{"detail":"Invalid signature.","code":"authentication_failed"}`, KindAuth},
		{403, `{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`, KindAuth},
		{404, `{"detail":"Host object does not exist","code":"object_does_not_exist"}`, KindNotFound},
		{429, `{"detail":"Request was throttled.","code":"throttled"}`, KindThrottled},
		{500, `{"error":"Server internal error"}`, KindInternal},
		{500, `<html>Server Error (500)</html>`, KindUnavailable},
		{503, `<html>503 Service Temporarily Unavailable</html>`, KindUnavailable},
		{400, `{"name":["Field must be unique"]}`, KindValidation},
	} {
		e := classify("GET", "/api/v1/x/", tc.status, h, []byte(tc.body))
		if e.Kind != tc.want {
			t.Errorf("%d %s: %s, want %s", tc.status, tc.body, e.Kind, tc.want)
		}
	}
	e := classify("POST", hostsPath, 400, h, []byte(`{"error":"The number of assets exceeds the limit of 5000"}`))
	if !isCapBody(e.raw) || len(e.Fields) != 0 {
		t.Fatalf("cap body %+v", e)
	}
	if isCapBody(classify("POST", hostsPath, 400, h, []byte(`{"name":["x"]}`)).raw) {
		t.Fatal("field error taken for the cap")
	}
	if ce := capError(e); !errors.Is(ce, ErrCap) || !IsGlobal(ce) {
		t.Fatal(ce)
	}
}

func TestMergeLabels(t *testing.T) {
	existing := []events.Label{{Name: "env", Value: "prod"}, {Name: "jmssync", Value: "i1"},
		{Name: "jmssync-region", Value: "cn-1"}, {Name: "team", Value: "ops"}}
	ours := []events.Label{{Name: "jmssync", Value: "i1"}, {Name: "jmssync-region", Value: "cn-2"}}
	got := MergeLabels(existing, ours, "jmssync")
	want := []events.Label{{Name: "env", Value: "prod"}, {Name: "jmssync", Value: "i1"},
		{Name: "jmssync-region", Value: "cn-2"}, {Name: "team", Value: "ops"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	if !LabelsEqual(MergeLabels(want, ours, "jmssync"), want) {
		t.Fatal("merging twice changed the set")
	}
	if LabelsEqual(existing, want) {
		t.Fatal("different sets compare equal")
	}
}

func TestMergeNodes(t *testing.T) {
	got := MergeNodes([]string{"OPS", "old", "ours"}, "ours", "old")
	if !reflect.DeepEqual(got, []string{"OPS", "ours"}) {
		t.Fatalf("got %v", got)
	}
	got = MergeNodes([]string{"root"}, "new", "old")
	if !reflect.DeepEqual(got, []string{"root", "new"}) {
		t.Fatalf("got %v", got)
	}
	if !SameIDs([]string{"A", "b"}, []string{"B", "a", "a"}) || SameIDs([]string{"a"}, []string{"b"}) {
		t.Fatal("SameIDs")
	}
}

func TestStateNormalises(t *testing.T) {
	a := Host{Name: "web", Address: "10.0.0.1", Platform: PlatformRef{ID: 1, Name: "Linux"},
		Protocols: []events.Protocol{{Name: "sftp", Port: 22}, {Name: "ssh", Port: 22}},
		NodePaths: []string{"/DEFAULT/b", "/DEFAULT/a"},
		Labels:    []LabelRef{{ID: "2", Name: "z", Value: "1"}, {ID: "1", Name: "a", Value: "2"}},
		Zone:      &Ref{ID: "z1", Name: "dmz"}, IsActive: true}
	b := a
	b.Protocols = []events.Protocol{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}}
	b.NodePaths = []string{"/DEFAULT/a", "/DEFAULT/b"}
	b.Labels = []LabelRef{{ID: "1", Name: "a", Value: "2"}, {ID: "2", Name: "z", Value: "1"}}
	sa, sb := State(a), State(b)
	if !reflect.DeepEqual(sa, sb) {
		t.Fatalf("%+v != %+v", sa, sb)
	}
	if sa.Zone != "dmz" || sa.Platform != "Linux" || sa.Nodes[0] != "/DEFAULT/a" || sa.Labels[0].Name != "a" ||
		sa.Protocols[0].Name != "sftp" {
		t.Fatalf("%+v", sa)
	}
}

func TestHostDecodesBothVersions(t *testing.T) {
	var h410, h47 Host
	_ = json.Unmarshal([]byte(`{"id":"x","zone":{"id":"z","name":"dmz"},"category":{"value":"host","label":"Host"},
		"platform":{"id":1,"name":"Linux","type":"linux"}}`), &h410)
	_ = json.Unmarshal([]byte(`{"id":"x","domain":{"id":"z","name":"dmz"},"platform":{"id":1,"name":"Linux"}}`), &h47)
	if h410.Zone == nil || h47.Zone == nil || h410.Zone.Name != "dmz" || h47.Zone.Name != "dmz" || h410.Category != "host" {
		t.Fatalf("%+v %+v", h410, h47)
	}
}
