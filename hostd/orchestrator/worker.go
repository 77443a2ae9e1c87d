package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/store"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// worker runs claimed jobs until the dispatcher closes jobCh at shutdown.
func (o *Orchestrator) worker() {
	for j := range o.jobCh {
		o.runJob(j)
		o.release(j)
	}
}

func (o *Orchestrator) jobLog(j *job) *zerolog.Logger {
	l := o.log.With().Str(logging.FieldTaskID, j.task.ID).Str(logging.FieldThreadID, j.task.ThreadID).
		Str(logging.FieldRuntime, string(j.task.Runtime)).Logger()
	return &l
}

// runJob runs one turn for a claimed (running) task and records how it
// ended. It returns only when no process of the turn is left running, so
// the thread it releases is safe to reuse.
func (o *Orchestrator) runJob(j *job) {
	t := j.task
	fail := func(msg string) { o.finish(j, store.Finish{Status: tasks.StatusFailed, Error: msg}) }
	if stopped, reason := j.isStopped(); stopped {
		fail(reason)
		return
	}
	a := o.adapters[t.Runtime]
	if a == nil {
		fail(fmt.Sprintf("this host has no %s runtime", t.Runtime))
		return
	}
	if st := o.cfg.Status.State(t.Runtime); st.Status != agentrt.StatusActive {
		fail(fmt.Sprintf("the %s runtime is not active (now %s)", t.Runtime, st.Status))
		return
	}
	session, err := o.st.ThreadSession(j.ctx, t.ThreadID)
	if err != nil {
		fail("could not read the thread's runtime session from the admin store")
		o.jobLog(j).Error().Err(err).Msg("reading the thread session")
		return
	}
	j.mu.Lock()
	j.session = session
	j.mu.Unlock()
	req := agentrt.TurnRequest{
		ThreadID:  t.ThreadID,
		SessionID: session,
		Input:     t.Input,
		OnSession: func(sid string) { o.recordSession(j, sid) },
		OnMessage: func(text string) { o.recordMessage(j, text) },
	}
	sctx, cancel := context.WithTimeout(j.ctx, o.cfg.StartTimeout)
	turn, err := a.StartTurn(sctx, req)
	cancel()
	if err != nil {
		if stopped, reason := j.isStopped(); stopped {
			fail(reason)
			return
		}
		o.jobLog(j).Warn().Err(err).Msg("starting a turn")
		fail("could not start the turn: " + err.Error())
		return
	}
	res, waitErr := o.drive(j, turn)
	o.finishTurn(j, res, waitErr)
}

// drive waits for the turn to end while delivering steers and carrying out
// a stop (kill). It returns after Turn.Wait returned.
func (o *Orchestrator) drive(j *job, turn agentrt.Turn) (agentrt.Result, error) {
	type waited struct {
		res agentrt.Result
		err error
	}
	waitDone := make(chan waited, 1)
	go func() {
		// Not bounded: a turn runs as long as the agent works; a kill or
		// a runtime leaving active is what ends it early.
		r, err := turn.Wait(context.Background())
		waitDone <- waited{r, err}
	}()
	ended := make(chan struct{})
	steerDone := make(chan struct{})
	go func() {
		defer close(steerDone)
		o.steerLoop(j, turn, ended)
	}()
	stopCh := j.stopCh
	for {
		select {
		case <-stopCh:
			stopCh = nil
			kctx, cancel := context.WithTimeout(context.Background(), o.cfg.KillTimeout)
			err := turn.Kill(kctx)
			cancel()
			if err != nil {
				// Keep holding the thread: a new turn must never race a
				// process that is still alive.
				o.jobLog(j).Error().Err(err).Msg("killed turn has not exited; its thread stays held until it does")
			}
		case w := <-waitDone:
			close(ended)
			<-steerDone
			return w.res, w.err
		}
	}
}

// steerLoop delivers the task's pending steers, oldest first, whenever one
// is recorded, until the turn ends or can take no more.
func (o *Orchestrator) steerLoop(j *job, turn agentrt.Turn, ended <-chan struct{}) {
	for o.deliverSteers(j, turn, ended) {
		select {
		case <-j.steerWake:
		case <-ended:
			return
		case <-j.stopCh:
			return
		}
	}
}

// deliverSteers delivers every pending steer; false when the turn will
// take no more (its remaining steers stay recorded as undelivered).
func (o *Orchestrator) deliverSteers(j *job, turn agentrt.Turn, ended <-chan struct{}) bool {
	for {
		select {
		case <-ended:
			return false
		case <-j.stopCh:
			return false
		default:
		}
		rctx, cancel := o.bg()
		st, ok, err := o.st.NextSteer(rctx, j.task.ID)
		cancel()
		if err != nil {
			o.jobLog(j).Error().Err(err).Msg("reading pending steers")
			return true
		}
		if !ok {
			return true
		}
		// Agent messages that arrive while the steer is on its way are
		// held back and recorded after the steer's user message, so an
		// answer to the steer never precedes it in the event log.
		j.mu.Lock()
		j.steering = true
		j.mu.Unlock()
		sctx, cancel := context.WithTimeout(j.ctx, o.cfg.SteerTimeout)
		err = turn.Steer(sctx, st.Text)
		cancel()
		var recErr error
		if err == nil {
			wctx, cancel := o.bg()
			_, recErr = o.st.DeliveredSteer(wctx, st.ID)
			cancel()
		}
		o.releaseHeld(j)
		switch {
		case err == nil:
			if recErr != nil {
				o.jobLog(j).Error().Err(recErr).Msg("recording a delivered steer")
				return false
			}
		case errors.Is(err, agentrt.ErrTurnEnded):
			return false
		default:
			o.jobLog(j).Warn().Err(err).Msg("delivering a steer; later steers of this turn stay undelivered")
			return false
		}
	}
}

func (o *Orchestrator) recordMessage(j *job, text string) {
	j.mu.Lock()
	j.lastMessage = text
	if j.steering {
		j.held = append(j.held, text)
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	o.appendAgentMessage(j, text)
}

// releaseHeld records the agent messages held back during a steer's
// delivery, in arrival order, then lets messages through directly again.
func (o *Orchestrator) releaseHeld(j *job) {
	for {
		j.mu.Lock()
		held := j.held
		j.held = nil
		if len(held) == 0 {
			j.steering = false
			j.mu.Unlock()
			return
		}
		j.mu.Unlock()
		for _, text := range held {
			o.appendAgentMessage(j, text)
		}
	}
}

func (o *Orchestrator) appendAgentMessage(j *job, text string) {
	ctx, cancel := o.bg()
	defer cancel()
	if _, err := o.st.AppendAgentMessage(ctx, j.task.ID, text); err != nil {
		o.jobLog(j).Error().Err(err).Msg("recording an agent message")
	}
}

func (o *Orchestrator) recordSession(j *job, sid string) {
	if sid == "" {
		return
	}
	j.mu.Lock()
	same := sid == j.session
	j.session = sid
	j.mu.Unlock()
	if same {
		return
	}
	ctx, cancel := o.bg()
	defer cancel()
	if err := o.st.SetThreadSession(ctx, j.task.ThreadID, sid); err != nil {
		o.jobLog(j).Error().Err(err).Msg("recording the thread's runtime session")
	}
}

// finishTurn turns the turn's result into the task's final status.
func (o *Orchestrator) finishTurn(j *job, res agentrt.Result, waitErr error) {
	_, reason := j.isStopped()
	j.mu.Lock()
	last := j.lastMessage
	j.mu.Unlock()
	var f store.Finish
	switch {
	case waitErr != nil:
		f = store.Finish{Status: tasks.StatusFailed, Error: "the turn ended with an error: " + waitErr.Error()}
	case res.Outcome == agentrt.OutcomeCompleted:
		out := res.Output
		if out == "" {
			out = last
		}
		f = store.Finish{Status: tasks.StatusCompleted, Output: out}
	case res.Outcome == agentrt.OutcomeFailed:
		msg := res.Error
		if msg == "" {
			msg = "the agent runtime reported the turn as failed"
		}
		f = store.Finish{Status: tasks.StatusFailed, Error: msg}
	case res.Outcome == agentrt.OutcomeInterrupted:
		msg := reason
		if msg == "" {
			msg = "the turn was interrupted"
		}
		f = store.Finish{Status: tasks.StatusFailed, Error: msg}
	default:
		f = store.Finish{Status: tasks.StatusFailed, Error: fmt.Sprintf("the turn ended with an unknown outcome %q", res.Outcome)}
	}
	if waitErr == nil {
		o.recordSession(j, res.SessionID)
	}
	o.finish(j, f)
}

// finish records the final status if the task is still running (a kill or
// a runtime leaving active may already have ended it).
func (o *Orchestrator) finish(j *job, f store.Finish) {
	ctx, cancel := o.bg()
	defer cancel()
	ok, err := o.st.FinishTask(ctx, j.task.ID, f)
	log := o.jobLog(j)
	switch {
	case err != nil:
		log.Error().Err(err).Msg("recording how a task ended")
	case ok:
		log.Info().Str(logging.FieldStatus, string(f.Status)).Msg("task finished")
	default:
		log.Info().Msg("turn ended after its task was already cancelled or failed")
	}
}
