package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

const openAIPolicy = `{"managed_ai_provider_network_access": {"openai": true}, "allowed_network_access": {}}`

const (
	forbiddenBody = `{"model":"gpt","stream":true,"tools":[{"type":"web_search"}],"input":"hi"}`
	previewBody   = `{"model":"gpt","tools":[{"type":"web_search_preview"}]}`
	allowedBody   = `{"model":"gpt","stream":true,"tools":[{"type":"web_search","external_web_access":false}],"input":"hi"}`
)

type encoder func(t *testing.T, b []byte) []byte

func gzipEnc(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func zlibEnc(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func rawDeflateEnc(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func brEnc(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := brotli.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func zstdEnc(t *testing.T, b []byte) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(b, nil)
}

// openAIEnv runs the proxy with the managed OpenAI bundle and a fake
// api.openai.com that records what it receives.
type openAIEnv struct {
	*env
	mu       sync.Mutex
	received []receivedReq
}

type receivedReq struct {
	body          []byte
	contentLength int64
	te            []string
	encoding      string
}

func startOpenAI(t *testing.T, opts ...envOption) *openAIEnv {
	e := &openAIEnv{env: startProxy(t, openAIPolicy, opts...)}
	e.policy.setPins(policy.Pins{OpenAIAccountID: "acct-pinned"})
	up := tlsUpstream(t, e.uca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		e.mu.Lock()
		e.received = append(e.received, receivedReq{b, r.ContentLength, r.TransferEncoding, r.Header.Get("Content-Encoding")})
		e.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	e.p.cfg.DevUpstreams = map[string]string{"api.openai.com": up.Listener.Addr().String()}
	return e
}

func (e *openAIEnv) got() []receivedReq {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]receivedReq(nil), e.received...)
}

// post sends body to api.openai.com/v1/responses; chunked hides the length.
func (e *openAIEnv) post(body []byte, encoding string, chunked bool) (int, string) {
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // unknown length → Transfer-Encoding: chunked
	}
	req, _ := http.NewRequest("POST", "https://api.openai.com/v1/responses", r)
	if !chunked {
		req.ContentLength = int64(len(body))
	}
	req.Header.Set("chatgpt-account-id", "acct-pinned")
	req.Header.Set("Content-Type", "application/json")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	return e.do(req)
}

func TestWebSearchToolCaughtInEveryBodyEncoding(t *testing.T) {
	e := startOpenAI(t)
	stacked := func(t *testing.T, b []byte) []byte { return brEnc(t, gzipEnc(t, b)) }
	cases := []struct {
		name     string
		encoding string
		enc      encoder
		chunked  bool
	}{
		{"plain", "", nil, false},
		{"chunked", "", nil, true},
		{"gzip", "gzip", gzipEnc, false},
		{"gzip chunked", "gzip", gzipEnc, true},
		{"deflate zlib", "deflate", zlibEnc, false},
		{"deflate raw", "deflate", rawDeflateEnc, false},
		{"br", "br", brEnc, false},
		{"zstd", "zstd", zstdEnc, true},
		{"stacked gzip then br", "gzip, br", stacked, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, body := range []string{forbiddenBody, previewBody} {
				b := []byte(body)
				if tc.enc != nil {
					b = tc.enc(t, b)
				}
				status, text := e.post(b, tc.encoding, tc.chunked)
				if status != 403 || !strings.Contains(text, "web_search") {
					t.Fatalf("forbidden tool passed: %d %q", status, text)
				}
			}
			b := []byte(allowedBody)
			if tc.enc != nil {
				b = tc.enc(t, b)
			}
			if status, text := e.post(b, tc.encoding, tc.chunked); status != 200 {
				t.Fatalf("allowed body refused: %d %q", status, text)
			}
			got := e.got()
			last := got[len(got)-1]
			if !bytes.Equal(last.body, b) {
				t.Fatal("upstream did not receive the body byte for byte")
			}
			if last.contentLength != int64(len(b)) || len(last.te) != 0 {
				t.Fatalf("guarded body not re-sent with Content-Length: cl=%d te=%v", last.contentLength, last.te)
			}
		})
	}
	if n := len(e.got()); n != len(cases) {
		t.Fatalf("upstream received %d requests, want only the %d allowed ones", n, len(cases))
	}
}

func TestUndecodableOrUnknownEncodingIsDenied(t *testing.T) {
	e := startOpenAI(t)
	for _, tc := range []struct{ enc, body string }{
		{"gzip", "not gzip at all"},
		{"compress", forbiddenBody},
		{"br", "\xff\xff\xff\xff"},
		{"gzip, gzip, gzip, gzip, gzip", forbiddenBody},
	} {
		status, text := e.post([]byte(tc.body), tc.enc, false)
		if status != 403 || !strings.Contains(text, "cannot") {
			t.Fatalf("%s: %d %q", tc.enc, status, text)
		}
	}
	if len(e.got()) != 0 {
		t.Fatal("undecodable body reached upstream")
	}
}

func TestDecompressionBombIsRefused(t *testing.T) {
	l := testLimits()
	l.MaxBodyBytes = 1 << 20
	e := startOpenAI(t, withLimits(l))
	bomb := gzipEnc(t, bytes.Repeat([]byte(" "), 4<<20)) // 4 MiB of spaces, a few KiB compressed
	status, text := e.post(bomb, "gzip", false)
	if status != 413 {
		t.Fatalf("decompression bomb: %d %q", status, text)
	}
	if len(e.got()) != 0 {
		t.Fatal("bomb reached upstream")
	}
	if used, _ := e.p.BudgetStats(); used != 0 {
		t.Fatalf("memory budget leaked %d bytes", used)
	}
}
