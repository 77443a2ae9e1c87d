package fakert

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// Turn is one running fake turn.
type Turn struct {
	a       *Adapter
	req     agentrt.TurnRequest
	script  Script
	session string

	steerCh  chan steerReq
	killCh   chan struct{}
	killOnce sync.Once
	done     chan struct{}

	mu             sync.Mutex
	steers         []string
	messages       []string
	killed         bool
	steeringClosed bool
	result         agentrt.Result
}

type steerReq struct {
	text  string
	reply chan error
}

var _ agentrt.Turn = (*Turn)(nil)

func newTurn(a *Adapter, req agentrt.TurnRequest, s Script, session string) *Turn {
	return &Turn{
		a: a, req: req, script: s, session: session,
		steerCh: make(chan steerReq),
		killCh:  make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// Request is what StartTurn was called with.
func (t *Turn) Request() agentrt.TurnRequest { return t.req }

// SessionID is the session the turn reported.
func (t *Turn) SessionID() string { return t.session }

// Steers returns the steers the turn took, in order.
func (t *Turn) Steers() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.steers...)
}

// Messages returns the agent messages the turn emitted, in order.
func (t *Turn) Messages() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.messages...)
}

// Killed reports whether Kill was called (directly or by CloseAll).
func (t *Turn) Killed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.killed
}

// Done is closed when the turn has ended (its "process" exited).
func (t *Turn) Done() <-chan struct{} { return t.done }

// WaitSteers blocks until the turn took n steers.
func (t *Turn) WaitSteers(ctx context.Context, n int) ([]string, error) {
	return waitFor(ctx, t.a, func() ([]string, bool) {
		s := t.Steers()
		return s, len(s) >= n
	}, func() string {
		return fmt.Sprintf("turn on %s took %d of %d steers", t.req.ThreadID, len(t.Steers()), n)
	})
}

// Steer implements agentrt.Turn. It returns agentrt.ErrTurnEnded once the
// turn ended or passed its last steering point.
func (t *Turn) Steer(ctx context.Context, text string) error {
	t.mu.Lock()
	closed := t.steeringClosed
	t.mu.Unlock()
	if closed {
		return agentrt.ErrTurnEnded
	}
	r := steerReq{text: text, reply: make(chan error, 1)}
	select {
	case t.steerCh <- r:
	case <-t.done:
		return agentrt.ErrTurnEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kill implements agentrt.Turn: it ends the turn and returns after it
// exited (after the script's ExitGate, if any).
func (t *Turn) Kill(ctx context.Context) error {
	t.killOnce.Do(func() {
		t.mu.Lock()
		t.killed = true
		t.mu.Unlock()
		close(t.killCh)
		t.a.notifyChange()
	})
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fake %s: waiting for the killed turn to exit: %w", t.a.typ, ctx.Err())
	}
}

// Wait implements agentrt.Turn.
func (t *Turn) Wait(ctx context.Context) (agentrt.Result, error) {
	select {
	case <-t.done:
	case <-ctx.Done():
		return agentrt.Result{}, ctx.Err()
	}
	if t.script.WaitErr != nil {
		return agentrt.Result{}, t.script.WaitErr
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.result, nil
}

// errKilled ends the script when the turn is killed.
var errKilled = errors.New("killed")

func (t *Turn) run() {
	res := agentrt.Result{SessionID: t.session}
	defer func() {
		t.mu.Lock()
		t.result = res
		t.steeringClosed = true
		t.mu.Unlock()
		close(t.done)
		t.a.notifyChange()
	}()
	if t.req.OnSession != nil {
		t.req.OnSession(t.session)
	}
	last := ""
	end := func(o agentrt.Outcome, output, errMsg string) {
		res.Outcome, res.Output, res.Error = o, output, errMsg
	}
	for _, st := range t.script.Steps {
		var err error
		switch st.kind {
		case stepSay:
			if err = t.takeSteersNow(&last); err == nil {
				t.say(st.text, &last)
			}
		case stepGate:
			err = t.pause(st.gate, -1, &last)
		case stepAwaitSteers:
			err = t.pause(nil, st.n, &last)
		case stepHang:
			err = t.pause(nil, -1, &last)
		case stepCloseSteering:
			t.mu.Lock()
			t.steeringClosed = true
			t.mu.Unlock()
		case stepComplete:
			out := st.text
			if out == "" {
				out = last
			}
			end(agentrt.OutcomeCompleted, out, "")
			return
		case stepFail:
			end(agentrt.OutcomeFailed, "", st.text)
			return
		case stepInterrupt:
			end(agentrt.OutcomeInterrupted, "", "")
			return
		}
		if errors.Is(err, errKilled) {
			t.exitKilled()
			end(agentrt.OutcomeInterrupted, "", "")
			return
		}
	}
	end(agentrt.OutcomeCompleted, last, "")
}

func (t *Turn) exitKilled() {
	if t.script.ExitGate != nil {
		<-t.script.ExitGate
	}
}

func (t *Turn) say(text string, last *string) {
	t.mu.Lock()
	t.messages = append(t.messages, text)
	t.mu.Unlock()
	*last = text
	if t.req.OnMessage != nil {
		t.req.OnMessage(text)
	}
	t.a.notifyChange()
}

func (t *Turn) take(r steerReq, last *string) {
	t.mu.Lock()
	if t.steeringClosed {
		// Sent before the last steering point passed, seen after it.
		t.mu.Unlock()
		r.reply <- agentrt.ErrTurnEnded
		return
	}
	t.steers = append(t.steers, r.text)
	t.mu.Unlock()
	r.reply <- nil
	t.a.notifyChange()
	if t.script.SteerReply != nil {
		if reply := t.script.SteerReply(r.text); reply != "" {
			t.say(reply, last)
		}
	}
}

// takeSteersNow takes steers already waiting, without blocking.
func (t *Turn) takeSteersNow(last *string) error {
	for {
		select {
		case <-t.killCh:
			return errKilled
		case r := <-t.steerCh:
			t.take(r, last)
		default:
			return nil
		}
	}
}

// pause waits for gate (nil: none) or for the turn to have taken
// wantSteers steers (-1: not), taking steers meanwhile; a kill ends it.
func (t *Turn) pause(gate <-chan struct{}, wantSteers int, last *string) error {
	for {
		if wantSteers >= 0 {
			t.mu.Lock()
			n := len(t.steers)
			t.mu.Unlock()
			if n >= wantSteers {
				return nil
			}
		}
		select {
		case <-t.killCh:
			return errKilled
		case r := <-t.steerCh:
			t.take(r, last)
		case <-gate:
			return nil
		}
	}
}
