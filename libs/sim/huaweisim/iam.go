package huaweisim

import (
	"net/http"
)

// iamProject is a project as Keystone lists it.
type iamProject struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	DomainID    string         `json:"domain_id"`
	ParentID    string         `json:"parent_id"`
	IsDomain    bool           `json:"is_domain"`
	Enabled     bool           `json:"enabled"`
	Description string         `json:"description"`
	Links       map[string]any `json:"links"`
}

// serveProjects answers GET /v3/projects[?name=<region>] with the caller's
// account's projects. The IAM mode can force zero or two matches.
func (s *Server) serveProjects(c *call) {
	sleep(c.r, s.inv.Delay())
	c.w.Header().Set("X-IAM-Trace-Id", c.requestID)
	name := c.r.URL.Query().Get("name")
	base := "http://" + c.r.Host + "/v3/projects"
	mk := func(id, region string) iamProject {
		return iamProject{
			ID: id, Name: region, DomainID: c.key.Account, ParentID: c.key.Account, Enabled: true,
			Links: map[string]any{"self": base + "/" + id},
		}
	}
	projects := []iamProject{}
	for _, p := range s.Projects() {
		if p.Account != c.key.Account || (name != "" && p.Name != name) {
			continue
		}
		projects = append(projects, mk(p.ID, p.Name))
	}
	switch s.getIAMMode() {
	case IAMNone:
		projects = []iamProject{}
	case IAMTwo:
		if name != "" {
			projects = []iamProject{
				mk(ProjectID(c.key.Account, name), name),
				mk(ProjectID(c.key.Account, name+"_sub"), name),
			}
		}
	}
	s.writeJSON(c, http.StatusOK, map[string]any{
		"projects": projects,
		"links":    map[string]any{"self": base, "previous": nil, "next": nil},
	})
}
