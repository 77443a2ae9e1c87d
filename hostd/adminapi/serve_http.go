package adminapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// Log field names of the access log that hostd/logging does not define.
const (
	fieldDurationMS = "duration_ms"
	fieldBytes      = "bytes"
	fieldRequestID  = "request_id"
	fieldReplayed   = "replayed"
	fieldAuth       = "auth"
)

// ServeHTTP runs every request through the same checks, in this order:
//  1. Host header must be a loopback name (403) — closes DNS rebinding;
//  2. paths outside /v1/ go to the UI (GET/HEAD only);
//  3. credentials, except for POST /v1/session (401, 429 while backed off;
//     403 for a cookie sent by a cross-origin page);
//  4. route (404) and method (405 with Allow);
//  5. query parameters (400), body size (413);
//  6. Idempotency-Key on POST/PUT/DELETE (400, 409, or a replay);
//  7. the handler.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &recordingWriter{ResponseWriter: w}
	reqID := a.reqIDs.next()
	replayed := false
	var who principal
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.Error().Str(fieldRequestID, reqID).Str("panic", fmt.Sprint(v)).
				Str("stack", string(debug.Stack())).Msg("handler panicked")
			if !rw.wroteHeader {
				a.writeError(rw, r, reqID, errorf(http.StatusInternalServerError,
					"host-side failure (request %s); see the admin service log", reqID))
			}
		}
		a.log.Info().
			Str(logging.FieldMethod, r.Method).
			Str(logging.FieldPath, r.URL.Path).
			Int(logging.FieldStatus, rw.status()).
			Float64(fieldDurationMS, float64(time.Since(start).Microseconds())/1000).
			Int64(fieldBytes, rw.bytes).
			Str(fieldRequestID, reqID).
			Str(fieldAuth, who.String()).
			Bool(fieldReplayed, replayed).
			Msg("request")
	}()

	h := rw.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Request-Id", reqID)

	if !loopbackHost(r.Host) {
		a.writeError(rw, r, reqID, errorf(http.StatusForbidden,
			"refused: the Host header must be 127.0.0.1, localhost or [::1] (with an optional port); reach the admin API through the SSH tunnel"))
		return
	}
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, "/v1/") && path != "/v1" {
		a.serveUI(rw, r, reqID)
		return
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")

	rt, p := a.match(path)
	var ep *endpoint
	if rt != nil {
		ep = rt.methods[r.Method]
	}
	if ep == nil || !ep.public {
		var err error
		if who, err = a.authenticate(rw, r); err != nil {
			a.writeError(rw, r, reqID, err)
			return
		}
	}
	if rt == nil {
		a.writeError(rw, r, reqID, errorf(http.StatusNotFound, "no such route: %s %s", r.Method, r.URL.Path))
		return
	}
	if ep == nil {
		e := errorf(http.StatusMethodNotAllowed, "%s is not allowed on %s; allowed: %s", r.Method, rt.pattern, rt.allow)
		e.header = http.Header{"Allow": {rt.allow}}
		a.writeError(rw, r, reqID, e)
		return
	}
	if err := checkQuery(r.URL.RawQuery, ep.query); err != nil {
		a.writeError(rw, r, reqID, err)
		return
	}
	if r.ContentLength > MaxBodyBytes {
		a.writeError(rw, r, reqID, errBodyTooLarge)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, MaxBodyBytes)
	rc := http.NewResponseController(rw)
	if r.ContentLength != 0 && ep.stream == nil {
		// A body must arrive within BodyReadTimeout, whether or not the
		// handler reads it (the server discards an unread one afterwards).
		// readBody clears the deadline after a complete read.
		_ = rc.SetReadDeadline(time.Now().Add(a.cfg.BodyReadTimeout))
	}
	r = r.WithContext(withRequestInfo(r.Context(), requestInfo{id: reqID, rc: rc}))

	switch {
	case ep.stream != nil:
		a.serveStream(rw, r, ep, reqID)
	case ep.idem == idemStore:
		replayed = a.serveIdempotent(rw, r, ep, p, reqID)
	case ep.idem == idemValidate:
		if _, err := idempotencyKey(r.Header); err != nil {
			a.writeError(rw, r, reqID, err)
			return
		}
		a.serveDirect(rw, r, ep, p, reqID)
	default:
		a.serveDirect(rw, r, ep, p, reqID)
	}
}

// serveStream runs a live stream within the MaxStreams slots.
func (a *api) serveStream(w *recordingWriter, r *http.Request, ep *endpoint, reqID string) {
	select {
	case a.streams <- struct{}{}:
		defer func() { <-a.streams }()
	default:
		e := errorf(http.StatusTooManyRequests, "too many live streams are open (%d); close one or poll the list route", cap(a.streams))
		e.header = http.Header{"Retry-After": {"5"}}
		a.writeError(w, r, reqID, e)
		return
	}
	if err := ep.stream(w, r); err != nil {
		if !w.wroteHeader {
			a.writeError(w, r, reqID, err)
			return
		}
		a.log.Warn().Err(err).Str(fieldRequestID, reqID).Msg("live stream ended with an error")
	}
}

var errBodyTooLarge = errorf(http.StatusRequestEntityTooLarge, "request body is larger than 1 MiB")

// serveDirect runs a handler without an idempotency record.
func (a *api) serveDirect(w http.ResponseWriter, r *http.Request, ep *endpoint, p params, reqID string) {
	rep, err := ep.handle(r, p)
	status, body, hdr := a.render(r, reqID, rep, err)
	writeBody(w, status, body, hdr, rep.header)
	if rep.after != nil && err == nil {
		flush(w)
		rep.after()
	}
}

// render turns a handler's result into status and body bytes.
func (a *api) render(r *http.Request, reqID string, rep reply, err error) (int, []byte, http.Header) {
	if err != nil {
		status, msg, hdr := classify(err, reqID)
		a.logFailure(r, reqID, status, err)
		return status, envelopeBody(msg), hdr
	}
	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	b, merr := json.Marshal(rep.body)
	if merr != nil {
		a.logFailure(r, reqID, http.StatusInternalServerError, fmt.Errorf("encode response: %w", merr))
		return http.StatusInternalServerError, envelopeBody("host-side failure (request " + reqID + "); see the admin service log"), nil
	}
	return status, append(b, '\n'), nil
}

func (a *api) logFailure(r *http.Request, reqID string, status int, err error) {
	if status < 500 {
		return
	}
	a.log.Error().Err(err).Str(fieldRequestID, reqID).
		Str(logging.FieldMethod, r.Method).Str(logging.FieldPath, r.URL.Path).Msg("request failed")
}

func (a *api) writeError(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	status, msg, hdr := classify(err, reqID)
	a.logFailure(r, reqID, status, err)
	writeBody(w, status, envelopeBody(msg), hdr, nil)
}

func writeBody(w http.ResponseWriter, status int, body []byte, hdrs ...http.Header) {
	h := w.Header()
	for _, extra := range hdrs {
		for k, v := range extra {
			h[k] = v
		}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func flush(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
}

func (a *api) serveUI(w http.ResponseWriter, r *http.Request, reqID string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		e := errorf(http.StatusMethodNotAllowed, "%s is not allowed here; allowed: GET, HEAD", r.Method)
		e.header = http.Header{"Allow": {"GET, HEAD"}}
		a.writeError(w, r, reqID, e)
		return
	}
	if a.cfg.UI == nil {
		a.writeError(w, r, reqID, errorf(http.StatusNotFound, "no such route: %s %s (the UI is not built into this binary)", r.Method, r.URL.Path))
		return
	}
	a.cfg.UI.ServeHTTP(w, r)
}

// recordingWriter remembers the status and size for the access log.
type recordingWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
	bytes       int64
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recordingWriter) status() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController reach Flush and the deadlines.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestIDs hands out short ids that tie a 500 answer to its log line.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &requestIDs{prefix: hex.EncodeToString(b)}
}

func (g *requestIDs) next() string {
	return g.prefix + "-" + strconv.FormatUint(g.n.Add(1), 10)
}

// requestInfo is what handlers may need of the request's frame: its id
// (for log lines) and its response controller (for the body deadline).
type requestInfo struct {
	id string
	rc *http.ResponseController
}

type requestInfoKey struct{}

func withRequestInfo(ctx context.Context, ri requestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

func infoOf(r *http.Request) requestInfo {
	ri, _ := r.Context().Value(requestInfoKey{}).(requestInfo)
	return ri
}
