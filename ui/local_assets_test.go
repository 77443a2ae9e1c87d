package ui

import (
	"bytes"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// The host's browser path has no internet and the page runs under a
// strict CSP, so the page may reference only its own embedded assets and
// must carry no inline script, style or event handler.

func readStatic(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(static, "static/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func servedPaths(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, u := range embeddedFiles(t) {
		out[u] = true
	}
	return out
}

func TestIndexReferencesOnlyEmbeddedAssets(t *testing.T) {
	served := servedPaths(t)
	doc, err := html.Parse(bytes.NewReader(readStatic(t, "index.html")))
	if err != nil {
		t.Fatal(err)
	}
	refs := 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			hasSrc := false
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				switch {
				case key == "src" || key == "href" || key == "action" || key == "formaction" ||
					key == "poster" || key == "srcset" || key == "data" || key == "manifest":
					refs++
					hasSrc = hasSrc || key == "src"
					if !served[a.Val] || !strings.HasPrefix(a.Val, AssetPrefix) {
						t.Errorf("<%s %s=%q>: not an embedded asset under %s", n.Data, key, a.Val, AssetPrefix)
					}
				case strings.HasPrefix(key, "on"):
					t.Errorf("<%s %s>: inline event handler (blocked by the CSP)", n.Data, key)
				case key == "style":
					t.Errorf("<%s style>: inline style (blocked by the CSP)", n.Data)
				}
			}
			if n.Data == "script" && !hasSrc {
				t.Errorf("inline <script> (blocked by the CSP)")
			}
			if n.Data == "style" || n.Data == "iframe" || n.Data == "base" {
				t.Errorf("<%s> element not allowed", n.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if refs < 3 {
		t.Fatalf("found only %d asset references; the walk is broken", refs)
	}
}

var (
	jsImport   = regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]`)
	cssURL     = regexp.MustCompile(`(?i)url\(|@import`)
	externalJS = regexp.MustCompile(`(?i)\b(?:fetch|EventSource|WebSocket|importScripts)\s*\(\s*['"\x60]\s*(?:https?:|wss?:)?//`)
	// HTML-parsing sinks and dynamic code: untrusted agent text must never
	// reach markup, and the CSP forbids eval.
	htmlSinks = regexp.MustCompile(`\b(?:innerHTML|outerHTML|insertAdjacentHTML|createContextualFragment|srcdoc|setHTMLUnsafe|parseHTMLUnsafe)\b|\bdocument\.write|\b(?:eval|Function)\s*\(`)
	// Storage a script could read back; the page keeps no credentials.
	jsStorage = regexp.MustCompile(`\b(?:localStorage|sessionStorage|indexedDB|document\.cookie)\b`)
)

func TestScriptsImportOnlyEmbeddedModules(t *testing.T) {
	served := servedPaths(t)
	imports := 0
	for name := range embeddedFiles(t) {
		if path.Ext(name) != ".js" {
			continue
		}
		src := readStatic(t, name)
		for _, m := range jsImport.FindAllSubmatch(src, -1) {
			spec := string(m[1]) + string(m[2])
			imports++
			if !strings.HasPrefix(spec, "./") {
				t.Errorf("%s imports %q: only ./relative modules are allowed", name, spec)
				continue
			}
			if target := path.Join(path.Dir("/"+name), spec); !served[target] {
				t.Errorf("%s imports %q: %s is not embedded", name, spec, target)
			}
		}
		if loc := externalJS.FindIndex(src); loc != nil {
			t.Errorf("%s: connects to another origin: %q", name, src[loc[0]:loc[1]])
		}
		if loc := htmlSinks.FindIndex(src); loc != nil {
			t.Errorf("%s: uses %q; build elements with text nodes instead", name, src[loc[0]:loc[1]])
		}
		if loc := jsStorage.FindIndex(src); loc != nil {
			t.Errorf("%s: uses %q; the page must keep nothing in script-readable storage", name, src[loc[0]:loc[1]])
		}
	}
	if imports < 5 {
		t.Fatalf("found only %d imports; the pattern is broken", imports)
	}
}

func TestStylesLoadNothing(t *testing.T) {
	for name := range embeddedFiles(t) {
		if path.Ext(name) != ".css" {
			continue
		}
		if loc := cssURL.FindIndex(readStatic(t, name)); loc != nil {
			t.Errorf("%s: loads a resource (%q); the UI ships no fonts or images through CSS", name, readStatic(t, name)[loc[0]:loc[1]])
		}
	}
}

func TestSinkPatternsCatchWhatTheyShould(t *testing.T) {
	for _, bad := range []string{`el.innerHTML = x`, `document.write(x)`, `eval(x)`, `new Function('a')`, `x.insertAdjacentHTML('a', b)`} {
		if !htmlSinks.MatchString(bad) {
			t.Errorf("htmlSinks misses %q", bad)
		}
	}
	for _, bad := range []string{`localStorage.setItem('p', pw)`, `sessionStorage.x = 1`, `document.cookie`} {
		if !jsStorage.MatchString(bad) {
			t.Errorf("jsStorage misses %q", bad)
		}
	}
	for _, bad := range []string{`fetch('https://evil.example/x')`, "new EventSource(`//evil.example`)", `new WebSocket("wss://x")`} {
		if !externalJS.MatchString(bad) {
			t.Errorf("externalJS misses %q", bad)
		}
	}
	if htmlSinks.MatchString(`el.textContent = x; evaluate(y)`) {
		t.Error("htmlSinks flags safe code")
	}
}
