package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/proxy/ca"
	"github.com/trustyclaw/trustyclaw/hostd/proxystate"
)

// TestDevServiceEndToEnd runs the service the way `hostd dev` does: real
// proxy state, a fake upstream under a real-looking host name mapped by
// a dev upstream, its CA trusted through the dev CA file.
func TestDevServiceEndToEnd(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "proxy-state")

	upCA, err := ca.LoadOrCreate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	upCAFile := filepath.Join(dir, "upstream-ca.pem")
	if err := upCA.WriteCertPEM(upCAFile); err != nil {
		t.Fatal(err)
	}
	leaves := ca.NewLeafCache(upCA, 10, nil)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from "+r.Host)
	}))
	up.TLS = &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return leaves.Get(h.ServerName) }}
	up.StartTLS()
	defer up.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := Open(ctx, Options{
		StateDir:      stateDir,
		Listen:        "127.0.0.1:0",
		PublishCACert: filepath.Join(dir, "proxy-ca.crt"),
		DevUpstreams:  map[string]string{"model.e2e.test": up.Listener.Addr().String()},
		DevUpstreamCA: upCAFile,
		Logger:        logging.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	st, err := os.Stat(filepath.Join(stateDir, ca.KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key: %v %v", st, err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, "proxy-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	pu, _ := url.Parse("http://" + svc.Addr())
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func() (int, string) {
		resp, err := client.Get("https://model.e2e.test/v1/ping")
		if err != nil && strings.Contains(err.Error(), "Forbidden") {
			return 403, "" // the CONNECT itself was refused
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// A fresh state dir holds the empty policy: everything denied.
	if s, _ := get(); s != 403 {
		t.Fatalf("fresh policy: %d", s)
	}
	nc := svc.LocalClient()
	if _, err := nc.ReplacePolicy(ctx, []byte(`{"allowed_network_access": {"model.e2e.test": {"allow_http_methods": ["GET"]}}}`)); err != nil {
		t.Fatal(err)
	}
	if s, b := get(); s != 200 || b != "hello from model.e2e.test" {
		t.Fatalf("after allowing: %d %q", s, b)
	}
	// A corrupt policy file denies everything.
	if err := os.WriteFile(filepath.Join(stateDir, proxystate.PolicyFileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, _ := get(); s != 403 {
		t.Fatalf("corrupt policy: %d", s)
	}
	if err := svc.State.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := svc.State.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var decisions []string
	for _, ev := range evs {
		decisions = append(decisions, ev.Decision)
	}
	if strings.Join(decisions, ",") != "denied,allowed,denied" {
		t.Fatalf("event log decisions %v", decisions)
	}
	if r := evs[2].Reason; !strings.Contains(r, "unreadable or invalid") {
		t.Fatalf("corrupt-policy denial reason %q", r)
	}
	if st, err := nc.Status(ctx); err != nil || st.PolicyValid || !st.ProxyListening {
		t.Fatalf("status with a corrupt policy: %+v %v", st, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("service did not stop")
	}
	if svc.Listening() {
		t.Fatal("still listening after shutdown")
	}
}

func TestDevUpstreamCAWithoutCertificateIsRefused(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	_ = os.WriteFile(bad, []byte("nope"), 0o600)
	_, err := Open(context.Background(), Options{StateDir: filepath.Join(dir, "s"), Listen: "127.0.0.1:0", DevUpstreamCA: bad, Logger: logging.Nop()})
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("err = %v", err)
	}
}
