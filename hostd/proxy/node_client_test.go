package proxy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeClient is the way Node agents (Claude Code) reach an https origin
// through a proxy: CONNECT, then Node's TLS and HTTP client over the
// tunnel, trusting the proxy CA.
const nodeClient = `
const http = require('http'), https = require('https'), tls = require('tls'), fs = require('fs');
const [ph, pp] = process.env.PROXY.split(':');
const ca = fs.readFileSync(process.env.CA_FILE);
const host = process.env.TARGET_HOST;
const paths = process.env.TARGET_PATHS.split(',');
const req = http.request({host: ph, port: +pp, method: 'CONNECT', path: host + ':443', headers: {host: host + ':443'}});
req.on('connect', (res, socket) => {
  if (res.statusCode !== 200) { console.log('CONNECT ' + res.statusCode); socket.destroy(); return; }
  const tlsSock = tls.connect({socket, servername: host, ca});
  const next = (i) => {
    if (i === paths.length) { tlsSock.end(); return; }
    const r = https.request({host, port: 443, path: paths[i], method: 'GET', headers: {connection: 'keep-alive'},
                             createConnection: () => tlsSock}, (resp) => {
      let body = '';
      resp.on('data', d => body += d);
      resp.on('end', () => { console.log(resp.statusCode + ' ' + body.split('\n')[0]); next(i + 1); });
    });
    r.on('error', e => { console.log('ERR ' + e.message); process.exit(1); });
    r.end();
  };
  next(0);
});
req.on('error', e => { console.log('ERR ' + e.message); process.exit(1); });
req.end();
`

func TestNodeClientThroughTheProxy(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed (apt-get install -y nodejs); skipping the Node client test")
	}
	var hits counter
	e := startProxy(t, policyJSON(apiPolicy))
	up := tlsUpstream(t, e.uca, hits.wrap(echoHandler()))
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": up.Listener.Addr().String()}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "proxy-ca.crt")
	if err := e.ca.WriteCertPEM(caFile); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "client.js")
	if err := os.WriteFile(script, []byte(nodeClient), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(host, paths string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, script)
		cmd.Env = []string{"PROXY=" + e.addr, "CA_FILE=" + caFile, "TARGET_HOST=" + host, "TARGET_PATHS=" + paths, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	got := run("api.example.test", "/v1/a,/private,/v1/b")
	want := "200 GET /v1/a len=0 body=\n403 TrustyClaw proxy denied this request: no path guard of \"api.example.test\" matches the request target\n200 GET /v1/b len=0 body="
	if got != want {
		t.Fatalf("node output:\n%s\nwant:\n%s", got, want)
	}
	if got := run("evil.example.test", "/"); got != "CONNECT 403" {
		t.Fatalf("denied host: %q", got)
	}
	if hits.n.Load() != 2 {
		t.Fatalf("upstream saw %d requests", hits.n.Load())
	}
}
