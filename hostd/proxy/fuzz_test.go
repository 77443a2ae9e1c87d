package proxy

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzReadRequestHead: no panic, and an accepted head has unambiguous
// framing (never both a length and chunked, never a negative length
// other than "none", exactly one Host when HTTP/1.1 and not CONNECT).
func FuzzReadRequestHead(f *testing.F) {
	seeds := []string{
		"GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	}
	for _, rest := range smugglingCases {
		seeds = append(seeds, "POST / HTTP/1.1\r\nHost: a\r\n"+rest)
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := readRequestHead(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if h.Chunked && h.ContentLength != -1 {
			t.Fatal("both chunked and a Content-Length")
		}
		if h.ContentLength < -1 {
			t.Fatal("negative Content-Length")
		}
		if len(h.Header["Content-Length"]) > 1 || len(h.Header["Transfer-Encoding"]) > 1 || len(h.Header["Host"]) > 1 {
			t.Fatal("duplicate framing header accepted")
		}
		if h.ProtoMinor == 1 && h.Method != "CONNECT" && len(h.Header["Host"]) != 1 {
			t.Fatal("HTTP/1.1 request without Host accepted")
		}
		for k, vs := range h.Header {
			for _, v := range vs {
				if strings.ContainsAny(k+v, "\r\n\x00") {
					t.Fatalf("control character in accepted header %q: %q", k, v)
				}
			}
		}
	})
}

// FuzzChunkedReader: no panic, never more bytes out than in, and what a
// successful decode returns re-encodes to a body that decodes the same.
func FuzzChunkedReader(f *testing.F) {
	for _, s := range []string{"0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "5;x=y\r\nhello\r\n0\r\nA: b\r\n\r\n", "ffffffffffffffff\r\n", "5\r\nhello0\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := io.ReadAll(newChunkedReader(bufio.NewReader(bytes.NewReader(data))))
		if len(out) > len(data) {
			t.Fatal("decoded more bytes than were sent")
		}
		if err != nil {
			return
		}
		var re bytes.Buffer
		if len(out) > 0 {
			re.WriteString(strings.ToUpper(strconvHex(len(out))) + "\r\n")
			re.Write(out)
			re.WriteString("\r\n")
		}
		re.WriteString("0\r\n\r\n")
		again, err := io.ReadAll(newChunkedReader(bufio.NewReader(&re)))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-encoded body does not round-trip: %v", err)
		}
	})
}

func strconvHex(n int) string {
	const digits = "0123456789abcdef"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n >>= 4 {
		b = append([]byte{digits[n&15]}, b...)
	}
	return string(b)
}

// FuzzWSFrameHeader: no panic; accepted control frames are small and
// final, lengths are non-negative, and the raw header round-trips.
func FuzzWSFrameHeader(f *testing.F) {
	f.Add(maskedFrame(0x81, []byte("hi")))
	f.Add(maskedFrame(0xC1, []byte("compressed")))
	f.Add(maskedFrame(0x82, make([]byte, 300)))
	f.Add(maskedFrame(0x82, make([]byte, 70000))[:14])
	f.Add(closeFrame(1000, "bye", false))
	f.Add([]byte{0x89, 0xFE, 0, 200})
	f.Fuzz(func(t *testing.T, data []byte) {
		fh, err := readWSFrameHeader(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if fh.length < 0 {
			t.Fatal("negative length")
		}
		if fh.opcode >= 8 && (!fh.fin || fh.length > 125) {
			t.Fatal("invalid control frame accepted")
		}
		if !bytes.Equal(fh.head, data[:len(fh.head)]) {
			t.Fatal("raw header does not match the input")
		}
	})
}

// FuzzParseAbsolute: no panic, and an accepted URI has a host and an
// origin-form target.
func FuzzParseAbsolute(f *testing.F) {
	for _, s := range []string{"http://a.test/x?y", "http://a.test:80", "https://[::1]:443/", "http://u@a/", "http://a.test?q"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, ok := parseAbsolute(s)
		if !ok {
			return
		}
		if u.host == "" || !strings.HasPrefix(u.target, "/") || strings.Contains(u.host, "@") {
			t.Fatalf("accepted %q as %+v", s, u)
		}
	})
}
