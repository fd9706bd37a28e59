package jumpserver

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Kind classifies a failure once, so that callers act at the edges
// (go-style-anchors §5 rule 4).
type Kind string

const (
	// KindValidation: JumpServer refused the data (400 with field errors).
	// Permanent for this item; Fields says why.
	KindValidation Kind = "validation"
	// KindAuth: 401/403 — wrong key or secret, inactive key, IP not allowed,
	// missing permission. Global: every further call fails the same way.
	KindAuth Kind = "auth"
	// KindThrottled: 429 even after waiting for Retry-After (bounded).
	// Transient; RetryAfter carries the server's hint.
	KindThrottled Kind = "throttled"
	// KindUnavailable: 502/503/504, non-JSON 5xx, timeouts, dropped
	// connections, or an open breaker. Transient.
	KindUnavailable Kind = "unavailable"
	// KindInternal: a JSON 500 from the application. On a single item after
	// bisection it is that item's own error (e.g. a name held by another org's
	// id); elsewhere it counts like an outage.
	KindInternal Kind = "internal"
	// KindCap: the Community Edition asset cap. Global: creates pause.
	KindCap Kind = "cap"
	// KindNotFound: the object (host, node, platform, template, zone) does
	// not exist.
	KindNotFound Kind = "not_found"
	// KindConflict: the object exists already, or its name is held by
	// another asset (a database, a device…).
	KindConflict Kind = "conflict"
	// KindConfig: the configuration does not fit the server (an org that does
	// not exist, an unrecognised server). Global.
	KindConfig Kind = "config"
)

// Sentinels. Every *Error matches the sentinel of its Kind with errors.Is;
// the more specific ones below are wrapped where they apply.
var (
	ErrValidation  = errors.New("jumpserver: validation error")
	ErrAuth        = errors.New("jumpserver: authentication or permission refused")
	ErrThrottled   = errors.New("jumpserver: throttled")
	ErrUnavailable = errors.New("jumpserver: unavailable")
	ErrInternal    = errors.New("jumpserver: internal server error")
	ErrCap         = errors.New("jumpserver: community edition asset cap reached")
	ErrNotFound    = errors.New("jumpserver: not found")
	ErrConflict    = errors.New("jumpserver: conflict")
	ErrConfig      = errors.New("jumpserver: configuration does not fit the server")

	// ErrBreakerOpen: the circuit breaker refused the call (open or half-open
	// and busy); nothing was sent. Global while it lasts.
	ErrBreakerOpen = errors.New("jumpserver: circuit breaker open")
	// ErrUnknownOrg: the configured org does not exist (Community Edition
	// would silently have used Default).
	ErrUnknownOrg = errors.New("jumpserver: organisation does not exist")
	// ErrAlreadyExists: a create found the client-chosen id taken.
	ErrAlreadyExists = errors.New("jumpserver: asset id already exists")
	// ErrPlatformNotFound, ErrTemplateNotFound, ErrZoneNotFound: a name did
	// not resolve. A missing account template is global (safety rule 7).
	ErrPlatformNotFound = errors.New("jumpserver: platform not found")
	ErrTemplateNotFound = errors.New("jumpserver: account template not found")
	ErrZoneNotFound     = errors.New("jumpserver: zone not found")
	// ErrNotStarted: a method needing Start's discoveries ran before Start.
	ErrNotStarted = errors.New("jumpserver: client not started")
)

var kindSentinel = map[Kind]error{
	KindValidation: ErrValidation, KindAuth: ErrAuth, KindThrottled: ErrThrottled,
	KindUnavailable: ErrUnavailable, KindInternal: ErrInternal, KindCap: ErrCap,
	KindNotFound: ErrNotFound, KindConflict: ErrConflict, KindConfig: ErrConfig,
}

// Error is every failure the client reports. It never carries request
// headers, the secret or request bodies.
type Error struct {
	Kind   Kind
	Status int    // HTTP status; 0 when no response arrived
	Method string // HTTP method
	Path   string // URL path (no query)
	// Fields are the server's field errors, flattened: "name",
	// "protocols[0].port", "platform"…
	Fields map[string][]string
	// Message is the server's detail/error text or a description of the
	// transport failure (never keyed on by this package).
	Message string
	// RetryAfter is the server's hint on 429, or the breaker's open timeout.
	RetryAfter time.Duration
	// Timeout reports that no response arrived in time (or the connection
	// dropped): the outcome of a write is unknown.
	Timeout bool
	// Err is the cause: a sentinel such as ErrUnknownOrg, or a transport error.
	Err error

	raw any // the parsed body, for the bulk logic
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("jumpserver: ")
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteByte(' ')
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(string(e.Kind))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (%d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		b.WriteString(": ")
		b.WriteString(formatFields(e.Fields))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Err != nil && e.Message == "" {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's Kind.
func (e *Error) Is(target error) bool { return kindSentinel[e.Kind] == target }

func formatFields(f map[string][]string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(f[k], "; "))
	}
	return strings.Join(parts, ", ")
}

// KindOf returns the Kind of err's *Error, or "" when err is not one.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// IsGlobal reports a condition that affects every call, not one item: auth
// refused, the asset cap, an open breaker, a wrong org or a missing account
// template. The applier pauses and alerts once instead of dead-lettering.
func IsGlobal(err error) bool {
	if err == nil {
		return false
	}
	switch {
	case errors.Is(err, ErrBreakerOpen), errors.Is(err, gobreaker.ErrOpenState),
		errors.Is(err, gobreaker.ErrTooManyRequests), errors.Is(err, ErrTemplateNotFound):
		return true
	}
	switch KindOf(err) {
	case KindAuth, KindCap, KindConfig:
		return true
	}
	return false
}

// IsTransient reports a failure worth retrying later as is: throttling,
// unavailability (breaker open included) and application 500s.
func IsTransient(err error) bool {
	switch KindOf(err) {
	case KindThrottled, KindUnavailable, KindInternal:
		return true
	}
	return false
}

// IsNotFound reports a 404 (or a name that did not resolve).
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// flattenFields turns a DRF error body into field → messages:
//
//	{"name":["…"]}                              → name: […]
//	{"protocols":[{},{"port":["…"]}]}           → protocols[1].port: […]
//	{"protocols":{"protocols":"…"}}             → protocols: […]
//	{"protocols":{"non_field_errors":["…"]}}    → protocols: […]
func flattenFields(v any) map[string][]string {
	out := map[string][]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		key := prefix
		if key == "" {
			key = "non_field_errors"
		}
		switch x := v.(type) {
		case string:
			out[key] = append(out[key], x)
		case []any:
			allStrings := true
			for _, it := range x {
				if _, ok := it.(string); !ok {
					allStrings = false
				}
			}
			if allStrings {
				for _, it := range x {
					out[key] = append(out[key], it.(string))
				}
				return
			}
			for i, it := range x {
				walk(fmt.Sprintf("%s[%d]", prefix, i), it)
			}
		case map[string]any:
			for k, sub := range x {
				switch {
				case prefix == "":
					walk(k, sub)
				case strings.EqualFold(k, lastSegment(prefix)) || k == "non_field_errors":
					walk(prefix, sub) // {"platform":{"platform":"…"}}
				default:
					walk(prefix+"."+k, sub)
				}
			}
		case nil:
		default:
			out[key] = append(out[key], fmt.Sprint(x))
		}
	}
	walk("", v)
	return out
}

func lastSegment(p string) string {
	if i := strings.LastIndexAny(p, ".]"); i >= 0 && i+1 < len(p) {
		return p[i+1:]
	}
	return p
}
