package adminapi

import "strings"

// loopbackHost reports whether a Host header names this machine by one of
// the loopback names admin-api.md allows: 127.0.0.1, localhost (any case)
// or [::1], each with an optional port 1–65535.
//
// The port is optional and not compared with the listening port: the SSH
// tunnel may forward any local port (the browser then sends that one), and
// a port-less loopback name cannot be a DNS-rebinding attack, which always
// arrives with the attacker's own host name. Everything else — other
// names, other loopback spellings (127.0.0.2, ::1 without brackets,
// localhost.), an empty Host — is refused.
func loopbackHost(h string) bool {
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		host, port = h[1:end], h[end+1:]
		if host != "::1" {
			return false
		}
		if port == "" {
			return true
		}
		if port[0] != ':' {
			return false
		}
		return validPort(port[1:])
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if !validPort(port) {
			return false
		}
	}
	return host == "127.0.0.1" || strings.EqualFold(host, "localhost")
}

// validPort: 1–5 decimal digits, value 1–65535.
func validPort(p string) bool {
	if len(p) == 0 || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= 65535
}
