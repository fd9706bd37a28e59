package dingtalksim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MsgTypes are the message types DingTalk accepts (case-sensitive).
var MsgTypes = []string{"text", "link", "markdown", "actionCard", "feedCard"}

type object map[string]json.RawMessage

// decodeObject decodes raw as a JSON object; absent or null gives an empty
// object and ok=true; any other JSON type gives ok=false.
func decodeObject(raw json.RawMessage) (object, bool) {
	if isNull(raw) {
		return object{}, true
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		return nil, false
	}
	return o, true
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// str reads a string member. Keys match exactly (unlike encoding/json's
// struct decoding, which ignores case). ok=false: present but not a string.
func (o object) str(key string) (string, bool) {
	raw := o[key]
	if isNull(raw) {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func (o object) strings(key string) ([]string, bool) {
	raw := o[key]
	if isNull(raw) {
		return nil, true
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, false
	}
	return ss, true
}

func (o object) objects(key string) ([]object, bool) {
	raw := o[key]
	if isNull(raw) {
		return nil, true
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, false
	}
	out := make([]object, 0, len(list))
	for _, r := range list {
		if isNull(r) {
			return nil, false
		}
		o, ok := decodeObject(r)
		if !ok {
			return nil, false
		}
		out = append(out, o)
	}
	return out, true
}

// paramError is DingTalk's answer to a missing or malformed field:
// 400402 for most fields, 400403 for the text, with the message shape seen
// from the real service.
func paramError(code int, msgtype, field, reason string) *apiError {
	name, path := msgtype, msgtype
	if field != "" {
		name, path = msgtype+" --》 "+field, msgtype+"."+field
	}
	return &apiError{
		code:   code,
		msg:    fmt.Sprintf("description:参数 %s 缺失，或者参数格式不正确; solution:请填充上对应参数;", name),
		reason: path + ": " + reason,
	}
}

// required reads a non-empty string member of a message object.
func required(o object, code int, msgtype, field string) (string, *apiError) {
	return requiredAs(o, code, msgtype, field, field)
}

// requiredAs is required with the field named label in the error.
func requiredAs(o object, code int, msgtype, key, field string) (string, *apiError) {
	v, ok := o.str(key)
	if !ok {
		return "", paramError(code, msgtype, field, "not a string")
	}
	if strings.TrimSpace(v) == "" {
		return "", paramError(code, msgtype, field, "missing or empty")
	}
	return v, nil
}

func optional(o object, msgtype, field string) (string, *apiError) {
	return optionalAs(o, msgtype, field, field)
}

func optionalAs(o object, msgtype, key, field string) (string, *apiError) {
	v, ok := o.str(key)
	if !ok {
		return "", paramError(ErrParamTitle, msgtype, field, "not a string")
	}
	return v, nil
}

// parseMessage validates a webhook body. On error the returned Message
// still carries the msgtype when it was read.
func parseMessage(body []byte) (Message, *apiError) {
	var m Message
	if !utf8.Valid(body) {
		return m, errCode(ErrMissingJSON, "body is not valid UTF-8")
	}
	var top object
	if err := json.Unmarshal(body, &top); err != nil {
		return m, errCode(ErrMissingJSON, "body is not a JSON object: "+err.Error())
	}
	if top == nil {
		return m, errCode(ErrMissingJSON, "body is JSON null")
	}
	mt, ok := top.str("msgtype")
	if !ok {
		return m, errCode(ErrBadMsgType, "msgtype is not a string")
	}
	m.MsgType = mt
	known := false
	for _, t := range MsgTypes {
		known = known || t == mt
	}
	if !known {
		return m, errCode(ErrBadMsgType, fmt.Sprintf("msgtype %q is not one of %v", mt, MsgTypes))
	}
	body0, ok := decodeObject(top[mt])
	if !ok {
		return m, paramError(ErrParamTitle, mt, "", mt+" is not a JSON object")
	}
	var e *apiError
	switch mt {
	case "text":
		m.Text, e = required(body0, ErrParamText, mt, "content")
	case "markdown":
		if m.Title, e = required(body0, ErrParamTitle, mt, "title"); e == nil {
			m.Text, e = required(body0, ErrParamText, mt, "text")
		}
	case "link":
		e = parseLink(&m, body0)
	case "actionCard":
		e = parseActionCard(&m, body0)
	case "feedCard":
		e = parseFeedCard(&m, body0)
	}
	if e != nil {
		return m, e
	}
	if e := parseAt(&m, top); e != nil {
		return m, e
	}
	return m, nil
}

func parseLink(m *Message, o object) *apiError {
	var e *apiError
	if m.Title, e = required(o, ErrParamTitle, "link", "title"); e != nil {
		return e
	}
	if m.Text, e = required(o, ErrParamText, "link", "text"); e != nil {
		return e
	}
	if m.MessageURL, e = required(o, ErrParamTitle, "link", "messageUrl"); e != nil {
		return e
	}
	m.PicURL, e = optional(o, "link", "picUrl")
	return e
}

func parseActionCard(m *Message, o object) *apiError {
	const mt = "actionCard"
	var e *apiError
	if m.Title, e = required(o, ErrParamTitle, mt, "title"); e != nil {
		return e
	}
	if m.Text, e = required(o, ErrParamText, mt, "text"); e != nil {
		return e
	}
	if raw, present := o["btnOrientation"]; present && !isNull(raw) {
		v, ok := o.str("btnOrientation")
		if !ok || (v != "0" && v != "1") {
			return paramError(ErrParamTitle, mt, "btnOrientation", fmt.Sprintf(`must be the string "0" or "1", got %s`, raw))
		}
		m.BtnOrientation = v
	}
	if v, ok := o.str("hideAvatar"); ok {
		m.HideAvatar = v
	}
	singleTitle, e := optional(o, mt, "singleTitle")
	if e != nil {
		return e
	}
	singleURL, e := optional(o, mt, "singleURL")
	if e != nil {
		return e
	}
	if singleTitle != "" && singleURL != "" {
		m.ButtonMode = "single"
		m.Buttons = []Button{{Title: singleTitle, URL: singleURL}}
		var list []json.RawMessage
		if json.Unmarshal(o["btns"], &list) == nil {
			m.BtnsIgnored = len(list)
		}
		return nil
	}
	btns, ok := o.objects("btns")
	if !ok {
		return paramError(ErrParamTitle, mt, "btns", "not an array of objects")
	}
	if len(btns) == 0 {
		switch {
		case singleTitle != "":
			return paramError(ErrParamTitle, mt, "singleURL", "singleTitle set without singleURL, and no btns")
		case singleURL != "":
			return paramError(ErrParamTitle, mt, "singleTitle", "singleURL set without singleTitle, and no btns")
		}
		return paramError(ErrParamTitle, mt, "btns", "neither singleTitle+singleURL nor btns given")
	}
	m.ButtonMode = "btns"
	for i, b := range btns {
		title, e := requiredAs(b, ErrParamTitle, mt, "title", fmt.Sprintf("btns[%d].title", i))
		if e != nil {
			return e
		}
		u, e := requiredAs(b, ErrParamTitle, mt, "actionURL", fmt.Sprintf("btns[%d].actionURL", i))
		if e != nil {
			return e
		}
		m.Buttons = append(m.Buttons, Button{Title: title, URL: u})
	}
	return nil
}

func parseFeedCard(m *Message, o object) *apiError {
	const mt = "feedCard"
	links, ok := o.objects("links")
	if !ok {
		return paramError(ErrParamTitle, mt, "links", "not an array of objects")
	}
	if len(links) == 0 {
		return paramError(ErrParamTitle, mt, "links", "missing or empty")
	}
	for i, l := range links {
		title, e := requiredAs(l, ErrParamTitle, mt, "title", fmt.Sprintf("links[%d].title", i))
		if e != nil {
			return e
		}
		u, e := requiredAs(l, ErrParamTitle, mt, "messageURL", fmt.Sprintf("links[%d].messageURL", i))
		if e != nil {
			return e
		}
		pic, e := optionalAs(l, mt, "picURL", fmt.Sprintf("links[%d].picURL", i))
		if e != nil {
			return e
		}
		m.Links = append(m.Links, FeedLink{Title: title, MessageURL: u, PicURL: pic})
	}
	return nil
}

func parseAt(m *Message, top object) *apiError {
	raw, present := top["at"]
	if !present || isNull(raw) {
		return nil
	}
	o, ok := decodeObject(raw)
	if !ok {
		return paramError(ErrParamTitle, "at", "", "at is not a JSON object")
	}
	var okM, okU bool
	m.At.Mobiles, okM = o.strings("atMobiles")
	m.At.UserIDs, okU = o.strings("atUserIds")
	switch {
	case !okM:
		return paramError(ErrParamTitle, "at", "atMobiles", "not an array of strings")
	case !okU:
		return paramError(ErrParamTitle, "at", "atUserIds", "not an array of strings")
	}
	if r := o["isAtAll"]; !isNull(r) {
		if err := json.Unmarshal(r, &m.At.IsAtAll); err != nil {
			return paramError(ErrParamTitle, "at", "isAtAll", "not a boolean")
		}
	}
	m.AtSent = true
	mentions := len(m.At.Mobiles)+len(m.At.UserIDs) > 0 || m.At.IsAtAll
	switch m.MsgType {
	case "text", "markdown":
		if m.MsgType == "markdown" {
			for _, id := range append(append([]string(nil), m.At.Mobiles...), m.At.UserIDs...) {
				if id != "" && !strings.Contains(m.Text, "@"+id) {
					m.MissingMentions = append(m.MissingMentions, id)
				}
			}
		}
	default:
		m.AtIgnored = mentions
	}
	return nil
}
