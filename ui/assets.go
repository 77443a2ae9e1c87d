package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// contentTypes maps the file extensions the UI ships to their media types.
// The table is explicit (not mime.TypeByExtension) so the answer does not
// depend on the host's /etc/mime.types: a module script served with the
// wrong type is refused by the browser.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// gzipMinSize: smaller files are not worth a compressed copy.
const gzipMinSize = 512

// asset is one file ready to serve.
type asset struct {
	urlPath     string
	contentType string
	body        []byte
	etag        string // strong validator of body, quoted
	gz          []byte // gzip of body, nil when it would not help
	gzETag      string
}

// loadAssets reads every file of fsys into memory and maps it to its URL
// path: index.html to "/", assets/<name> to AssetPrefix+<name>. A file of
// an unknown type or outside those places is an error, so nothing is
// served by accident.
func loadAssets(fsys fs.FS) (map[string]*asset, error) {
	out := map[string]*asset{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walking embedded UI at %q: %w", name, err)
		}
		if d.IsDir() {
			return nil
		}
		urlPath, err := urlPathOf(name)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("embedded UI file %q: no content type for extension %q", name, path.Ext(name))
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("reading embedded UI file %q: %w", name, err)
		}
		a := &asset{urlPath: urlPath, contentType: ct, body: body, etag: etagOf(body)}
		if len(body) >= gzipMinSize {
			gz, err := gzipBytes(body)
			if err != nil {
				return fmt.Errorf("compressing embedded UI file %q: %w", name, err)
			}
			if len(gz) < len(body) {
				a.gz, a.gzETag = gz, etagOf(gz)
			}
		}
		out[urlPath] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := out["/"]; !ok {
		return nil, fmt.Errorf("embedded UI has no index.html")
	}
	return out, nil
}

// urlPathOf maps an embedded file name to the URL path it is served at.
func urlPathOf(name string) (string, error) {
	if name == "index.html" {
		return "/", nil
	}
	if rest, ok := strings.CutPrefix(name, "assets/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return AssetPrefix + rest, nil
	}
	return "", fmt.Errorf("embedded UI file %q is outside index.html and assets/", name)
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
