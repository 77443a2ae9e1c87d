package claude

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// turn is one `claude -p` process.
//
// When does the turn end? Claude takes a user line written while a
// text-only turn runs as a queued next turn (a second init + result);
// during a tool-using turn it injects it at the next tool boundary (one
// result for both). The CLI echoes every user line when it takes it up
// (--replay-user-messages), always before the result that covers it. So
// the turn ends at the first result after which every written line has
// been echoed. Steers are accepted until then; a steer that loses the race
// against that result is answered ErrTurnEnded and never written.
type turn struct {
	a    *Adapter
	proc *agentproc.Process
	req  agentrt.TurnRequest

	wmu sync.Mutex // one stdin line at a time

	mu        sync.Mutex
	written   int // user lines written
	echoed    int // user lines echoed back
	session   string
	lastMsg   string
	lastRes   *event
	ending    bool // final result seen or kill started: no more steers
	killing   bool
	badLines  int
	done      chan struct{}
	result    agentrt.Result
	readDone  chan struct{}
	interrupt int
}

// StartTurn implements agentrt.Adapter.
func (a *Adapter) StartTurn(ctx context.Context, req agentrt.TurnRequest) (agentrt.Turn, error) {
	if req.SessionID != "" && !ValidSessionID(req.SessionID) {
		return nil, fmt.Errorf("claude session id %q is not a UUID", req.SessionID)
	}
	line, err := userLine(req.Input)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	epoch := a.epoch
	a.mu.Unlock()
	p, err := a.opts.Starter.Start(ctx, turnSpec(req.SessionID))
	if err != nil {
		return nil, fmt.Errorf("start claude: %w", err)
	}
	t := &turn{a: a, proc: p, req: req, done: make(chan struct{}), readDone: make(chan struct{}), session: req.SessionID}
	if req.SessionID != "" && req.OnSession != nil {
		req.OnSession(req.SessionID)
	}
	t.written = 1
	if _, err := p.Stdin.Write(line); err != nil {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = p.Kill(kctx)
		return nil, fmt.Errorf("write the task to claude: %w", err)
	}
	a.mu.Lock()
	closed := a.epoch != epoch
	if !closed {
		a.running[t] = struct{}{}
	}
	a.mu.Unlock()
	go t.read()
	if closed {
		// CloseAll ran while this turn was starting: it must not survive.
		_ = t.Kill(context.WithoutCancel(ctx))
		return nil, errors.New("claude processes were closed while the turn was starting")
	}
	return t, nil
}

// read consumes stdout until the process closes it, then settles the
// turn from what it saw and how the process ended.
func (t *turn) read() {
	log := t.a.opts.Log.With().Str(logging.FieldThreadID, t.req.ThreadID).Int(logging.FieldPID, t.proc.Pid()).Logger()
	lr := agentproc.NewLineReader(t.proc.Stdout, 0)
	var readErr error
	for {
		line, err := lr.Next()
		if errors.Is(err, agentproc.ErrLineTooLong) {
			log.Warn().Err(err).Msg("claude: skipped an over-long line")
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		e, perr := parseEvent(line)
		if perr != nil {
			t.mu.Lock()
			t.badLines++
			t.mu.Unlock()
			log.Warn().Err(perr).Int("bytes", len(line)).Msg("claude: ignored a line that is not stream-json")
			continue
		}
		t.handle(e)
	}
	t.proc.Stdout.Close()
	close(t.readDone)
	// The process closed stdout: it is exiting (or its group is being
	// killed). Wait for it, bounded, so the exit status is known.
	select {
	case <-t.proc.Done():
	case <-time.After(10 * time.Second):
		kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = t.proc.Kill(kctx)
		cancel()
	}
	t.settle(readErr)
}

func (t *turn) handle(e event) {
	switch e.Type {
	case "system":
		if e.Subtype == "init" && e.SessionID != "" {
			t.noteSession(e.SessionID)
		}
	case "user":
		if e.IsReplay {
			t.mu.Lock()
			t.echoed++
			t.mu.Unlock()
		}
	case "assistant":
		if e.SessionID != "" {
			t.noteSession(e.SessionID)
		}
		text := e.text()
		if text == "" {
			return
		}
		t.mu.Lock()
		t.lastMsg = text
		t.mu.Unlock()
		if t.req.OnMessage != nil {
			t.req.OnMessage(text)
		}
	case "result":
		if e.SessionID != "" {
			t.noteSession(e.SessionID)
		}
		t.mu.Lock()
		ev := e
		t.lastRes = &ev
		final := t.echoed >= t.written && !t.ending
		if final {
			t.ending = true
		}
		t.mu.Unlock()
		if final {
			// Nothing more to say: the CLI exits 0 once stdin closes.
			t.closeStdin()
		}
	}
}

func (t *turn) noteSession(id string) {
	t.mu.Lock()
	changed := t.session != id
	t.session = id
	t.mu.Unlock()
	if changed && t.req.OnSession != nil {
		t.req.OnSession(id)
	}
}

func (t *turn) closeStdin() {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.proc.CloseStdin()
}

// settle decides the turn's result once the process is gone.
func (t *turn) settle(readErr error) {
	// Kill any tool the CLI left running in its group.
	kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = t.proc.Kill(kctx)
	cancel()
	t.mu.Lock()
	r := agentrt.Result{SessionID: t.session, Output: t.lastMsg}
	res := t.lastRes
	complete := t.ending && !t.killing && res != nil
	switch {
	case t.killing:
		r.Outcome = agentrt.OutcomeInterrupted
		r.Error = "turn was killed"
	case complete && res.Subtype == "success" && !res.IsError:
		r.Outcome = agentrt.OutcomeCompleted
		if res.Result != "" {
			r.Output = res.Result
		}
	case res != nil && (res.IsError || res.Subtype != "success"):
		r.Outcome = agentrt.OutcomeFailed
		r.Error = "claude turn failed: " + resultError(res)
	default:
		r.Outcome = agentrt.OutcomeFailed
		r.Error = "claude stopped before the turn finished (" + exitText(t.proc.ExitErr()) + ")"
		if readErr != nil {
			r.Error += ": " + readErr.Error()
		}
	}
	t.result = r
	t.mu.Unlock()
	t.a.mu.Lock()
	delete(t.a.running, t)
	t.a.mu.Unlock()
	close(t.done)
}

func resultError(res *event) string {
	msg := res.Subtype
	switch {
	case res.Result != "":
		msg = res.Result
	case len(res.Errors) > 0:
		// e.g. "No conversation found with session ID: …" on a bad resume.
		msg = strings.Join(res.Errors, "; ")
	}
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return msg
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// Steer implements agentrt.Turn: another user line on stdin.
func (t *turn) Steer(ctx context.Context, text string) error {
	line, err := userLine(text)
	if err != nil {
		return err
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	if t.ending || t.killing {
		t.mu.Unlock()
		return agentrt.ErrTurnEnded
	}
	t.written++
	t.mu.Unlock()
	if err := ctx.Err(); err != nil {
		t.mu.Lock()
		t.written--
		t.mu.Unlock()
		return err
	}
	if _, err := t.proc.Stdin.Write(line); err != nil {
		t.mu.Lock()
		t.written--
		t.mu.Unlock()
		return fmt.Errorf("%w: write steer to claude: %v", agentrt.ErrTurnEnded, err)
	}
	return nil
}

// Kill implements agentrt.Turn: an interrupt control request first (the
// CLI then records the interruption in the session), then the process
// group is killed.
func (t *turn) Kill(ctx context.Context) error {
	t.mu.Lock()
	select {
	case <-t.done:
		t.mu.Unlock()
		return nil
	default:
	}
	first := !t.killing
	t.killing = true
	t.ending = true
	t.interrupt++
	id := fmt.Sprintf("interrupt-%d", t.interrupt)
	t.mu.Unlock()
	if first {
		t.wmu.Lock()
		_, werr := t.proc.Stdin.Write(interruptLine(id))
		t.proc.CloseStdin() // after the interrupt, EOF makes the CLI exit
		t.wmu.Unlock()
		if werr == nil {
			grace := time.NewTimer(t.a.opts.InterruptGrace)
			select {
			case <-t.readDone:
			case <-grace.C:
			case <-ctx.Done():
			}
			grace.Stop()
		}
	}
	if err := t.proc.Kill(ctx); err != nil {
		return fmt.Errorf("kill claude turn: %w", err)
	}
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kill claude turn: %w", ctx.Err())
	}
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
