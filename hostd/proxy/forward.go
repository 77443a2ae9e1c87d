package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// hopHeaders are connection-scoped and never forwarded (RFC 9110 §7.6.1),
// plus the proxy's own credentials and the framing the proxy redoes.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Host", "Content-Length", "Expect",
}

// upstreamHeader copies the client's header without hop-by-hop fields
// (also those the Connection header names).
func upstreamHeader(in http.Header) http.Header {
	out := make(http.Header, len(in))
	for k, v := range in {
		out[k] = v
	}
	for _, v := range in["Connection"] {
		for _, f := range splitTokens(v) {
			out.Del(f)
		}
	}
	for _, k := range hopHeaders {
		delete(out, k)
	}
	if _, ok := out["User-Agent"]; !ok {
		out["User-Agent"] = []string{""} // keep Go from adding its own
	}
	return out
}

// forwardHTTP forwards an allowed request and streams the response back.
func (p *Proxy) forwardHTTP(ctx context.Context, c *clientConn, x *exchange, d policy.Decision) bool {
	h := x.h
	if expectsContinue(h) && h.hasBody() {
		if _, err := c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n"); err != nil || c.flush() != nil {
			return false
		}
	}
	var body io.Reader
	contentLength := int64(0)
	var streamed *guardedReader
	if h.hasBody() && d.WebSearchGuard {
		buf, release, v := p.readInspectedBody(ctx, c, x)
		if v != nil {
			return p.bodyDenied(c, x, v)
		}
		defer release()
		body, contentLength = bytes.NewReader(buf), int64(len(buf))
	} else if h.hasBody() {
		if h.ContentLength > p.lim.MaxBodyBytes {
			p.deny(c, x.ev, http.StatusRequestEntityTooLarge, tooLargeReason(p.lim.MaxBodyBytes), "", true)
			return false
		}
		streamed = &guardedReader{br: newBodyReader(c.br, h, p.lim.MaxBodyBytes, c.extendBodyDeadline)}
		body, contentLength = streamed, h.ContentLength
	}
	req, cancel := p.upstreamRequest(ctx, x, d.Host, body, contentLength)
	defer cancel()
	// Watch the client from the moment its request is complete: one that
	// hangs up while the upstream thinks ends the round trip at once.
	watch := c.newWatch(cancel)
	if streamed == nil {
		watch.start()
	} else {
		streamed.onComplete = watch.start // runs in the Transport's writer
	}
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		watch.stop()
		return p.upstreamFailed(ctx, c, x, streamed, watch, err)
	}
	defer resp.Body.Close()
	x.ev.Decision = decisionAllowed
	p.record(x.ev)
	keep, werr := writeResponse(c, h, resp)
	watch.stop()
	if werr != nil || !keep {
		return false
	}
	if streamed != nil && !streamed.finish() {
		return false // the upstream answered before reading the whole body
	}
	return true
}

// upstreamRequest builds the request the Transport sends. The URL host is
// the normalised name (the Transport pools by it; dialling vets it); the
// path is sent exactly as the client sent it.
func (p *Proxy) upstreamRequest(ctx context.Context, x *exchange, host string, body io.Reader, n int64) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	scheme := "https"
	if x.scheme == "http" || x.scheme == "ws" {
		scheme = "http"
	}
	path, query := splitTarget(x.target)
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(x.port)), Opaque: path, RawQuery: query}
	if query == "" && len(x.target) > 0 && x.target[len(x.target)-1] == '?' {
		u.ForceQuery = true
	}
	req := &http.Request{
		Method:     x.h.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     upstreamHeader(x.h.Header),
		Host:       x.h.HostHeader,
	}
	if body != nil {
		req.Body = io.NopCloser(body)
		req.ContentLength = n
		if n < 0 {
			req.ContentLength = -1
		}
	}
	return req.WithContext(ctx), cancel
}

// upstreamFailed maps a failed round trip to the client's answer and the
// decision event. The watch must be stopped already; ctx is the
// connection's context (cancelled when the proxy shuts down).
func (p *Proxy) upstreamFailed(ctx context.Context, c *clientConn, x *exchange, streamed *guardedReader, watch *clientWatch, err error) bool {
	var refused *addressRefusedError
	var bodyErr error
	if streamed != nil {
		streamed.abort(c)
		bodyErr = streamed.err()
	}
	switch {
	case errors.As(err, &refused):
		p.deny(c, x.ev, http.StatusForbidden, refused.Error(), "", true)
	case errors.Is(bodyErr, errBodyTooLarge):
		p.deny(c, x.ev, http.StatusRequestEntityTooLarge, tooLargeReason(p.lim.MaxBodyBytes), "", true)
	case bodyErr != nil && isMalformed(bodyErr):
		p.deny(c, x.ev, http.StatusBadRequest, bodyErr.Error(), "", true)
	case bodyErr != nil:
		// The client stopped sending (timeout, reset): nobody to answer.
		x.ev.Decision, x.ev.Reason = decisionAllowed, "client body read failed: "+bodyErr.Error()
		p.record(x.ev)
	case ctx.Err() != nil:
		// Shutdown also closes the client, so this comes before the
		// watch's verdict.
		x.ev.Decision, x.ev.Reason = decisionAllowed, reasonShutdown
		p.record(x.ev)
	case watch.clientGone():
		// Nobody to answer; the event still says the request was allowed
		// (it may have reached the upstream).
		x.ev.Decision, x.ev.Reason = decisionAllowed, reasonClientGone
		p.record(x.ev)
	default:
		x.ev.Decision, x.ev.Reason = decisionAllowed, "upstream error: "+err.Error()
		p.record(x.ev)
		_ = c.writeText(http.StatusBadGateway, "TrustyClaw proxy: the upstream could not be reached: "+err.Error()+"\n", true)
		c.lingeringClose()
	}
	return false
}

// Reasons of allowed requests that ended before the upstream answered.
const (
	reasonClientGone = "client went away before the upstream answered"
	reasonShutdown   = "the proxy shut down before the upstream answered"
)

// guardedReader lets the Transport read the client body in its own
// goroutine while the handler can still learn, without racing, whether
// the body was read to its end, and stop all reads before the
// connection is reused or closed.
type guardedReader struct {
	mu   sync.Mutex
	br   *bodyReader
	done atomic.Bool // body read to EOF without error
	dead bool
	// onComplete, when set, runs once when the body has been read to its
	// end (in the goroutine reading it).
	onComplete func()
}

func (g *guardedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dead {
		return 0, errors.New("client body detached")
	}
	n, err := g.br.Read(p)
	if g.br.complete() && !g.done.Load() {
		g.done.Store(true)
		if g.onComplete != nil {
			g.onComplete()
		}
	}
	return n, err
}

// finish detaches the reader; it reports whether the body was complete.
// When it was not, the caller closes the connection.
func (g *guardedReader) finish() bool {
	if !g.done.Load() {
		return false
	}
	g.mu.Lock()
	g.dead = true
	g.mu.Unlock()
	return true
}

// abort stops a Transport goroutine that may still read the body: it
// closes the client connection (unblocking the read), then detaches.
func (g *guardedReader) abort(c *clientConn) {
	if !g.done.Load() {
		_ = c.nc.SetReadDeadline(aLongTimeAgo)
	}
	g.mu.Lock()
	g.dead = true
	g.mu.Unlock()
}

func (g *guardedReader) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.br.err
}

// bodyDenied answers a body the guard (or the limits) refused. Only a
// 403 comes after the whole body was read, so only then may the
// connection carry on.
func (p *Proxy) bodyDenied(c *clientConn, x *exchange, v *bodyVerdict) bool {
	if v.status == 0 {
		x.ev.Decision, x.ev.Reason = decisionDenied, v.reason
		p.record(x.ev)
		return false
	}
	keep := v.status == http.StatusForbidden && !x.h.Close
	p.deny(c, x.ev, v.status, v.reason, guardHint(v.status), !keep)
	return keep
}

func guardHint(status int) string {
	if status == http.StatusServiceUnavailable {
		return "retry later; the proxy is buffering too many request bodies"
	}
	return ""
}
