package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// forwardWebSocket forwards an allowed WebSocket handshake and, once the
// upstream switches protocols, relays frames both ways. On guarded hosts
// the permessage-deflate offer is dropped (so compression is never
// negotiated), frames with RSV bits are refused, and every client message
// is reassembled and checked before it goes upstream.
func (p *Proxy) forwardWebSocket(ctx context.Context, c *clientConn, x *exchange, d policy.Decision) bool {
	if x.h.hasBody() {
		p.deny(c, x.ev, http.StatusBadRequest, "WebSocket handshake with a request body", "", true)
		return false
	}
	guard := d.WebSearchGuard
	req, cancel := p.upstreamRequest(ctx, x, d.Host, nil, 0)
	defer cancel()
	req.Header["Connection"] = []string{"Upgrade"}
	req.Header["Upgrade"] = []string{"websocket"}
	if guard {
		req.Header.Del("Sec-Websocket-Extensions")
	}
	// The handshake has no body: watch the client while the upstream
	// decides, so a client that hangs up ends the round trip at once.
	watch := c.newWatch(cancel)
	watch.start()
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		watch.stop()
		return p.upstreamFailed(ctx, c, x, nil, watch, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		x.ev.Decision = decisionAllowed
		p.record(x.ev)
		keep, werr := writeResponse(c, x.h, resp)
		watch.stop()
		return werr == nil && keep
	}
	// The relay reads the client itself (frames the client sent early
	// stay buffered).
	watch.stop()
	up, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		_ = resp.Body.Close()
		p.deny(c, x.ev, http.StatusBadGateway, "upstream switched protocols without a usable connection", "", true)
		return false
	}
	defer up.Close()
	if guard && len(resp.Header.Values("Sec-Websocket-Extensions")) > 0 {
		p.deny(c, x.ev, http.StatusBadGateway, "upstream negotiated a WebSocket extension the proxy did not offer; compressed messages cannot be inspected", "", true)
		return false
	}
	if !headerHasToken(resp.Header, "Upgrade", "websocket") {
		p.deny(c, x.ev, http.StatusBadGateway, "upstream switched to a protocol other than websocket", "", true)
		return false
	}
	x.ev.Decision = decisionAllowed
	p.record(x.ev)
	hdr := resp.Header.Clone()
	for _, k := range responseHopHeaders {
		delete(hdr, k)
	}
	hdr["Connection"] = []string{"Upgrade"}
	hdr["Upgrade"] = []string{"websocket"}
	if err := writeHead(c, http.StatusSwitchingProtocols, resp.Status, hdr); err != nil {
		return false
	}
	if err := c.flush(); err != nil {
		return false
	}
	p.relayWebSocket(ctx, c, up, x, guard)
	return false
}

// wsRelay is one relayed WebSocket connection.
type wsRelay struct {
	p    *Proxy
	c    *clientConn
	up   io.ReadWriteCloser
	x    *exchange
	idle *time.Timer
	once sync.Once
	// wmu serialises whole frames written to the client, so a close
	// frame of the proxy never lands inside a relayed frame.
	wmu      sync.Mutex
	midFrame bool
	stopped  bool // no more upstream frames go to the client
	termOnce sync.Once
}

// lockWriterOrAbort takes the client write lock. If the downstream relay
// holds it for long (an upstream stalled mid-frame), the upstream is
// closed so the relay lets go.
func (r *wsRelay) lockWriterOrAbort() {
	deadline := time.Now().Add(time.Second)
	for !r.wmu.TryLock() {
		if time.Now().After(deadline) {
			_ = r.up.Close()
			r.wmu.Lock()
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *wsRelay) closeBoth() {
	r.once.Do(func() {
		_ = r.up.Close()
		_ = r.c.nc.Close()
	})
}

func (r *wsRelay) touch() { r.idle.Reset(r.p.lim.WebSocketIdleTimeout) }

func (p *Proxy) relayWebSocket(ctx context.Context, c *clientConn, up io.ReadWriteCloser, x *exchange, guard bool) {
	r := &wsRelay{p: p, c: c, up: up, x: x}
	r.idle = time.AfterFunc(p.lim.WebSocketIdleTimeout, r.closeBoth)
	defer r.idle.Stop()
	stop := context.AfterFunc(ctx, r.closeBoth)
	defer stop()
	_ = c.nc.SetReadDeadline(time.Time{})
	_ = c.nc.SetWriteDeadline(time.Time{})

	// Upstream frames are always relayed whole, so the proxy can end the
	// connection with a close frame of its own at any time.
	down := make(chan struct{})
	go func() {
		defer close(down)
		r.relayServerFrames()
	}()
	recheckDone := make(chan struct{})
	rechecked := make(chan struct{})
	go func() {
		defer close(rechecked)
		r.recheckPolicy(recheckDone)
	}()
	var violation *wsViolation
	if guard {
		violation = r.inspectClientMessages()
	} else {
		_, _ = io.Copy(r.up, readerFunc(func(b []byte) (int, error) { r.touch(); return c.br.Read(b) }))
	}
	if violation != nil {
		ev := x.ev
		ev.Decision, ev.Reason = decisionDenied, "WebSocket message: "+violation.reason
		p.record(ev)
		r.terminate(violation.code, "TrustyClaw proxy: "+violation.reason)
		// This goroutine is the only writer towards the upstream.
		_, _ = r.up.Write(closeFrame(wsClosePolicyViolated, "closed by the TrustyClaw proxy", true))
	}
	close(recheckDone)
	r.closeBoth()
	<-down
	<-rechecked
}

// recheckPolicy re-decides the handshake every PolicyRecheck while the
// relay runs: a policy (or pin) change that no longer allows it ends the
// connection, as it would refuse a new one.
func (r *wsRelay) recheckPolicy(done <-chan struct{}) {
	t := time.NewTicker(r.p.lim.PolicyRecheck)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		comp, pins, err := r.p.cfg.Policy.Current()
		var d policy.Decision
		if err != nil {
			d = policyUnavailable(err)
		} else {
			d = comp.Decide(r.x.policyRequest(), pins)
		}
		if d.Allow {
			continue
		}
		ev := r.x.ev
		ev.Decision, ev.Reason = decisionDenied, "the policy no longer allows this WebSocket: "+d.Reason
		r.p.record(ev)
		r.terminate(wsClosePolicyViolated, "TrustyClaw proxy: the network policy no longer allows this connection")
		r.closeBoth()
		return
	}
}

// terminate sends the client one close frame of the proxy's (unless a
// relayed frame is cut in half) and stops relaying upstream frames, so
// the upstream's answer to a close cannot overtake ours. Only the first
// call acts.
func (r *wsRelay) terminate(code int, reason string) {
	r.termOnce.Do(func() {
		r.lockWriterOrAbort()
		defer r.wmu.Unlock()
		r.stopped = true
		if !r.midFrame {
			_ = r.c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = r.c.nc.Write(closeFrame(code, reason, false))
		}
	})
}

// wsViolation is why a client message was refused.
type wsViolation struct {
	code   int
	reason string
}

// relayServerFrames copies upstream frames to the client whole, one at a
// time, under the client write lock.
func (r *wsRelay) relayServerFrames() {
	br := bufio.NewReaderSize(r.up, 32<<10)
	buf := make([]byte, 32<<10)
	for {
		f, err := readWSFrameHeader(br)
		if err != nil {
			return
		}
		r.touch()
		r.wmu.Lock()
		if r.stopped {
			r.wmu.Unlock()
			return
		}
		r.midFrame = true
		_, err = r.c.nc.Write(f.head)
		left := f.length
		for err == nil && left > 0 {
			n := int64(len(buf))
			n = min(n, left)
			var m int
			m, err = io.ReadFull(br, buf[:n])
			if m > 0 {
				_, err = r.c.nc.Write(buf[:m])
				left -= int64(m)
			}
		}
		if err == nil {
			r.midFrame = false
		}
		r.wmu.Unlock()
		if err != nil {
			return
		}
	}
}

// inspectClientMessages reads client frames, reassembles each data
// message (charged to the memory budget, capped at the body limit),
// checks it with the web-search guard and only then writes its original
// frames upstream. Control frames pass at once. It returns the violation
// that ended the relay, or nil when a side closed.
func (r *wsRelay) inspectClientMessages() *wsViolation {
	p := r.p
	ctx := context.Background()
	var raw, payload *budgetBuffer
	reset := func() {
		if raw != nil {
			raw.release()
			payload.release()
		}
		raw, payload = nil, nil
	}
	defer reset()
	buf := make([]byte, 32<<10)
	for {
		f, err := readWSFrameHeader(r.c.br)
		if err != nil {
			var pe *wsProtocolError
			if errors.As(err, &pe) {
				return &wsViolation{wsCloseProtocolError, pe.Error()}
			}
			return nil
		}
		r.touch()
		if f.rsv != 0 {
			return &wsViolation{wsCloseProtocolError, "frame with RSV bits set: compressed WebSocket messages are not allowed through the proxy"}
		}
		if !f.masked {
			return &wsViolation{wsCloseProtocolError, "unmasked client frame"}
		}
		if f.opcode >= wsClose {
			ctl := make([]byte, f.length)
			if _, err := io.ReadFull(r.c.br, ctl); err != nil {
				return nil
			}
			if _, err := r.up.Write(append(f.head, ctl...)); err != nil {
				return nil
			}
			continue
		}
		switch {
		case f.opcode == wsContinuation && raw == nil:
			return &wsViolation{wsCloseProtocolError, "continuation frame outside a message"}
		case f.opcode != wsContinuation && raw != nil:
			return &wsViolation{wsCloseProtocolError, "new message before the previous one ended"}
		case raw == nil:
			raw, payload = p.newBudgetBuffer(ctx), p.newBudgetBuffer(ctx)
		}
		if int64(len(payload.bytes()))+f.length > p.lim.MaxBodyBytes {
			return &wsViolation{wsCloseTooBig, "message exceeds the proxy's size limit"}
		}
		if _, err := raw.Write(f.head); err != nil {
			return budgetViolation(err)
		}
		var off int64
		for off < f.length {
			n := min(int64(len(buf)), f.length-off)
			if _, err := io.ReadFull(r.c.br, buf[:n]); err != nil {
				return nil
			}
			if _, err := raw.Write(buf[:n]); err != nil {
				return budgetViolation(err)
			}
			unmask(buf[:n], f.mask, off)
			if _, err := payload.Write(buf[:n]); err != nil {
				return budgetViolation(err)
			}
			off += n
		}
		if !f.fin {
			continue
		}
		if ok, why := policy.CheckWebSearch(payload.bytes()); !ok {
			return &wsViolation{wsClosePolicyViolated, why}
		}
		if _, err := r.up.Write(raw.bytes()); err != nil {
			return nil
		}
		reset()
	}
}

func budgetViolation(err error) *wsViolation {
	if errors.Is(err, errBodyTooLarge) {
		return &wsViolation{wsCloseTooBig, "message exceeds the proxy's size limit"}
	}
	return &wsViolation{1013, "the proxy's memory budget is exhausted; try again later"}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }
