package proxy

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// bodyVerdict is why a guarded body is not forwarded.
type bodyVerdict struct {
	status int // 0: no answer possible (client gone)
	reason string
}

// readInspectedBody reads a guarded request body completely (capped,
// charged to the memory budget), decodes it by its Content-Encoding and
// applies the live-web-search guard. On success it returns the raw
// (still encoded) body to forward and a release function.
func (p *Proxy) readInspectedBody(ctx context.Context, c *clientConn, x *exchange) ([]byte, func(), *bodyVerdict) {
	h := x.h
	limit := p.lim.MaxBodyBytes
	if h.ContentLength > limit {
		return nil, nil, &bodyVerdict{http.StatusRequestEntityTooLarge, tooLargeReason(limit)}
	}
	buf := p.newBudgetBuffer(ctx)
	if h.ContentLength > 0 {
		if err := buf.reserve(h.ContentLength); err != nil {
			return nil, nil, bodyFailure(err, limit)
		}
	}
	br := newBodyReader(c.br, h, limit, c.extendBodyDeadline)
	_, err := copyInto(buf, br)
	_ = c.nc.SetReadDeadline(time.Time{})
	if err != nil {
		buf.release()
		return nil, nil, bodyFailure(err, limit)
	}
	decoded, err := p.decodeContent(ctx, buf.bytes(), h.Header["Content-Encoding"])
	if err != nil {
		buf.release()
		return nil, nil, bodyFailure(err, limit)
	}
	content := buf.bytes()
	if decoded != nil {
		content = decoded.bytes()
	}
	ok, why := policy.CheckWebSearch(content)
	if decoded != nil {
		decoded.release()
	}
	if !ok {
		buf.release()
		return nil, nil, &bodyVerdict{http.StatusForbidden, why}
	}
	return buf.bytes(), buf.release, nil
}

// copyInto copies r into b (a plain loop: io.Copy would prefer a
// WriterTo/ReaderFrom and bypass nothing here, but stays explicit).
func copyInto(b *budgetBuffer, r *bodyReader) (int64, error) {
	var n int64
	tmp := make([]byte, 32<<10)
	for {
		m, err := r.Read(tmp)
		if m > 0 {
			if _, werr := b.Write(tmp[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err != nil {
			if r.complete() {
				return n, nil
			}
			return n, err
		}
	}
}

func tooLargeReason(limit int64) string {
	return "request body exceeds " + strconv.FormatInt(limit, 10) + " bytes (decoded or not)"
}

func bodyFailure(err error, limit int64) *bodyVerdict {
	switch {
	case errors.Is(err, errBodyTooLarge):
		return &bodyVerdict{http.StatusRequestEntityTooLarge, tooLargeReason(limit)}
	case errors.Is(err, errBudgetExhausted):
		return &bodyVerdict{http.StatusServiceUnavailable, "the proxy's memory budget for buffered bodies is exhausted"}
	case errors.Is(err, errUndecodable):
		return &bodyVerdict{http.StatusForbidden, err.Error() + "; the live-web-search guard cannot inspect it"}
	case isMalformed(err):
		return &bodyVerdict{http.StatusBadRequest, err.Error()}
	default:
		return &bodyVerdict{0, "request body could not be read: " + err.Error()}
	}
}
