package policy

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// RequestFromURL describes a request to rawURL the way the proxy would see
// it (for the admin API's policy check): the target host is the URL's, the
// Host header agrees with it, and the port defaults by scheme. Headers are
// empty, so account guards judge it as a request without credentials.
func RequestFromURL(method, rawURL string) (Request, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Request{}, fmt.Errorf("parse URL: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	var port int
	switch scheme {
	case "http", "ws":
		port = 80
	case "https", "wss":
		port = 443
	default:
		return Request{}, fmt.Errorf("URL scheme must be http, https, ws or wss, not %q", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return Request{}, fmt.Errorf("URL %q has no host", rawURL)
	}
	if u.User != nil {
		return Request{}, fmt.Errorf("URL must not carry credentials")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return Request{}, fmt.Errorf("URL port %q is not a number from 1 to 65535 (without leading zeros, which the proxy refuses)", p)
		}
		port = n
	}
	target := u.EscapedPath()
	if target == "" {
		target = "/"
	}
	if strings.HasPrefix(target, "//") {
		return Request{}, fmt.Errorf("URL path must not start with \"//\" (the proxy refuses such requests whatever the policy says)")
	}
	if u.RawQuery != "" || u.ForceQuery {
		target += "?" + u.RawQuery
	}
	m := strings.TrimSpace(method)
	if m == "" {
		return Request{}, fmt.Errorf("method is required")
	}
	return Request{
		Scheme:     scheme,
		Method:     m,
		Host:       u.Hostname(),
		Port:       port,
		HostHeader: u.Host,
		Target:     target,
	}, nil
}
