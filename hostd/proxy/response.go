package proxy

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// responseHopHeaders are dropped from upstream responses; the proxy
// frames the body to the client itself.
var responseHopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// smallBody is the largest known-length body sent with its headers in
// one write.
const smallBody = 8 << 10

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writeResponse streams resp to the client, flushing after every read
// from the upstream so Server-Sent Events arrive as they are produced.
// It reports whether the connection can carry another request.
func writeResponse(c *clientConn, h *requestHead, resp *http.Response) (bool, error) {
	keep := !h.Close
	status := resp.StatusCode
	bodyless := h.Method == http.MethodHead || status == http.StatusNoContent ||
		status == http.StatusNotModified || (status >= 100 && status < 200)
	hdr := resp.Header.Clone()
	for _, v := range resp.Header["Connection"] {
		for _, f := range splitTokens(v) {
			hdr.Del(f)
		}
	}
	for _, k := range responseHopHeaders {
		delete(hdr, k)
	}
	chunked := false
	if !bodyless {
		delete(hdr, "Content-Length")
		switch {
		case resp.ContentLength >= 0:
			hdr["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
		case h.ProtoMinor == 1:
			chunked = true
			hdr["Transfer-Encoding"] = []string{"chunked"}
		default:
			keep = false // HTTP/1.0 client: the body ends when we close
		}
	}
	if !keep {
		hdr["Connection"] = []string{"close"}
	}
	if err := writeHead(c, status, resp.Status, hdr); err != nil {
		return false, err
	}
	if bodyless {
		return keep, c.flush()
	}
	// Headers go out at once (a stream's first event may be far off),
	// except for a small body of known length, which follows in the same
	// write.
	if resp.ContentLength < 0 || resp.ContentLength > smallBody {
		if err := c.flush(); err != nil {
			return false, err
		}
	}
	if err := streamBody(c, resp.Body, chunked, resp.ContentLength); err != nil {
		return false, err
	}
	return keep, nil
}

func writeHead(c *clientConn, status int, statusLine string, hdr http.Header) error {
	text := http.StatusText(status)
	if code, rest, ok := strings.Cut(statusLine, " "); ok && code == strconv.Itoa(status) && rest != "" {
		text = rest
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(status))
	b.WriteByte(' ')
	b.WriteString(text)
	b.WriteString("\r\n")
	for k, vs := range hdr {
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
	b.WriteString("\r\n")
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.lim.WriteTimeout))
	_, err := c.bw.WriteString(b.String())
	return err
}

// streamBody copies the upstream body, flushing per read. A short body
// (upstream cut off) is an error: the caller closes the connection so the
// client sees a truncated response, never a silently shortened one.
func streamBody(c *clientConn, body io.Reader, chunked bool, length int64) error {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			total += int64(n)
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.lim.WriteTimeout))
			if chunked {
				if _, err := c.bw.WriteString(strconv.FormatInt(int64(n), 16) + "\r\n"); err != nil {
					return err
				}
			}
			if _, err := c.bw.Write(buf[:n]); err != nil {
				return err
			}
			if chunked {
				if _, err := c.bw.WriteString("\r\n"); err != nil {
					return err
				}
			}
			if err := c.bw.Flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if length >= 0 && total != length {
		return io.ErrUnexpectedEOF
	}
	if chunked {
		if _, err := c.bw.WriteString("0\r\n\r\n"); err != nil {
			return err
		}
	}
	return c.flush()
}

// splitTokens splits a comma-separated header value into trimmed tokens.
func splitTokens(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
