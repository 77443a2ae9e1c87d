package codex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
)

// Codex speaks JSON-RPC 2.0 without the "jsonrpc" member; it accepts
// requests with or without it. We send it without.

// message is any JSON-RPC message on the wire.
type message struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *rpcError       `json:"error,omitempty"`
}

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("%s (code %d)", e.Message, e.Code) }

// JSON-RPC error codes Codex uses.
const (
	codeInvalidRequest = -32600 // e.g. turn/steer with no active turn
	codeMethodNotFound = -32601
)

type kind int

const (
	kindResponse kind = iota + 1
	kindNotification
	kindRequest
)

// decodeMessage parses and classifies one line. It is pure, so the
// framing fuzz target can hammer it.
func decodeMessage(line []byte) (message, kind, error) {
	var m message
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return m, 0, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, 0, fmt.Errorf("bad JSON: %w", err)
	}
	hasID := len(m.ID) > 0 && !bytes.Equal(m.ID, []byte("null"))
	switch {
	case m.Method != "" && hasID:
		return m, kindRequest, nil
	case m.Method != "":
		return m, kindNotification, nil
	case hasID && (m.Result != nil || m.Error != nil):
		return m, kindResponse, nil
	}
	return m, 0, errors.New("neither request, response nor notification")
}

// maxConsecutiveBadLines: past this, the stream is not JSON-RPC any more
// and the connection is declared broken.
const maxConsecutiveBadLines = 64

// errConnClosed is returned by calls on a closed connection.
var errConnClosed = errors.New("codex app-server connection closed")

// errProtocol marks a connection closed because the stream stopped being
// JSON-RPC.
var errProtocol = errors.New("protocol broken")

// conn is a JSON-RPC client over one app-server's stdin/stdout.
type conn struct {
	w   io.Writer
	log zerolog.Logger

	wmu sync.Mutex // serialises writes: one line at a time

	mu        sync.Mutex
	nextID    int64
	pending   map[string]chan message
	onNotify  func(method string, params json.RawMessage)
	onRequest func(method string, params json.RawMessage) (any, *rpcError)

	closed   chan struct{}
	closeErr error
	badLines atomic.Int64
}

func newConn(w io.Writer, log zerolog.Logger) *conn {
	return &conn{w: w, log: log, pending: map[string]chan message{}, closed: make(chan struct{})}
}

// setNotify installs the notification handler (nil drops them). It runs
// on the read loop: notifications arrive in order.
func (c *conn) setNotify(fn func(method string, params json.RawMessage)) {
	c.mu.Lock()
	c.onNotify = fn
	c.mu.Unlock()
}

// readLoop reads lines until r ends, dispatching each message. It returns
// the reason the connection closed.
func (c *conn) readLoop(r io.Reader) error {
	lr := agentproc.NewLineReader(r, 0)
	consecutive := 0
	for {
		line, err := lr.Next()
		if errors.Is(err, agentproc.ErrLineTooLong) {
			c.badLines.Add(1)
			c.log.Warn().Err(err).Msg("codex app-server: skipped an over-long line")
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("app-server closed its output")
			}
			c.fail(err)
			return err
		}
		m, k, derr := decodeMessage(line)
		if derr != nil {
			c.badLines.Add(1)
			consecutive++
			c.log.Warn().Err(derr).Int("bytes", len(line)).Msg("codex app-server: ignored a line that is not JSON-RPC")
			if consecutive >= maxConsecutiveBadLines {
				err := fmt.Errorf("%w: %d consecutive lines that are not JSON-RPC", errProtocol, consecutive)
				c.fail(err)
				return err
			}
			continue
		}
		consecutive = 0
		c.dispatch(m, k)
	}
}

func (c *conn) dispatch(m message, k kind) {
	switch k {
	case kindResponse:
		key := idKey(m.ID)
		c.mu.Lock()
		ch := c.pending[key]
		delete(c.pending, key)
		c.mu.Unlock()
		if ch == nil {
			c.log.Debug().Str("id", key).Msg("codex app-server: response to no pending request")
			return
		}
		ch <- m
	case kindNotification:
		c.mu.Lock()
		fn := c.onNotify
		c.mu.Unlock()
		if fn != nil {
			fn(m.Method, m.Params)
		}
	case kindRequest:
		c.mu.Lock()
		fn := c.onRequest
		c.mu.Unlock()
		var result any
		var rerr *rpcError
		if fn == nil {
			rerr = &rpcError{Code: codeMethodNotFound, Message: "not supported by this host"}
		} else {
			result, rerr = fn(m.Method, m.Params)
		}
		out := map[string]any{"id": m.ID}
		if rerr != nil {
			out["error"] = rerr
		} else {
			out["result"] = result
		}
		if err := c.write(out); err != nil {
			c.log.Warn().Err(err).Str("request", m.Method).Msg("codex app-server: could not answer a server request")
		}
	}
}

// idKey normalises an id (number or string) for the pending map.
func idKey(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return "s:" + s
	}
	return "n:" + string(bytes.TrimSpace(raw))
}

func (c *conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
		return
	default:
	}
	c.closeErr = err
	close(c.closed)
	for k, ch := range c.pending {
		close(ch)
		delete(c.pending, k)
	}
}

// err is why the connection closed (nil while open).
func (c *conn) err() error {
	select {
	case <-c.closed:
		return c.closeErr
	default:
		return nil
	}
}

func (c *conn) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	b = append(b, '\n')
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.w.Write(b); err != nil {
		return fmt.Errorf("write to app-server: %w", err)
	}
	return nil
}

// notify sends a notification.
func (c *conn) notify(method string, params any) error {
	m := map[string]any{"method": method}
	if params != nil {
		m["params"] = params
	}
	return c.write(m)
}

// call sends a request and waits for its response (bounded by ctx).
// A JSON-RPC error comes back as *rpcError.
func (c *conn) call(ctx context.Context, method string, params, out any) error {
	c.mu.Lock()
	if c.err() != nil {
		c.mu.Unlock()
		return fmt.Errorf("%s: %w: %v", method, errConnClosed, c.closeErr)
	}
	c.nextID++
	id := c.nextID
	key := "n:" + strconv.FormatInt(id, 10)
	ch := make(chan message, 1)
	c.pending[key] = ch
	c.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	if err := c.write(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		c.mu.Lock()
		delete(c.pending, key)
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: %w: %v", method, errConnClosed, c.closeErr)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %w", method, m.Error)
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				return fmt.Errorf("%s: decode result: %w", method, err)
			}
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, key)
		c.mu.Unlock()
		return fmt.Errorf("%s: no answer: %w", method, ctx.Err())
	}
}
