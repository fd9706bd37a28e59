package jumpserver

import "testing"

func TestPathTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/assets/hosts/": "/api/v1/assets/hosts/",
		"/api/v1/assets/hosts/3f2b1c4d-0a1b-4c2d-8e3f-001122334455/":      "/api/v1/assets/hosts/{id}/",
		"/api/v1/assets/nodes/3f2b1c4d0a1b4c2d8e3f001122334455/children/": "/api/v1/assets/nodes/{id}/children/",
		"/api/v1/orgs/orgs/current/":                                      "/api/v1/orgs/orgs/current/",
		"/api/v1/assets/zones/42/":                                        "/api/v1/assets/zones/{id}/",
	} {
		if got := pathTemplate(in); got != want {
			t.Errorf("pathTemplate(%s) = %s, want %s", in, got, want)
		}
	}
}
