package ui

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// get requests path from h without the transport's transparent gzip, so
// the test sees exactly what the handler sent.
func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// embeddedFiles lists every embedded file with the URL path it must be
// served at.
func embeddedFiles(t testing.TB) map[string]string {
	t.Helper()
	sub, err := fs.Sub(static, "static")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		u := "/" + name
		if name == "index.html" {
			u = "/"
		}
		out[name] = u
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEveryEmbeddedFileIsServedWithItsContentType(t *testing.T) {
	want := map[string]string{
		".html": "text/html; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".svg":  "image/svg+xml",
	}
	h := Handler()
	files := embeddedFiles(t)
	if len(files) < 5 {
		t.Fatalf("only %d embedded files: %v", len(files), files)
	}
	for name, urlPath := range files {
		body, err := fs.ReadFile(static, "static/"+name)
		if err != nil {
			t.Fatal(err)
		}
		ext := name[strings.LastIndex(name, "."):]
		resp := get(t, h, http.MethodGet, urlPath, map[string]string{"Accept-Encoding": "identity"})
		got := readAll(t, resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", urlPath, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != want[ext] {
			t.Errorf("%s: Content-Type %q, want %q", urlPath, ct, want[ext])
		}
		if !bytes.Equal(got, body) {
			t.Errorf("%s: body differs from the embedded file", urlPath)
		}
		if resp.Header.Get("Content-Security-Policy") != ContentSecurityPolicy ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing: %v", urlPath, resp.Header)
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: cache headers: ETag %q Cache-Control %q", urlPath, resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
		}
	}
}

func TestHeadAnswersWithoutBody(t *testing.T) {
	resp := get(t, Handler(), http.MethodHead, "/", nil)
	if resp.StatusCode != http.StatusOK || len(readAll(t, resp.Body)) != 0 {
		t.Fatalf("HEAD /: status %d", resp.StatusCode)
	}
	if resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("HEAD /: Content-Type %q", resp.Header.Get("Content-Type"))
	}
}

func TestUnknownPathsAre404InTheAPIErrorShape(t *testing.T) {
	h := Handler()
	for _, p := range []string{
		"/index.html", "/assets/", "/assets/nope.js", "/assets/../index.html",
		"/assets/app.js/", "/v1/health", "/static/index.html", "/assets/APP.JS", "/favicon.ico",
	} {
		resp := get(t, h, http.MethodGet, p, nil)
		body := readAll(t, resp.Body)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, resp.StatusCode)
			continue
		}
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" {
			t.Errorf("%s: body %q is not the API error shape (%v)", p, body, err)
		}
	}
}

func TestMutatingMethodsAre405(t *testing.T) {
	h := Handler()
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		resp := get(t, h, m, "/assets/app.js", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d Allow %q", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: error Content-Type %q", m, ct)
		}
	}
}

func TestRevalidationWithETagAnswers304(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, "/assets/app.js", map[string]string{"Accept-Encoding": "identity"})
	etag := first.Header.Get("ETag")
	again := get(t, h, http.MethodGet, "/assets/app.js", map[string]string{"Accept-Encoding": "identity", "If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match %s: status %d, want 304", etag, again.StatusCode)
	}
	other := get(t, h, http.MethodGet, "/assets/app.js", map[string]string{"Accept-Encoding": "identity", "If-None-Match": `"stale"`})
	if other.StatusCode != http.StatusOK {
		t.Fatalf("stale ETag: status %d, want 200", other.StatusCode)
	}
}

func TestGzipIsServedOnlyWhenAccepted(t *testing.T) {
	h := Handler()
	plain, err := fs.ReadFile(static, "static/assets/app.css")
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, h, http.MethodGet, "/assets/app.css", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip not used: %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, zr); !bytes.Equal(got, plain) {
		t.Fatal("gzip body does not decode to the file")
	}
	identity := get(t, h, http.MethodGet, "/assets/app.css", map[string]string{"Accept-Encoding": "gzip;q=0, *"})
	if identity.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent although refused with q=0")
	}
	if identity.Header.Get("ETag") == resp.Header.Get("ETag") {
		t.Fatal("gzip and identity bodies share an ETag")
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"deflate, br"}, false},
		{[]string{"br", "gzip"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"gzip;q=0.5"}, true},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"*, gzip;q=0"}, false},
		{[]string{"gzip;q=bogus"}, true},
		{[]string{"gzipfoo"}, false},
	} {
		if got := acceptsGzip(tc.in); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestStrayOrUntypedFilesAreRefusedAtLoad(t *testing.T) {
	index := &fstest.MapFile{Data: []byte("<!doctype html>")}
	for name, fsys := range map[string]fstest.MapFS{
		"no index":          {"assets/app.js": {Data: []byte("x")}},
		"unknown extension": {"index.html": index, "assets/notes.txt": {Data: []byte("x")}},
		"outside assets":    {"index.html": index, "secret.js": {Data: []byte("x")}},
		"nested asset":      {"index.html": index, "assets/sub/app.js": {Data: []byte("x")}},
	} {
		if _, err := loadAssets(fsys); err == nil {
			t.Errorf("%s: loadAssets accepted it", name)
		}
	}
	ok := fstest.MapFS{"index.html": index, "assets/app.js": {Data: []byte("x")}}
	if _, err := loadAssets(ok); err != nil {
		t.Fatalf("valid tree refused: %v", err)
	}
}
