package jumpserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/jmssync/jmssync/libs/events"
)

// HostCreate is one host to create. Fields not listed here are never sent.
type HostCreate struct {
	// ID is the client-chosen, deterministic asset id (a UUID). A create
	// that finds it taken reports ItemAlreadyExists; nothing is created twice.
	ID         string
	Name       string // ≤128 characters, unique per org across all asset types
	Address    string
	PlatformID int
	// Protocols are required (bulk create does not fill platform defaults).
	Protocols []events.Protocol
	// NodeIDs: the nodes to place the host in; empty = the org root.
	NodeIDs []string
	// Labels are created on demand ("name:value"; no ':' or ',' inside).
	Labels []events.Label
	// ZoneID is the zone (domain on 4.7); "" = none. JumpServer nulls it
	// when the platform has gateways off.
	ZoneID  string
	Comment string
	// IsActive defaults to true when nil.
	IsActive *bool
	// AccountTemplateIDs add one account per template. 4.10 sends them in
	// the create; 4.7's bulk create does not take accounts, so they are
	// created afterwards (ItemResult.AccountsErr reports a failure there).
	AccountTemplateIDs []string
}

// HostPatch changes owned fields of one host with PATCH (never PUT, which
// resets is_active and nodes). Nil fields are not sent.
type HostPatch struct {
	ID      string
	Address *string
	// Labels replaces the whole label set: pass MergeLabels' result.
	Labels *[]events.Label
	// NodeIDs replaces the node set: pass MergeNodes' result. Never empty
	// (an empty set moves the host to the org root).
	NodeIDs *[]string
	// ZoneID sets the zone (domain on 4.7); "" clears it.
	ZoneID     *string
	PlatformID *int
	IsActive   *bool
	// Comment is not an owned field; set it only when adopting an asset.
	Comment *string
}

func (p HostPatch) empty() bool {
	return p.Address == nil && p.Labels == nil && p.NodeIDs == nil && p.ZoneID == nil && p.PlatformID == nil &&
		p.IsActive == nil && p.Comment == nil
}

// ItemStatus is the outcome of one item of a bulk call.
type ItemStatus string

const (
	ItemCreated       ItemStatus = "created"
	ItemUpdated       ItemStatus = "updated"
	ItemUnchanged     ItemStatus = "unchanged" // an empty patch: nothing sent
	ItemAlreadyExists ItemStatus = "already_exists"
	ItemFailed        ItemStatus = "failed"
)

// ItemResult is one item's outcome, at the input's index.
type ItemResult struct {
	ID     string
	Status ItemStatus
	// Host is what JumpServer returned (created, updated, or the existing
	// asset for ItemAlreadyExists when it could be read).
	Host *Host
	// Err is an *Error when Status is ItemFailed: KindValidation with the
	// server's Fields, KindConflict (name held by another asset), KindCap,
	// KindAuth, KindUnavailable (outcome unknown: retry; the id makes it
	// safe), KindThrottled, KindInternal, KindNotFound.
	Err error
	// AccountsErr reports that the host exists but creating its accounts
	// afterwards (4.7) failed; retry with EnsureAccounts.
	AccountsErr error
}

func failed(id string, err error) ItemResult { return ItemResult{ID: id, Status: ItemFailed, Err: err} }

func itemErr(kind Kind, msg string, fields map[string][]string) *Error {
	return &Error{Kind: kind, Method: http.MethodPost, Path: hostsPath, Message: msg, Fields: fields}
}

func checkLabel(l events.Label) error {
	bad := func(why string) error {
		return &Error{Kind: KindValidation, Fields: map[string][]string{"labels": {fmt.Sprintf("%s:%s: %s", l.Name, l.Value, why)}}}
	}
	switch {
	case strings.TrimSpace(l.Name) == "" || strings.TrimSpace(l.Value) == "":
		return bad("name and value are required")
	case strings.ContainsAny(l.Name, ":,") || strings.ContainsAny(l.Value, ":,"):
		return bad("name and value may not contain ':' or ','")
	case utf8.RuneCountInString(l.Name) > 64 || utf8.RuneCountInString(l.Value) > 64:
		return bad("name and value are at most 64 characters")
	}
	return nil
}

func labelStrings(ls []events.Label) ([]string, error) {
	out := make([]string, len(ls))
	for i, l := range ls {
		if err := checkLabel(l); err != nil {
			return nil, err
		}
		out[i] = l.Name + ":" + l.Value
	}
	return out, nil
}

func checkIDs(field string, ids []string) error {
	for _, id := range ids {
		if !safeSegment.MatchString(id) {
			return &Error{Kind: KindValidation, Fields: map[string][]string{field: {fmt.Sprintf("%q is not an id", id)}}}
		}
	}
	return nil
}

func checkProtocols(ps []events.Protocol) error {
	if len(ps) == 0 {
		return &Error{Kind: KindValidation, Fields: map[string][]string{"protocols": {"at least one protocol is required"}}}
	}
	for i, p := range ps {
		if p.Name == "" || p.Port < 0 || p.Port > 65535 {
			return &Error{Kind: KindValidation, Fields: map[string][]string{
				fmt.Sprintf("protocols[%d]", i): {fmt.Sprintf("invalid protocol %s/%d", p.Name, p.Port)}}}
		}
	}
	return nil
}

// createBody checks one HostCreate and renders it for the version.
func createBody(h HostCreate, v Version) (map[string]any, error) {
	fields := map[string][]string{}
	if _, err := uuid.Parse(h.ID); err != nil || !safeSegment.MatchString(h.ID) {
		fields["id"] = []string{"a UUID is required"}
	}
	name := strings.TrimSpace(h.Name)
	switch {
	case name == "":
		fields["name"] = []string{"required"}
	case utf8.RuneCountInString(name) > 128:
		fields["name"] = []string{"longer than 128 characters"}
	}
	addr := strings.TrimSpace(h.Address)
	switch {
	case addr == "":
		fields["address"] = []string{"required"}
	case utf8.RuneCountInString(addr) > 767:
		fields["address"] = []string{"longer than 767 characters"}
	}
	if h.PlatformID <= 0 {
		fields["platform"] = []string{"a platform id is required"}
	}
	merge := func(err error) {
		if e, ok := err.(*Error); ok {
			for k, v := range e.Fields {
				fields[k] = append(fields[k], v...)
			}
		}
	}
	merge(checkProtocols(h.Protocols))
	merge(checkIDs("nodes", h.NodeIDs))
	merge(checkIDs("accounts", h.AccountTemplateIDs))
	if h.ZoneID != "" {
		merge(checkIDs(v.zoneField(), []string{h.ZoneID}))
	}
	labels, err := labelStrings(h.Labels)
	merge(err)
	if len(fields) > 0 {
		return nil, itemErr(KindValidation, "", fields)
	}
	active := true
	if h.IsActive != nil {
		active = *h.IsActive
	}
	protos := make([]map[string]any, len(h.Protocols))
	for i, p := range h.Protocols {
		protos[i] = map[string]any{"name": p.Name, "port": p.Port}
	}
	b := map[string]any{
		"id": strings.ToLower(h.ID), "name": name, "address": addr, "platform": h.PlatformID,
		"protocols": protos, "labels": labels, "is_active": active, "comment": h.Comment,
	}
	if len(h.NodeIDs) > 0 {
		b["nodes"] = h.NodeIDs
	}
	if h.ZoneID != "" {
		b[v.zoneField()] = h.ZoneID
	}
	if len(h.AccountTemplateIDs) > 0 && v != V47 {
		accs := make([]map[string]string, len(h.AccountTemplateIDs))
		for i, t := range h.AccountTemplateIDs {
			accs[i] = map[string]string{"template": t}
		}
		b["accounts"] = accs
	}
	return b, nil
}

// patchBody checks one HostPatch and renders it for the version.
func patchBody(p HostPatch, v Version) (map[string]any, error) {
	if !safeSegment.MatchString(p.ID) {
		return nil, &Error{Kind: KindValidation, Method: http.MethodPatch, Path: hostsPath,
			Fields: map[string][]string{"id": {fmt.Sprintf("%q is not an id", p.ID)}}}
	}
	b := map[string]any{"id": strings.ToLower(p.ID)}
	fields := map[string][]string{}
	if p.Address != nil {
		a := strings.TrimSpace(*p.Address)
		if a == "" {
			fields["address"] = []string{"may not be blank"}
		}
		b["address"] = a
	}
	if p.Labels != nil {
		ls, err := labelStrings(*p.Labels)
		if err != nil {
			return nil, err
		}
		b["labels"] = ls
	}
	if p.NodeIDs != nil {
		if len(*p.NodeIDs) == 0 {
			fields["nodes"] = []string{"an empty node set would move the host to the org root"}
		}
		if err := checkIDs("nodes", *p.NodeIDs); err != nil {
			return nil, err
		}
		b["nodes"] = *p.NodeIDs
	}
	if p.ZoneID != nil {
		if *p.ZoneID == "" {
			b[v.zoneField()] = nil
		} else {
			if err := checkIDs(v.zoneField(), []string{*p.ZoneID}); err != nil {
				return nil, err
			}
			b[v.zoneField()] = *p.ZoneID
		}
	}
	if p.PlatformID != nil {
		if *p.PlatformID <= 0 {
			fields["platform"] = []string{"a platform id is required"}
		}
		b["platform"] = *p.PlatformID
	}
	if p.IsActive != nil {
		b["is_active"] = *p.IsActive
	}
	if p.Comment != nil {
		b["comment"] = *p.Comment
	}
	if len(fields) > 0 {
		return nil, &Error{Kind: KindValidation, Method: http.MethodPatch, Path: hostsPath, Fields: fields}
	}
	return b, nil
}

// PatchHost changes one host's owned fields with PATCH /hosts/{id}/.
func (c *Client) PatchHost(ctx context.Context, p HostPatch) (*Host, error) {
	body, err := patchBody(p, c.version())
	if err != nil {
		return nil, err
	}
	path, err := objectPath(hostsPath, p.ID)
	if err != nil {
		return nil, err
	}
	delete(body, "id")
	var h Host
	// a PATCH of absolute values is idempotent: resending after a lost
	// response is safe
	if _, err := c.do(ctx, call{method: http.MethodPatch, path: path, body: body, retry: true}, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// DeleteHost deletes one host. A host that is already gone is not an error:
// deleted is then false.
func (c *Client) DeleteHost(ctx context.Context, id string) (deleted bool, err error) {
	path, err := objectPath(hostsPath, id)
	if err != nil {
		return false, err
	}
	_, err = c.do(ctx, call{method: http.MethodDelete, path: path, retry: true}, nil)
	switch {
	case err == nil:
		return true, nil
	case KindOf(err) == KindNotFound:
		return false, nil
	}
	return false, err
}

// EnsureAccounts adds one account per template to an existing asset,
// skipping accounts that already exist (on_invalid=skip). CreateHosts calls
// it on 4.7; call it again when ItemResult.AccountsErr was set.
func (c *Client) EnsureAccounts(ctx context.Context, assetID string, templateIDs []string) error {
	if err := checkIDs("asset", []string{assetID}); err != nil {
		return err
	}
	if err := checkIDs("template", templateIDs); err != nil {
		return err
	}
	for _, t := range templateIDs {
		body := map[string]any{"asset": strings.ToLower(assetID), "template": t, "on_invalid": "skip"}
		_, err := c.do(ctx, call{method: http.MethodPost, path: accountsPath, body: body}, nil)
		if err == nil {
			continue
		}
		if e, ok := err.(*Error); ok && e.Kind == KindValidation && len(e.Fields["template"]) > 0 {
			c.forgetTemplates()
			e.Err = ErrTemplateNotFound
			return fmt.Errorf("account from template %s on asset %s: %w", t, assetID, e)
		}
		return fmt.Errorf("account from template %s on asset %s: %w", t, assetID, err)
	}
	return nil
}
