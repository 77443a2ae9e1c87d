package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// idempotencyKey returns the request's Idempotency-Key: exactly one
// header, 1–128 characters of [A-Za-z0-9._:-].
func idempotencyKey(h http.Header) (string, error) {
	vals := h.Values("Idempotency-Key")
	switch {
	case len(vals) == 0:
		return "", badRequest("missing Idempotency-Key header: every POST, PUT and DELETE needs one (1-128 characters of A-Z a-z 0-9 . _ : -)")
	case len(vals) > 1:
		return "", badRequest("send exactly one Idempotency-Key header")
	}
	if !validKey(vals[0]) {
		return "", badRequest("invalid Idempotency-Key: use 1-128 characters of A-Z a-z 0-9 . _ : -")
	}
	return vals[0], nil
}

// validKey: 1–128 characters of [A-Za-z0-9._:-] — the shape shared by
// Idempotency-Key, thread ids and task ids.
func validKey(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// storable reports whether a response is kept as the key's first
// response. Answers that mean "nothing was done, fix the request and try
// again" (400, 413) and host-side failures (5xx) are not: the reservation
// is dropped so the same key can be retried.
func storable(status int) bool {
	return status < 500 && status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge
}

// serveIdempotent runs a mutating request under its Idempotency-Key:
//  1. key missing or malformed → 400;
//  2. a record for the key from the last 24 h with another method or
//     path → 400; still running → 409; finished → its stored status and
//     body, without running the handler (Idempotent-Replayed: true);
//  3. otherwise the key is reserved, the handler runs, and its response is
//     stored (or the reservation dropped, see storable) before it is sent.
//
// It reports whether the response was a replay.
func (a *api) serveIdempotent(w http.ResponseWriter, r *http.Request, ep *endpoint, p params, reqID string) bool {
	key, err := idempotencyKey(r.Header)
	if err != nil {
		a.writeError(w, r, reqID, err)
		return false
	}
	store := a.cfg.Idempotency
	now := a.cfg.Now()
	ctx, cancel := context.WithTimeout(r.Context(), serviceCallTimeout)
	rec, existing, err := store.BeginIdempotent(ctx, key, r.Method, r.URL.Path, now)
	cancel()
	if err != nil {
		a.writeError(w, r, reqID, fmt.Errorf("reserve idempotency key: %w", err))
		return false
	}
	if existing {
		switch {
		case rec.Method != r.Method || rec.Path != r.URL.Path:
			a.writeError(w, r, reqID, badRequest(
				"this Idempotency-Key was already used for %s %s; use a new key for another request", rec.Method, rec.Path))
		case !rec.Done:
			a.writeError(w, r, reqID, errorf(http.StatusConflict,
				"the first request with this Idempotency-Key is still running; retry later"))
		default:
			w.Header().Set("Idempotent-Replayed", "true")
			writeBody(w, rec.Status, rec.Body)
			return true
		}
		return false
	}

	// From here the key is ours. Whatever happens (a panic included), the
	// reservation is either finished or dropped.
	settled := false
	detached := context.WithoutCancel(r.Context())
	defer func() {
		if !settled {
			a.abortKey(detached, key, reqID)
		}
	}()

	rep, herr := ep.handle(r, p)
	status, body, hdr := a.render(r, reqID, rep, herr)
	if storable(status) {
		fctx, cancel := context.WithTimeout(detached, serviceCallTimeout)
		if err := store.FinishIdempotent(fctx, key, status, body); err != nil {
			// The work is done; answer with its result. A retry with this
			// key will see the reservation until the store drops it.
			a.log.Error().Err(err).Str(fieldRequestID, reqID).Msg("store idempotent response")
		}
		cancel()
	} else {
		a.abortKey(detached, key, reqID)
	}
	settled = true
	writeBody(w, status, body, hdr, rep.header)
	if rep.after != nil && herr == nil {
		flush(w)
		rep.after()
	}
	return false
}

func (a *api) abortKey(ctx context.Context, key, reqID string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.cfg.Idempotency.AbortIdempotent(ctx, key); err != nil {
		a.log.Error().Err(err).Str(fieldRequestID, reqID).Msg("drop idempotency reservation")
	}
}
