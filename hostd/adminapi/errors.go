package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// apiError is an error with the status and operator-facing message the API
// answers with.
type apiError struct {
	status int
	msg    string
	header http.Header // e.g. Allow, Retry-After
	cause  error       // logged, never shown
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d: %s: %v", e.status, e.msg, e.cause)
	}
	return fmt.Sprintf("%d: %s", e.status, e.msg)
}

func (e *apiError) Unwrap() error { return e.cause }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, format, args...)
}

// envelope is the body of every non-2xx response.
type envelope struct {
	Error struct {
		Message string `json:"message"`
	} `json:"error"`
}

func envelopeBody(msg string) []byte {
	var e envelope
	e.Error.Message = msg
	b, _ := json.Marshal(e) // a struct of one string cannot fail
	return append(b, '\n')
}

// classify maps an error to a status and a message safe to show. Host-side
// failures get a generic message naming the request id; the caller logs
// the detail.
func classify(err error, reqID string) (int, string, http.Header) {
	var ae *apiError
	var ve *policy.ValidationError
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.msg, ae.header
	case errors.Is(err, tasks.ErrNotFound):
		return http.StatusNotFound, strip(err, tasks.ErrNotFound), nil
	case errors.Is(err, tasks.ErrConflict):
		return http.StatusConflict, strip(err, tasks.ErrConflict), nil
	case errors.Is(err, tasks.ErrInvalid):
		return http.StatusBadRequest, strip(err, tasks.ErrInvalid), nil
	case errors.As(err, &ve):
		return http.StatusBadRequest, ve.Error(), nil
	case errors.Is(err, netstate.ErrBusy):
		return http.StatusConflict, netstate.ErrBusy.Error(), nil
	case errors.Is(err, agentrt.ErrLoginState), errors.Is(err, agentrt.ErrNotSupported):
		return http.StatusConflict, err.Error(), nil
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusInternalServerError, "the host did not answer in time (request " + reqID + "); see the admin service log", nil
	}
	return http.StatusInternalServerError, "host-side failure (request " + reqID + "); see the admin service log", nil
}

// strip drops a leading "<sentinel>: " from a wrapped service error so the
// operator reads "thread belongs to codex", not "conflict: thread ...".
func strip(err, sentinel error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, sentinel.Error()+": "); ok && rest != "" {
		return rest
	}
	return msg
}
