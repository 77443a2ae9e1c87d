package proxy

import (
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// record sends one decision to the event sink.
func (p *Proxy) record(ev netstate.Event) {
	p.cfg.Events.Record(ev)
	l := p.decisionLog.Debug()
	if ev.Decision == decisionDenied {
		l = p.decisionLog.Info()
	}
	l.Str("protocol", ev.Protocol).Str(logging.FieldMethod, clip(ev.Method)).
		Str(logging.FieldHost, ev.Host).Int("port", ev.Port).Str(logging.FieldPath, clip(ev.Path)).
		Str(logging.FieldDecision, ev.Decision).Str(logging.FieldReason, ev.Reason).Msg("proxy decision")
}

// deny records a denial and answers with status and the reason + hint.
// close: the connection ends after the answer.
func (p *Proxy) deny(c *clientConn, ev netstate.Event, status int, reason, hint string, close bool) {
	ev.Decision = decisionDenied
	ev.Reason = reason
	p.record(ev)
	if err := c.writeText(status, denialBody(reason, hint), close); err != nil {
		return
	}
	if close {
		c.lingeringClose()
	}
}

// denyAndRecover denies a request whose body has not been read. A small
// body is drained so the connection can be reused; otherwise (or when
// the client waits for 100-continue) the connection is closed.
func (p *Proxy) denyAndRecover(c *clientConn, x *exchange, status int, reason, hint string) bool {
	h := x.h
	keep := !h.Close && !expectsContinue(h)
	if keep && h.hasBody() {
		keep = !h.Chunked && h.ContentLength <= drainLimit
	}
	p.deny(c, x.ev, status, reason, hint, !keep)
	if !keep {
		return false
	}
	if h.hasBody() {
		br := newBodyReader(c.br, h, drainLimit, c.extendBodyDeadline)
		buf := make([]byte, 4096)
		for {
			if _, err := br.Read(buf); err != nil {
				break
			}
		}
		_ = c.nc.SetReadDeadline(time.Time{})
		return br.complete()
	}
	return true
}

// drainLimit: a denied request body up to this size is read and dropped
// to keep the connection alive.
const drainLimit = 64 << 10

func expectsContinue(h *requestHead) bool {
	return headerHasToken(h.Header, "Expect", "100-continue")
}

// denialBody is the short text a denied agent sees.
func denialBody(reason, hint string) string {
	b := "TrustyClaw proxy denied this request: " + reason + "\n"
	if hint != "" {
		b += "To allow it: " + hint + "\n"
	}
	return b
}
