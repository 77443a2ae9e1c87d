package proxy

import (
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"
)

// The upstream's certificate must verify for the ORIGINAL host name, even
// when a dev upstream redirects the connection, and TLS must be >= 1.2.
func TestUpstreamCertificateIsVerifiedForTheOriginalHost(t *testing.T) {
	var hits counter
	e := startProxy(t, policyJSON(apiPolicy))
	wrongName := httptest.NewUnstartedServer(hits.wrap(echoHandler()))
	wrongName.Config.ErrorLog = quietLog
	wrongName.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return e.uca.leaves.Get("someone-else.example.test")
	}}
	wrongName.StartTLS()
	t.Cleanup(wrongName.Close)
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": wrongName.Listener.Addr().String()}
	status, body := e.get("https://api.example.test/v1/x")
	if status != 502 || !strings.Contains(body, "certificate") {
		t.Fatalf("wrong-name upstream: %d %q", status, body)
	}

	oldTLS := httptest.NewUnstartedServer(hits.wrap(echoHandler()))
	oldTLS.Config.ErrorLog = quietLog
	oldTLS.TLS = &tls.Config{MaxVersion: tls.VersionTLS11, GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return e.uca.leaves.Get("api.example.test")
	}}
	oldTLS.StartTLS()
	t.Cleanup(oldTLS.Close)
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": oldTLS.Listener.Addr().String()}
	e.p.transport.CloseIdleConnections()
	if status, _ := e.get("https://api.example.test/v1/x"); status != 502 {
		t.Fatalf("TLS 1.1 upstream: %d", status)
	}

	untrusted := httptest.NewUnstartedServer(hits.wrap(echoHandler())) // httptest's own CA
	untrusted.Config.ErrorLog = quietLog
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": untrusted.Listener.Addr().String()}
	if status, _ := e.get("https://api.example.test/v1/x"); status != 502 {
		t.Fatalf("untrusted upstream: %d", status)
	}
	if hits.n.Load() != 0 {
		t.Fatal("a request reached an unverified upstream")
	}
}
