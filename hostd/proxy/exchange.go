package proxy

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

const (
	decisionAllowed = "allowed"
	decisionDenied  = "denied"
)

// exchange is one request being decided and forwarded.
type exchange struct {
	h         *requestHead
	scheme    string // http, https, ws, wss
	host      string // target host as given (CONNECT target or URI host)
	port      int
	target    string // origin-form path[?query]
	websocket bool
	ev        netstate.Event
}

func (x *exchange) policyRequest() policy.Request {
	return policy.Request{
		Scheme:     x.scheme,
		Method:     x.h.Method,
		Host:       x.host,
		Port:       x.port,
		HostHeader: x.h.HostHeader,
		Target:     x.target,
		Header:     x.h.Header,
	}
}

// handleRequest decides one request and, when allowed, forwards it. It
// reports whether the client connection may carry another request.
func (p *Proxy) handleRequest(ctx context.Context, c *clientConn, h *requestHead, tun *tunnel) bool {
	x, status, reason := newExchange(h, tun)
	// The time of the decision, not of the (possibly much later) outcome
	// that is recorded with it; an EventSink may keep it or stamp its own.
	x.ev.Timestamp = p.cfg.Clock()
	if status != 0 {
		p.deny(c, x.ev, status, reason, "", true)
		return false
	}
	comp, pins, perr := p.cfg.Policy.Current()
	var d policy.Decision
	if perr != nil {
		d = policyUnavailable(perr)
	} else {
		d = comp.Decide(x.policyRequest(), pins)
	}
	if d.Host != "" {
		x.ev.Host = d.Host
	}
	if !d.Allow {
		status := http.StatusForbidden
		if d.Step == policy.StepConsistency {
			status = http.StatusBadRequest
		}
		return p.denyAndRecover(c, x, status, d.Reason, d.Hint)
	}
	if x.websocket {
		return p.forwardWebSocket(ctx, c, x, d)
	}
	return p.forwardHTTP(ctx, c, x, d)
}

// newExchange derives scheme, target host, port and origin-form target
// from the head, checking what the policy cannot see: the request-target
// form and, for plain HTTP, that the absolute-form URI agrees with Host.
// A non-zero status means the request is refused as malformed.
func newExchange(h *requestHead, tun *tunnel) (*exchange, int, string) {
	x := &exchange{h: h}
	x.websocket = isWebSocketUpgrade(h)
	x.ev = netstate.Event{Method: h.Method}
	if tun != nil {
		x.scheme, x.host, x.port = "https", tun.host, tun.port
		if x.websocket {
			x.scheme = "wss"
		}
		x.ev.Protocol, x.ev.Host, x.ev.Port = x.scheme, tun.host, tun.port
		target := h.Target
		if !strings.HasPrefix(target, "/") {
			// Absolute-form inside a tunnel: it must name the tunnel's
			// own origin, else it is an attempt to reach another host.
			u, ok := parseAbsolute(target)
			if !ok || u.scheme != "https" {
				x.ev.Path = clip(target)
				return x, http.StatusBadRequest, "request target inside a tunnel must be origin-form or an https URL of the tunnel host"
			}
			if u.port == 0 {
				u.port = 443
			}
			n, err := policy.NormalizeHost(u.host)
			if err != nil || n != tun.host || u.port != tun.port {
				x.ev.Path, x.ev.Query = splitTarget(u.target)
				return x, http.StatusBadRequest, "absolute request URI names another origin than the CONNECT target " + strconv.Quote(tun.host)
			}
			target = u.target
		}
		x.target = target
		x.ev.Path, x.ev.Query = splitTarget(target)
		if h.HostHeader == "" { // HTTP/1.0 may omit Host
			h.HostHeader = tun.host
		}
		if strings.HasPrefix(target, "//") {
			return x, http.StatusBadRequest, "request path must not start with \"//\""
		}
		return x, 0, ""
	}
	x.scheme = "http"
	if x.websocket {
		x.scheme = "ws"
	}
	x.ev.Protocol = x.scheme
	u, ok := parseAbsolute(h.Target)
	if !ok {
		x.ev.Path = clip(h.Target)
		if hasUserinfo(h.Target) {
			return x, http.StatusBadRequest, "a proxy request URL must not carry credentials (user@host)"
		}
		return x, http.StatusBadRequest, "a proxy request must use an absolute http:// URL (use CONNECT for https)"
	}
	x.host, x.port, x.target = u.host, u.port, u.target
	if x.port == 0 {
		x.port = 80
	}
	x.ev.Host, x.ev.Port = clip(u.host), x.port
	x.ev.Path, x.ev.Query = splitTarget(u.target)
	if u.scheme != "http" {
		return x, http.StatusBadRequest, "absolute-form " + u.scheme + ":// requests are not proxied; use CONNECT for https"
	}
	if strings.HasPrefix(u.target, "//") {
		return x, http.StatusBadRequest, "request path must not start with \"//\""
	}
	if h.HostHeader == "" { // HTTP/1.0 may omit Host: the URI names it
		h.HostHeader = u.host
		if u.port != 0 {
			h.HostHeader += ":" + strconv.Itoa(u.port)
		}
	}
	// The Host header must name the same origin as the URI (RFC 9112
	// §3.2.2 lets a server ignore Host; an upstream might not).
	hh, hp, hasPort := strings.Cut(h.HostHeader, ":")
	nu, err1 := policy.NormalizeHost(u.host)
	nh, err2 := policy.NormalizeHost(hh)
	if err1 == nil && (err2 != nil || nh != nu) {
		return x, http.StatusBadRequest, "Host header does not match the absolute request URI host"
	}
	if hasPort {
		if n, err := strconv.Atoi(hp); err != nil || n != x.port {
			return x, http.StatusBadRequest, "Host header port does not match the absolute request URI port"
		}
	}
	return x, 0, ""
}

type absoluteURI struct {
	scheme string
	host   string
	port   int // 0 when absent
	target string
}

// parseAbsolute parses "scheme://host[:port][/path][?query]" strictly:
// no userinfo, no IPv6 zone tricks; an empty path becomes "/".
func parseAbsolute(s string) (absoluteURI, bool) {
	var u absoluteURI
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return u, false
	}
	u.scheme = strings.ToLower(scheme)
	end := strings.IndexAny(rest, "/?")
	auth := rest
	u.target = "/"
	if end >= 0 {
		auth = rest[:end]
		u.target = rest[end:]
		if u.target[0] == '?' {
			u.target = "/" + u.target
		}
	}
	if auth == "" || strings.ContainsAny(auth, "@\\%") {
		return u, false
	}
	host := auth
	if strings.HasPrefix(auth, "[") {
		i := strings.IndexByte(auth, ']')
		if i < 0 {
			return u, false
		}
		host = auth[:i+1]
		auth = auth[i+1:]
		if auth != "" && auth[0] != ':' {
			return u, false
		}
		if auth != "" {
			auth = host + auth
		} else {
			auth = host
		}
	}
	if i := strings.LastIndexByte(auth, ':'); i >= 0 && !strings.HasSuffix(auth, "]") {
		ps := auth[i+1:]
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 || ps[0] == '+' || ps[0] == '0' {
			return u, false
		}
		host, u.port = auth[:i], n
	}
	if host == "" {
		return u, false
	}
	u.host = host
	return u, true
}

// originForm turns a target into origin-form when it is absolute.
func originForm(target string) string {
	if strings.HasPrefix(target, "/") {
		return target
	}
	if u, ok := parseAbsolute(target); ok {
		return u.target
	}
	return clip(target)
}

// splitTarget splits an origin-form target into path and query (no '?').
func splitTarget(t string) (string, string) {
	path, query, _ := strings.Cut(t, "?")
	return path, query
}

func isWebSocketUpgrade(h *requestHead) bool {
	return h.Method == http.MethodGet &&
		headerHasToken(h.Header, "Connection", "upgrade") &&
		headerHasToken(h.Header, "Upgrade", "websocket")
}

// hasUserinfo reports whether an absolute-form target has an '@' in its
// authority, to name that as the reason parseAbsolute refused it.
func hasUserinfo(s string) bool {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	if end := strings.IndexAny(rest, "/?"); end >= 0 {
		rest = rest[:end]
	}
	return strings.Contains(rest, "@")
}
