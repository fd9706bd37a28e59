package jmssim

import (
	"fmt"
	"strings"
)

// Message keys that Options.Messages may override. Texts follow the English
// catalogue of the selected version (spec §2 "Language").
const (
	MsgUnique          = "unique"            // "Field must be unique" (4.7: "This field must be unique.")
	MsgNotExist        = "not_exist"         // "%s object does not exist" (4.7: with a full stop)
	MsgRootSave        = "root_save"         // "Please select an organization before saving"
	MsgNodeDup         = "node_dup"          // "Node names at the same level cannot be duplicated"
	MsgAssetCap        = "asset_cap"         // "The number of assets exceeds the limit of %d"
	MsgCreateDirectly  = "create_directly"   // POST /assets/assets/
	MsgRequired        = "required"          // DRF "This field is required."
	MsgInvalidPK       = "invalid_pk"        // DRF `Invalid pk "%s" - object does not exist.`
	MsgNotAuth         = "not_authenticated" // DRF
	MsgInvalidSig      = "invalid_signature"
	MsgPermission      = "permission_denied"
	MsgThrottled       = "throttled" // "Request was throttled. Expected available in %d seconds."
	MsgPlatformMatch   = "platform_mismatch"
	MsgProtocolReq     = "protocol_required"
	MsgRootNodeRename  = "root_node_rename"
	MsgRootNodeDelete  = "root_node_delete"
	MsgNodeHasAssets   = "node_has_assets"
	MsgServerError     = "server_error"
	MsgInvalidBearer47 = "invalid_bearer"
)

var messages410 = map[string]string{
	MsgUnique:          "Field must be unique",
	MsgNotExist:        "%s object does not exist",
	MsgRootSave:        "Please select an organization before saving",
	MsgNodeDup:         "Node names at the same level cannot be duplicated",
	MsgAssetCap:        "The number of assets exceeds the limit of %d",
	MsgCreateDirectly:  "Cannot create asset directly, you should create a host or other",
	MsgRequired:        "This field is required.",
	MsgInvalidPK:       `Invalid pk "%s" - object does not exist.`,
	MsgNotAuth:         "Authentication credentials were not provided.",
	MsgInvalidSig:      "Invalid signature.",
	MsgPermission:      "You do not have permission to perform this action.",
	MsgThrottled:       "Request was throttled. Expected available in %d seconds.",
	MsgPlatformMatch:   "Platform does not match: %s",
	MsgProtocolReq:     "Protocol is required: %s",
	MsgRootNodeRename:  "The root node name cannot be modified",
	MsgRootNodeDelete:  "You can't delete the root node (%s)",
	MsgNodeHasAssets:   "Deletion failed, the node contains assets",
	MsgServerError:     "Server internal error",
	MsgInvalidBearer47: "Invalid token or cache refreshed.",
}

var messages47 = map[string]string{
	MsgUnique:   "This field must be unique.",
	MsgNotExist: "%s object does not exist.",
	MsgRootSave: "请选择一个组织后再保存",
}

func (s *Server) msg(key string, args ...any) string {
	t, ok := s.opts.Messages[key]
	if !ok {
		if s.v47() {
			t, ok = messages47[key]
		}
		if !ok {
			t = messages410[key]
		}
	}
	if len(args) > 0 && strings.Contains(t, "%") {
		return fmt.Sprintf(t, args...)
	}
	return t
}
