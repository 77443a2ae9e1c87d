package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func parseHead(s string) (*requestHead, error) {
	return readRequestHead(bufio.NewReader(strings.NewReader(s)))
}

func TestRequestHeadFraming(t *testing.T) {
	h, err := parseHead("POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 12\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if h.ContentLength != 12 || h.Chunked || h.HostHeader != "a.test" || len(h.Header["X-A"]) != 2 || h.Close {
		t.Fatalf("%+v", h)
	}
	h, err = parseHead("POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: Chunked\r\nConnection: keep-alive, close\r\n\r\n")
	if err != nil || !h.Chunked || h.ContentLength != -1 || !h.Close {
		t.Fatalf("%+v %v", h, err)
	}
	h, err = parseHead("\r\nGET http://a.test/ HTTP/1.0\n\n")
	if err != nil || h.ProtoMinor != 0 || !h.Close {
		t.Fatalf("HTTP/1.0 with bare LF and a leading blank line: %+v %v", h, err)
	}
	if _, err := parseHead(""); !errors.Is(err, io.EOF) {
		t.Fatalf("clean close: %v", err)
	}
	if _, err := parseHead("GET / HTTP/1.1\r\nHost: a"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated head: %v", err)
	}
}

func TestMalformedRequestHeadsAreRefused(t *testing.T) {
	cases := map[string]string{
		"no host":           "GET / HTTP/1.1\r\n\r\n",
		"two hosts":         "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"http/2 preface":    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"http/0.9":          "GET /\r\n\r\n",
		"space in target":   "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
		"fragment":          "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
		"bad method":        "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
		"non-ascii target":  "GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n",
		"no colon":          "GET / HTTP/1.1\r\nHost a\r\n\r\n",
		"empty name":        "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n",
		"TE in 1.0":         "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"huge CL":           "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"too many blanks":   "\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"DEL in value":      "GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n",
		"lowercase version": "GET / http/1.1\r\nHost: a\r\n\r\n",
	}
	for name, raw := range cases {
		if _, err := parseHead(raw); !isMalformed(err) {
			t.Errorf("%s: err = %v, want malformed", name, err)
		}
	}
	for name, rest := range smugglingCases {
		_, err := parseHead("POST / HTTP/1.1\r\nHost: a\r\n" + rest)
		if err == nil && !strings.Contains(name, "chunk") {
			t.Errorf("%s: head accepted", name)
		}
	}
}

func TestOversizedRequestHeadIsRefused(t *testing.T) {
	long := "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", maxLineBytes) + "\r\n\r\n"
	if _, err := parseHead(long); !isMalformed(err) {
		t.Fatalf("long line: %v", err)
	}
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
	for range maxHeaderCount + 1 {
		b.WriteString("X: 1\r\n")
	}
	b.WriteString("\r\n")
	if _, err := parseHead(b.String()); !isMalformed(err) {
		t.Fatalf("many headers: %v", err)
	}
}

func TestChunkedReaderDecodesStrictly(t *testing.T) {
	good := "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-A: x\r\n\r\nNEXT"
	br := bufio.NewReader(strings.NewReader(good))
	b, err := io.ReadAll(newChunkedReader(br))
	if err != nil || string(b) != "hello world" {
		t.Fatalf("%q %v", b, err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "NEXT" {
		t.Fatalf("reader consumed past the body: %q", rest)
	}
	for name, bad := range map[string]string{
		"missing CRLF after data": "5\r\nhelloX\r\n0\r\n\r\n",
		"truncated":               "5\r\nhel",
		"obs-fold trailer":        "0\r\nA: b\r\n c\r\n\r\n",
		"bad trailer":             "0\r\nA b\r\n\r\n",
		"empty size":              "\r\nhello\r\n",
		"ctl in ext":              "5;\x01\r\nhello\r\n0\r\n\r\n",
	} {
		_, err := io.ReadAll(newChunkedReader(bufio.NewReader(strings.NewReader(bad))))
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBodyReaderEnforcesTheCap(t *testing.T) {
	h := &requestHead{Chunked: true, ContentLength: -1}
	src := "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n"
	br := newBodyReader(bufio.NewReader(strings.NewReader(src)), h, 15, nil)
	if _, err := io.ReadAll(br); !errors.Is(err, errBodyTooLarge) {
		t.Fatalf("err = %v", err)
	}
	br = newBodyReader(bufio.NewReader(strings.NewReader(src)), h, 20, nil)
	b, err := io.ReadAll(br)
	if err != nil || len(b) != 20 || !br.complete() {
		t.Fatalf("at the cap: %d %v", len(b), err)
	}
	short := newBodyReader(bufio.NewReader(bytes.NewReader([]byte("abc"))), &requestHead{ContentLength: 5}, 100, nil)
	if _, err := io.ReadAll(short); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short body: %v", err)
	}
}
