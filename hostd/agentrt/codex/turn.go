package codex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// turn is one Codex turn on an app-server.
type turn struct {
	a   *Adapter
	srv *appServer
	req agentrt.TurnRequest

	mu        sync.Mutex
	threadID  string // Codex thread id
	turnID    string
	lastMsg   string
	lastError string // from an "error" notification
	killing   bool
	ended     bool
	result    agentrt.Result
	done      chan struct{}
	releaseMu sync.Once
}

// StartTurn implements agentrt.Adapter: a warm server bound to the
// thread is reused; otherwise a new one starts and the thread is resumed
// (known SessionID) or started.
func (a *Adapter) StartTurn(ctx context.Context, req agentrt.TurnRequest) (agentrt.Turn, error) {
	a.mu.Lock()
	epoch := a.epoch
	a.mu.Unlock()
	srv, warm, err := a.acquire(ctx, req.ThreadID, req.SessionID)
	if err != nil {
		return nil, err
	}
	t := &turn{a: a, srv: srv, req: req, done: make(chan struct{})}
	log := a.opts.Log.With().Str(logging.FieldThreadID, req.ThreadID).Logger()
	fail := func(err error) (agentrt.Turn, error) {
		srv.conn.setNotify(nil)
		a.mu.Lock()
		srv.codexID = "" // not reusable: its thread state is unknown
		a.mu.Unlock()
		a.release(srv)
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	threadID := req.SessionID
	if !warm {
		params := map[string]any{"approvalPolicy": approvalPolicy, "sandbox": sandboxMode}
		if a.opts.Cwd != "" {
			params["cwd"] = a.opts.Cwd
		}
		var res struct {
			Thread struct {
				ID string `json:"id"`
			} `json:"thread"`
		}
		method := "thread/start"
		if threadID != "" {
			method = "thread/resume"
			params["threadId"] = threadID
			params["excludeTurns"] = true
		}
		if err := srv.conn.call(rctx, method, params, &res); err != nil {
			return fail(fmt.Errorf("codex %s: %w", method, srv.explain(err)))
		}
		if res.Thread.ID == "" {
			return fail(fmt.Errorf("codex %s: answer has no thread id", method))
		}
		threadID = res.Thread.ID
		a.mu.Lock()
		srv.hostThread = req.ThreadID
		srv.codexID = threadID
		a.mu.Unlock()
	}
	t.threadID = threadID
	if req.OnSession != nil {
		req.OnSession(threadID)
	}
	srv.conn.setNotify(t.onNotification)
	var res struct {
		Turn struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"turn"`
	}
	err = srv.conn.call(rctx, "turn/start", map[string]any{
		"threadId": threadID,
		"input":    []map[string]any{{"type": "text", "text": req.Input}},
	}, &res)
	if err != nil {
		return fail(fmt.Errorf("codex turn/start: %w", srv.explain(err)))
	}
	t.mu.Lock()
	if t.turnID == "" {
		t.turnID = res.Turn.ID
	}
	t.mu.Unlock()
	a.mu.Lock()
	closed := a.epoch != epoch
	if !closed {
		a.running[t] = struct{}{}
	}
	a.mu.Unlock()
	if closed {
		// CloseAll ran while this turn was starting: it must not survive.
		_ = t.Kill(context.WithoutCancel(ctx))
		return nil, errors.New("codex processes were closed while the turn was starting")
	}
	log.Debug().Bool("warm", warm).Str("codex_thread", threadID).Msg("codex: turn started")
	go t.watch()
	return t, nil
}

// watch ends the turn if the process dies or the connection breaks.
func (t *turn) watch() {
	select {
	case <-t.done:
	case <-t.srv.conn.closed:
		t.mu.Lock()
		killing := t.killing
		t.mu.Unlock()
		if killing {
			return // Kill finishes the turn itself
		}
		var msg string
		if cerr := t.srv.conn.err(); errors.Is(cerr, errProtocol) {
			msg = "codex app-server output is not JSON-RPC any more: " + cerr.Error()
		} else {
			// Give the process a moment so its exit status is known.
			select {
			case <-t.srv.proc.Done():
			case <-time.After(time.Second):
			}
			msg = "codex app-server stopped during the turn"
			select {
			case <-t.srv.proc.Done():
				msg += " (" + exitText(t.srv.proc.ExitErr()) + ")"
			default:
				msg += ": " + cerr.Error()
			}
		}
		t.finish(agentrt.Result{Outcome: agentrt.OutcomeFailed, Error: msg})
	}
}

type itemParams struct {
	ThreadID string `json:"threadId"`
	TurnID   string `json:"turnId"`
	Item     struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"item"`
}

type turnParams struct {
	ThreadID string `json:"threadId"`
	Turn     struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	} `json:"turn"`
}

type errorParams struct {
	Error struct {
		Message string `json:"message"`
	} `json:"error"`
	ThreadID  string `json:"threadId"`
	TurnID    string `json:"turnId"`
	WillRetry bool   `json:"willRetry"`
}

// onNotification handles the app-server's notifications for this turn;
// unknown ones are ignored.
func (t *turn) onNotification(method string, params json.RawMessage) {
	switch method {
	case "turn/started":
		var p turnParams
		if json.Unmarshal(params, &p) == nil && t.mine(p.ThreadID) {
			t.mu.Lock()
			if t.turnID == "" {
				t.turnID = p.Turn.ID
			}
			t.mu.Unlock()
		}
	case "item/completed":
		var p itemParams
		if json.Unmarshal(params, &p) != nil || !t.mine(p.ThreadID) || p.Item.Type != "agentMessage" {
			return
		}
		t.mu.Lock()
		if t.ended {
			t.mu.Unlock()
			return
		}
		t.lastMsg = p.Item.Text
		t.mu.Unlock()
		if t.req.OnMessage != nil {
			t.req.OnMessage(p.Item.Text)
		}
	case "error":
		var p errorParams
		if json.Unmarshal(params, &p) == nil && t.mine(p.ThreadID) && !p.WillRetry {
			t.mu.Lock()
			t.lastError = p.Error.Message
			t.mu.Unlock()
		}
	case "turn/completed":
		var p turnParams
		if json.Unmarshal(params, &p) != nil || !t.mine(p.ThreadID) {
			return
		}
		t.mu.Lock()
		current := t.turnID
		lastErr := t.lastError
		t.mu.Unlock()
		if current != "" && p.Turn.ID != "" && p.Turn.ID != current {
			return // an earlier turn (e.g. one replaced by a steer)
		}
		r := agentrt.Result{}
		switch p.Turn.Status {
		case "completed":
			r.Outcome = agentrt.OutcomeCompleted
		case "interrupted":
			r.Outcome = agentrt.OutcomeInterrupted
		default:
			r.Outcome = agentrt.OutcomeFailed
			switch {
			case p.Turn.Error != nil && p.Turn.Error.Message != "":
				r.Error = "codex turn failed: " + p.Turn.Error.Message
			case lastErr != "":
				r.Error = "codex turn failed: " + lastErr
			default:
				r.Error = fmt.Sprintf("codex turn ended with status %q", p.Turn.Status)
			}
		}
		t.finish(r)
	}
}

func (t *turn) mine(threadID string) bool { return threadID == "" || threadID == t.threadID }

// finish records the result once, returns the server to the pool (or
// closes it) and wakes Wait.
func (t *turn) finish(r agentrt.Result) {
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return
	}
	t.ended = true
	r.SessionID = t.threadID
	if r.Outcome == agentrt.OutcomeCompleted || r.Output == "" {
		r.Output = t.lastMsg
	}
	t.result = r
	t.mu.Unlock()
	t.srv.conn.setNotify(nil)
	t.a.mu.Lock()
	delete(t.a.running, t)
	t.a.mu.Unlock()
	// finish often runs on the read loop, and closing a server waits for
	// that loop to end: hand the release to a goroutine that wakes Wait
	// only once the server is idle in the pool or gone.
	go t.releaseMu.Do(func() {
		t.a.release(t.srv)
		close(t.done)
	})
}

// Steer implements agentrt.Turn with turn/steer. Codex answers -32600
// when no turn is active: the steer came too late.
func (t *turn) Steer(ctx context.Context, text string) error {
	t.mu.Lock()
	if t.ended || t.killing {
		t.mu.Unlock()
		return agentrt.ErrTurnEnded
	}
	turnID := t.turnID
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, t.a.opts.RequestTimeout)
	defer cancel()
	var res struct {
		TurnID string `json:"turnId"`
	}
	err := t.srv.conn.call(ctx, "turn/steer", map[string]any{
		"threadId":       t.threadID,
		"expectedTurnId": turnID,
		"input":          []map[string]any{{"type": "text", "text": text}},
	}, &res)
	var rerr *rpcError
	switch {
	case err == nil:
		t.mu.Lock()
		if res.TurnID != "" {
			t.turnID = res.TurnID
		}
		t.mu.Unlock()
		return nil
	case errors.As(err, &rerr) && rerr.Code == codeInvalidRequest, errors.Is(err, errConnClosed):
		return fmt.Errorf("%w: %v", agentrt.ErrTurnEnded, err)
	}
	return fmt.Errorf("codex steer: %w", err)
}

// Kill implements agentrt.Turn: turn/interrupt (so Codex records the
// turn as interrupted in its history), then the process group is killed
// — the thread resumes later on a fresh app-server.
func (t *turn) Kill(ctx context.Context) error {
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return nil
	}
	first := !t.killing
	t.killing = true
	turnID := t.turnID
	t.mu.Unlock()
	t.a.mu.Lock()
	t.srv.codexID = "" // never warm again
	t.a.mu.Unlock()
	if first {
		ictx, cancel := context.WithTimeout(ctx, t.a.opts.InterruptGrace)
		if err := t.srv.conn.call(ictx, "turn/interrupt", map[string]any{"threadId": t.threadID, "turnId": turnID}, nil); err == nil {
			select {
			case <-t.done:
			case <-ictx.Done():
			}
		}
		cancel()
	}
	err := t.srv.proc.Kill(ctx)
	if err != nil {
		return fmt.Errorf("kill codex turn: %w", err)
	}
	<-t.srv.readDone
	t.finish(agentrt.Result{Outcome: agentrt.OutcomeInterrupted, Error: "turn was killed"})
	<-t.done
	return nil
}

// Wait implements agentrt.Turn.
func (t *turn) Wait(ctx context.Context) (agentrt.Result, error) {
	select {
	case <-t.done:
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.result, nil
	case <-ctx.Done():
		return agentrt.Result{}, ctx.Err()
	}
}
