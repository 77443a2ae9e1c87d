package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// connBufSize sizes each client connection's reader and writer. Small on
// purpose: heads are parsed line by line (longer lines accumulate), and
// body copies use their own 32 KiB buffers, which bypass these.
const connBufSize = 4 << 10

// aLongTimeAgo is a deadline in the past: it unblocks a pending read.
var aLongTimeAgo = time.Unix(1, 0)

// clientConn is one client connection (plain, or the TLS connection
// inside a CONNECT tunnel) with its buffered reader and writer.
type clientConn struct {
	nc  net.Conn
	br  *bufio.Reader
	bw  *bufio.Writer
	lim Limits
}

func newClientConn(nc net.Conn, br *bufio.Reader, lim Limits) *clientConn {
	if br == nil {
		br = bufio.NewReaderSize(nc, connBufSize)
	}
	return &clientConn{nc: nc, br: br, bw: bufio.NewWriterSize(nc, connBufSize), lim: lim}
}

// readHead waits up to the idle timeout for a request to begin, then up
// to the header timeout for its head, so a slowloris client trickling a
// head byte by byte is cut off.
func (c *clientConn) readHead(first bool) (*requestHead, error) {
	wait := c.lim.IdleTimeout
	if first {
		wait = c.lim.HeaderTimeout
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(wait))
	if _, err := c.br.Peek(1); err != nil {
		return nil, err
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.lim.HeaderTimeout))
	h, err := readRequestHead(c.br)
	if err != nil {
		return nil, err
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	return h, nil
}

// extendBodyDeadline is called before each body read: a client that
// stops sending mid-body is cut off after BodyReadTimeout.
func (c *clientConn) extendBodyDeadline() {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.lim.BodyReadTimeout))
}

// flush writes buffered output with the write timeout.
func (c *clientConn) flush() error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.lim.WriteTimeout))
	return c.bw.Flush()
}

// clientWatch notices a client that goes away while the proxy waits for
// the upstream's answer or streams it back: a background read on the idle
// connection fails when the client closes or resets it, and cancel then
// aborts the upstream exchange at once (instead of holding the upstream
// connection until ResponseHeaderTimeout). It may only read while nothing
// else reads the connection: start it once the request body has been read
// completely (or for bodiless requests), stop it before the next read.
type clientWatch struct {
	c      *clientConn
	cancel context.CancelFunc

	mu       sync.Mutex
	done     chan struct{} // non-nil while the background read runs
	stopped  bool          // stop was called; later starts do nothing
	stopping atomic.Bool   // the read error that follows is ours
	gone     atomic.Bool   // the client closed or reset the connection
}

func (c *clientConn) newWatch(cancel context.CancelFunc) *clientWatch {
	return &clientWatch{c: c, cancel: cancel}
}

// start begins the background read. Safe from any goroutine (the
// Transport's body writer calls it when the body is complete); it does
// nothing when already running, after stop, or when the client already
// sent more (pipelining: it is alive, and those bytes must stay buffered
// for the next request).
func (w *clientWatch) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.done != nil || w.c.br.Buffered() > 0 {
		return
	}
	_ = w.c.nc.SetReadDeadline(time.Time{})
	done := make(chan struct{})
	w.done = done
	go func() {
		defer close(done)
		// Peek keeps whatever arrives (a pipelined request) buffered.
		if _, err := w.c.br.Peek(1); err != nil && !w.stopping.Load() {
			w.gone.Store(true)
			w.cancel()
		}
	}()
}

// stop ends the watch for good and leaves the reader usable.
func (w *clientWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.done == nil {
		return
	}
	w.stopping.Store(true)
	_ = w.c.nc.SetReadDeadline(aLongTimeAgo)
	<-w.done
	w.done = nil
	_ = w.c.nc.SetReadDeadline(time.Time{})
}

// clientGone reports whether the watch saw the client go away.
func (w *clientWatch) clientGone() bool { return w.gone.Load() }

// writeText answers with a short text/plain response.
func (c *clientConn) writeText(status int, body string, close bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("X-Content-Type-Options: nosniff\r\n")
	b.WriteString("Cache-Control: no-store\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	if close {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.lim.WriteTimeout))
	if _, err := c.bw.WriteString(b.String()); err != nil {
		return err
	}
	return c.flush()
}

// lingeringClose closes after a response the client may still be
// sending a body for: half-close, drain briefly, then close, so the
// client reads the response instead of a connection reset.
func (c *clientConn) lingeringClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _ = io.CopyN(io.Discard, c.br, 1<<20)
	_ = c.nc.Close()
}

// isTimeout reports a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
