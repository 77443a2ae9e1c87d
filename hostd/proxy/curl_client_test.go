package proxy

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func curlPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed (apt-get install -y curl); skipping the curl client test")
	}
	return p
}

// curl runs curl through the proxy, trusting only the proxy CA, and
// returns the HTTP status and body.
func (e *env) curl(t *testing.T, args ...string) (string, string) {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "proxy-ca.crt")
	if err := e.ca.WriteCertPEM(caFile); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	base := []string{"-sS", "--proxy", "http://" + e.addr, "--cacert", caFile, "-o", "-", "-w", "\n%{http_code}", "--noproxy", ""}
	cmd := exec.CommandContext(ctx, curlPath(t), append(base, args...)...)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+caFile, "CURL_CA_BUNDLE="+caFile)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %v: %v (%s)", args, err, out)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	return s[i+1:], s[:i]
}

func TestCurlThroughTheProxy(t *testing.T) {
	curlPath(t)
	var hits counter
	e := startProxy(t, policyJSON(apiPolicy+`, "plain.example.test": {"allow_http_methods": ["GET"]}`))
	up := tlsUpstream(t, e.uca, hits.wrap(echoHandler()))
	plain := httptest.NewServer(hits.wrap(echoHandler()))
	t.Cleanup(plain.Close)
	e.p.cfg.DevUpstreams = map[string]string{
		"api.example.test":   up.Listener.Addr().String(),
		"plain.example.test": plain.Listener.Addr().String(),
	}
	if code, body := e.curl(t, "https://api.example.test/v1/hello?x=1"); code != "200" || body != "GET /v1/hello?x=1 len=0 body=" {
		t.Fatalf("https GET: %s %q", code, body)
	}
	if code, body := e.curl(t, "-X", "POST", "--data-binary", "payload", "https://api.example.test/v1/post"); code != "200" || !strings.HasSuffix(body, "body=payload") {
		t.Fatalf("https POST: %s %q", code, body)
	}
	if code, _ := e.curl(t, "http://plain.example.test/"); code != "200" {
		t.Fatalf("http GET: %s", code)
	}
	code, body := e.curl(t, "https://api.example.test/private")
	if code != "403" || !strings.Contains(body, "path guard") {
		t.Fatalf("denied path: %s %q", code, body)
	}
	// Two URLs in one curl run share the kept-alive tunnel; each decided.
	code, body = e.curl(t, "https://api.example.test/v1/a", "https://api.example.test/nope")
	if code != "403" || !strings.Contains(body, "GET /v1/a") {
		t.Fatalf("kept-alive pair: %s %q", code, body)
	}
	if n := hits.n.Load(); n != 4 {
		t.Fatalf("upstream saw %d requests, want 4", n)
	}
}
