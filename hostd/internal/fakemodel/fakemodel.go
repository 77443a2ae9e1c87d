// Package fakemodel is a scripted fake model server for tests: the OpenAI
// Responses API and the Anthropic Messages API, streamed as SSE over TLS
// on loopback with a test CA, plus a tiny CONNECT proxy so the real CLIs
// can be run with the proxy environment hostd gives them.
//
// Test support only: it listens on 127.0.0.1 and never dials anything
// but loopback.
package fakemodel

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Reply is what the fake answers to one model request.
type Reply struct {
	Text string
	// Delay is slept before the text is streamed (a slow model).
	Delay time.Duration
	// Status, when not 0 or 200, fails the request with that HTTP status.
	Status int
}

// Request is one model request the fake received.
type Request struct {
	Path   string
	Body   string
	Header http.Header
	At     time.Time // when the request arrived
}

// Server is a running fake.
type Server struct {
	// Addr is "127.0.0.1:port".
	Addr string
	// CAFile is the PEM of the CA that signed the server certificate
	// (valid for 127.0.0.1 and *.e2e.test).
	CAFile string

	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	script   func(r Request) Reply
	requests []Request
}

// Start starts a fake whose replies come from script; dir receives the
// CA file.
func Start(dir string, script func(r Request) Reply) (*Server, error) {
	return StartNamed(dir, nil, script)
}

// StartNamed is Start with a certificate also valid for the extra DNS
// names (e.g. a provider host that `hostd dev --dev-upstream` maps here).
// Besides /v1/responses it serves the ChatGPT backend's
// /backend-api/codex/responses with the same Responses API stream.
func StartNamed(dir string, names []string, script func(r Request) Reply) (*Server, error) {
	caPEM, cert, err := makeCerts(names)
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(dir, "fake-model-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		return nil, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), CAFile: caFile, ln: ln, script: script}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/responses", s.openAI)
	mux.HandleFunc("/backend-api/codex/responses", s.openAI)
	mux.HandleFunc("/backend-api/wham/accounts/check", s.accountsCheck)
	mux.HandleFunc("/backend-api/codex/models", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.record(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"models":[]}`)
	})
	mux.HandleFunc("/v1/messages", s.anthropic)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Close() }

// Requests returns the requests received so far: model requests and the
// ChatGPT backend reads (workspace check, model list).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) record(r *http.Request) (Request, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return Request{}, err
	}
	if b, err = decode(r.Header.Get("Content-Encoding"), b); err != nil {
		return Request{}, err
	}
	req := Request{Path: r.URL.Path, Body: string(b), Header: r.Header.Clone(), At: time.Now()}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	return req, nil
}

type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func (e sse) event(name string, data map[string]any) {
	data["type"] = name
	b, _ := json.Marshal(data)
	fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", name, b)
	e.f.Flush()
}

func (s *Server) begin(w http.ResponseWriter, r *http.Request) (sse, Reply, bool) {
	req, err := s.record(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return sse{}, Reply{}, false
	}
	reply := s.script(req)
	if reply.Delay > 0 {
		select {
		case <-time.After(reply.Delay):
		case <-r.Context().Done():
			return sse{}, Reply{}, false
		}
	}
	if reply.Status != 0 && reply.Status != http.StatusOK {
		http.Error(w, `{"error":{"message":"scripted failure"}}`, reply.Status)
		return sse{}, Reply{}, false
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return sse{w: w, f: w.(http.Flusher)}, reply, true
}

// openAI streams a Responses API answer with one assistant message. The
// fake speaks no WebSocket: an upgrade (Codex tries the Responses
// WebSocket first under ChatGPT auth) is refused with 426, and the client
// falls back to HTTP.
func (s *Server) openAI(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "no WebSocket here; use HTTP", http.StatusUpgradeRequired)
		return
	}
	e, reply, ok := s.begin(w, r)
	if !ok {
		return
	}
	id := fmt.Sprintf("resp_%d", time.Now().UnixNano())
	item := map[string]any{"type": "message", "id": "msg_" + id, "role": "assistant", "status": "completed",
		"content": []any{map[string]any{"type": "output_text", "text": reply.Text, "annotations": []any{}}}}
	e.event("response.created", map[string]any{"response": map[string]any{"id": id}})
	e.event("response.output_item.added", map[string]any{"output_index": 0, "item": map[string]any{"type": "message", "id": "msg_" + id, "role": "assistant", "status": "in_progress", "content": []any{}}})
	e.event("response.output_text.delta", map[string]any{"output_index": 0, "content_index": 0, "item_id": "msg_" + id, "delta": reply.Text})
	e.event("response.output_item.done", map[string]any{"output_index": 0, "item": item})
	e.event("response.completed", map[string]any{"response": map[string]any{"id": id,
		"usage": map[string]any{"input_tokens": 1, "input_tokens_details": map[string]any{"cached_tokens": 0}, "output_tokens": 1, "output_tokens_details": map[string]any{"reasoning_tokens": 0}, "total_tokens": 2}}})
}

// accountsCheck answers the ChatGPT workspace discovery Codex runs under
// ChatGPT auth before a status read or a turn: one personal workspace,
// the account the request names, no routing constraint (Codex then keeps
// its configured backend origin).
func (s *Server) accountsCheck(w http.ResponseWriter, r *http.Request) {
	if _, err := s.record(r); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get("ChatGPT-Account-ID")
	if id == "" {
		http.Error(w, `{"error":{"message":"no account header"}}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"accounts": []any{map[string]any{
			"id": id, "structure": "personal", "plan_type": "pro",
			"workspace_backend_origin": "NO_CONSTRAINT", "account_routing_override": "NO_CONSTRAINT",
		}},
		"account_ordering":   []string{id},
		"default_account_id": id,
	})
}

// anthropic streams a Messages API answer with one text block.
func (s *Server) anthropic(w http.ResponseWriter, r *http.Request) {
	e, reply, ok := s.begin(w, r)
	if !ok {
		return
	}
	id := fmt.Sprintf("msg_%d", time.Now().UnixNano())
	e.event("message_start", map[string]any{"message": map[string]any{"id": id, "type": "message", "role": "assistant", "model": "fake", "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": 1, "output_tokens": 1}}})
	e.event("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	e.event("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": reply.Text}})
	e.event("content_block_stop", map[string]any{"index": 0})
	e.event("message_delta", map[string]any{"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": map[string]any{"output_tokens": 1}})
	e.event("message_stop", map[string]any{})
}

// LastUserText returns the text of the last user message in a model
// request body (either API), for scripts that echo their input.
func LastUserText(body string) string {
	var b struct {
		Input    json.RawMessage `json:"input"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	_ = json.Unmarshal([]byte(body), &b)
	texts := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		_ = json.Unmarshal(raw, &parts)
		var out []string
		for _, p := range parts {
			if p.Text != "" && !strings.HasPrefix(p.Text, "<system-reminder>") {
				out = append(out, p.Text)
			}
		}
		return strings.Join(out, "\n")
	}
	last := ""
	for _, m := range b.Messages {
		if m.Role == "user" {
			if t := texts(m.Content); t != "" {
				last = t
			}
		}
	}
	var items []struct {
		Type    string          `json:"type"`
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(b.Input, &items)
	for _, it := range items {
		if it.Role == "user" {
			if t := texts(it.Content); t != "" && !strings.HasPrefix(t, "<") {
				last = t
			}
		}
	}
	return last
}

// decode undoes a request Content-Encoding (Codex compresses its
// requests to the ChatGPT backend with zstd), so scripts see JSON.
func decode(coding string, b []byte) ([]byte, error) {
	var rd io.Reader
	switch strings.ToLower(strings.TrimSpace(coding)) {
	case "", "identity":
		return b, nil
	case "zstd":
		d, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		rd = d
	case "gzip":
		g, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		rd = g
	default:
		return nil, fmt.Errorf("fakemodel: unsupported Content-Encoding %q", coding)
	}
	out, err := io.ReadAll(io.LimitReader(rd, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("fakemodel: decode %s body: %w", coding, err)
	}
	return out, nil
}

func makeCerts(extra []string) ([]byte, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fakemodel test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "model.e2e.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames:    append([]string{"model.e2e.test", "*.e2e.test", "localhost"}, extra...),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
