// Package ui serves the admin single-page UI: plain HTML, CSS and
// JavaScript embedded into the hostd binary with go:embed, with no build
// step and nothing fetched from outside the host.
//
// It owns only those bytes and the headers they are served with (content
// type, cache validators, a strict Content-Security-Policy). It must never
// talk to the admin API, hold or check credentials, or serve anything that
// is not embedded: the page's scripts call /v1 from the operator's browser
// with the session cookie, and the admin API authenticates those calls.
package ui

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
)

// static holds index.html (served at "/") and the assets (served under
// AssetPrefix). The tree is fixed at build time.
//
//go:embed static
var static embed.FS

// AssetPrefix is the URL path prefix of the static assets. The admin API
// mounts Handler at exactly "GET /" and at "GET /assets/".
const AssetPrefix = "/assets/"

// Handler returns the handler that serves the embedded UI: "/" is the page
// and AssetPrefix+name its assets. Only GET and HEAD are allowed; every
// other path is 404. It needs no credentials and sets its own security
// headers (see ContentSecurityPolicy).
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(fmt.Sprintf("ui: embedded tree: %v", err))
	}
	h, err := newHandler(sub)
	if err != nil {
		// The embedded files are fixed at build time and checked by the
		// package's tests, so this is a build defect, not a runtime state.
		panic(fmt.Sprintf("ui: %v", err))
	}
	return h
}
