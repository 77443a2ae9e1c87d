package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Limits of the request head parser. Generous for real clients (JWTs,
// cookies), small enough that a hostile one cannot make a handler buffer
// much.
const (
	maxHeadBytes   = 64 << 10
	maxHeaderCount = 256
	maxLineBytes   = 32 << 10
	maxMethodLen   = 32
	maxBlankLines  = 4
)

// malformedError is a request the proxy refuses to interpret: answered
// with 400 and a denial event, never forwarded.
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return "malformed request: " + e.msg }

func malformed(format string, args ...any) error {
	return &malformedError{msg: fmt.Sprintf(format, args...)}
}

// isMalformed reports whether err is a protocol violation by the client.
func isMalformed(err error) bool {
	var m *malformedError
	return errors.As(err, &m)
}

// requestHead is one parsed, validated HTTP/1.x request head. The
// framing fields are derived by this parser alone: the proxy never lets
// another parser reinterpret the raw bytes.
type requestHead struct {
	Method     string
	Target     string // request-target exactly as sent
	ProtoMinor int    // 0 or 1 (HTTP/1.0, HTTP/1.1)
	Header     http.Header
	// HostHeader is the single Host header value ("" when absent).
	HostHeader string
	// ContentLength is the body length; -1 when the body is chunked or
	// there is no body framing at all (then the body is empty).
	ContentLength int64
	Chunked       bool
	// Close: the client asked to close the connection after this request.
	Close bool
}

// hasBody reports whether the request carries body bytes to read.
func (h *requestHead) hasBody() bool { return h.Chunked || h.ContentLength > 0 }

// readRequestHead reads and validates one request head from br. It
// returns io.EOF when the connection closed cleanly before a request
// began, a *malformedError for protocol violations, and other errors for
// I/O failures (timeouts, resets).
//
// It rejects, rather than repairs, every ambiguity that request smuggling
// feeds on: obs-fold continuation lines, whitespace before a header colon,
// control characters, duplicate Content-Length (even with equal values),
// Content-Length together with Transfer-Encoding, any Transfer-Encoding
// other than a single "chunked", duplicate Host, and bare CR.
func readRequestHead(br *bufio.Reader) (*requestHead, error) {
	budget := maxHeadBytes
	var line []byte
	var err error
	for blank := 0; ; blank++ {
		line, err = readLine(br, &budget, blank == 0)
		if err != nil {
			return nil, err
		}
		if len(line) > 0 {
			break
		}
		if blank >= maxBlankLines {
			return nil, malformed("too many empty lines before the request line")
		}
	}
	h := &requestHead{Header: http.Header{}, ContentLength: -1}
	if err := h.parseRequestLine(line); err != nil {
		return nil, err
	}
	var clLines, teLines, hostLines int
	var clValue, teValue string
	for count := 0; ; count++ {
		line, err = readLine(br, &budget, false)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		if count >= maxHeaderCount {
			return nil, malformed("more than %d header fields", maxHeaderCount)
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, malformed("obsolete line folding in header section")
		}
		name, value, err := splitHeaderLine(line)
		if err != nil {
			return nil, err
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Content-Length":
			clLines++
			clValue = value
		case "Transfer-Encoding":
			teLines++
			teValue = value
		case "Host":
			hostLines++
			h.HostHeader = value
		}
		h.Header[key] = append(h.Header[key], value)
	}
	if hostLines > 1 {
		return nil, malformed("duplicate Host header")
	}
	if hostLines == 0 && h.ProtoMinor == 1 && h.Method != http.MethodConnect {
		return nil, malformed("HTTP/1.1 request without a Host header")
	}
	if clLines > 1 {
		return nil, malformed("duplicate Content-Length header")
	}
	if teLines > 1 {
		return nil, malformed("duplicate Transfer-Encoding header")
	}
	if teLines == 1 {
		if clLines == 1 {
			return nil, malformed("both Content-Length and Transfer-Encoding")
		}
		if h.ProtoMinor == 0 {
			return nil, malformed("Transfer-Encoding in an HTTP/1.0 request")
		}
		if !strings.EqualFold(teValue, "chunked") {
			return nil, malformed("unsupported Transfer-Encoding %q (only \"chunked\")", clip(teValue))
		}
		h.Chunked = true
	}
	if clLines == 1 {
		n, err := parseContentLength(clValue)
		if err != nil {
			return nil, err
		}
		h.ContentLength = n
	}
	h.Close = h.ProtoMinor == 0 || headerHasToken(h.Header, "Connection", "close")
	return h, nil
}

func (h *requestHead) parseRequestLine(line []byte) error {
	m, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return malformed("request line without spaces")
	}
	target, proto, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return malformed("request line without protocol version")
	}
	if len(m) == 0 || len(m) > maxMethodLen || !isToken(m) {
		return malformed("invalid method")
	}
	if len(target) == 0 {
		return malformed("empty request target")
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f || c == '#' {
			return malformed("invalid byte in request target")
		}
	}
	switch string(proto) {
	case "HTTP/1.1":
		h.ProtoMinor = 1
	case "HTTP/1.0":
		h.ProtoMinor = 0
	default:
		return malformed("unsupported protocol version %q", clip(string(proto)))
	}
	h.Method = string(m)
	h.Target = string(target)
	return nil
}

// splitHeaderLine splits "name: value" with strict field syntax.
func splitHeaderLine(line []byte) (string, string, error) {
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return "", "", malformed("header line without colon")
	}
	if len(name) == 0 || !isToken(name) {
		// Includes whitespace between name and colon (RFC 9112 §5.1).
		return "", "", malformed("invalid header field name")
	}
	value = bytes.Trim(value, " \t")
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return "", "", malformed("control character in header %q", clip(string(name)))
		}
	}
	return string(name), string(value), nil
}

func parseContentLength(v string) (int64, error) {
	if v == "" || len(v) > 18 {
		return 0, malformed("invalid Content-Length")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, malformed("invalid Content-Length")
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, malformed("invalid Content-Length")
	}
	return n, nil
}

// readLine reads one line ending in LF (an optional CR before it is
// dropped; a CR anywhere else is refused). budget is decremented by the
// bytes consumed. first marks the start of a request: EOF there is a
// clean close (io.EOF), elsewhere an unexpected one.
func readLine(br *bufio.Reader, budget *int, first bool) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		*budget -= len(chunk)
		if *budget < 0 {
			return nil, malformed("request head larger than %d bytes", maxHeadBytes)
		}
		if len(buf)+len(chunk) > maxLineBytes {
			return nil, malformed("line longer than %d bytes", maxLineBytes)
		}
		if err == bufio.ErrBufferFull {
			buf = append(buf, chunk...)
			continue
		}
		if err != nil {
			if err == io.EOF {
				if first && len(buf) == 0 && len(chunk) == 0 {
					return nil, io.EOF
				}
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if buf != nil {
			chunk = append(buf, chunk...)
		}
		line := chunk[:len(chunk)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return nil, malformed("bare CR in request head")
		}
		return line, nil
	}
}

// isToken reports whether b is an RFC 9110 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !isTchar(c) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// headerHasToken reports whether a comma-separated header contains token
// (case-insensitive).
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h[key] {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// clip shortens client-controlled text placed into errors and events.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
