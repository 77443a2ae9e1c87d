package ui

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ContentSecurityPolicy is sent with every UI response. The page uses no
// inline script or style, no eval, and talks only to its own origin, so the
// browser is told to refuse anything else. form-action 'none' keeps a
// failed script from ever submitting the login form (and the password)
// through a plain form submission. The admin API may send the same header
// on its own responses.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// handler serves the in-memory assets.
type handler struct {
	assets map[string]*asset
}

func newHandler(fsys fs.FS) (*handler, error) {
	assets, err := loadAssets(fsys)
	if err != nil {
		return nil, err
	}
	return &handler{assets: assets}, nil
}

// ServeHTTP serves one asset. Order of checks:
//  1. The path must name an embedded file exactly ("/" is index.html);
//     else 404.
//  2. The method must be GET or HEAD; else 405.
//  3. A gzip copy is sent when the client accepts gzip and one exists.
//  4. If-None-Match with the current validator answers 304.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.URL.Path]
	if !ok {
		writeError(w, http.StatusNotFound, "no such UI page or asset: "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "the UI only answers GET and HEAD")
		return
	}
	hdr := w.Header()
	setSecurityHeaders(hdr)
	hdr.Set("Content-Type", a.contentType)
	// Revalidate every time: file names carry no version, and an upgraded
	// host must never mix old and new scripts. The 304 keeps it cheap.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Vary", "Accept-Encoding")

	body, etag := a.body, a.etag
	if a.gz != nil && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		body, etag = a.gz, a.gzETag
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("ETag", etag)
	// ServeContent answers If-None-Match (304), HEAD and ranges; a zero
	// modtime keeps it from sending Last-Modified, which embedded files
	// do not have.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func setSecurityHeaders(hdr http.Header) {
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// writeError answers in the admin API's error shape so that every non-2xx
// body on the admin port looks the same.
func writeError(w http.ResponseWriter, status int, msg string) {
	body, err := json.Marshal(map[string]map[string]string{"error": {"message": msg}})
	if err != nil {
		http.Error(w, msg, status)
		return
	}
	setSecurityHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// acceptsGzip reports whether Accept-Encoding values allow gzip: "gzip",
// "x-gzip" or "*" with a non-zero quality, unless gzip itself is refused
// with q=0.
func acceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			ok := qualityNonZero(params)
			switch coding {
			case "gzip", "x-gzip":
				return ok
			case "*":
				star = ok
			}
		}
	}
	return star
}

// qualityNonZero reads the q parameter of one Accept-Encoding element; a
// missing or unreadable q counts as 1.
func qualityNonZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return true
		}
		return q > 0
	}
	return true
}
