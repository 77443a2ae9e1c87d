package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// StartLogin implements agentrt.Supervisor. A login already in progress
// is replaced by a new one.
func (s *Supervisor) StartLogin(ctx context.Context, t agentrt.Type) (agentrt.LoginInfo, error) {
	a := s.opts.Adapters[t]
	s.mu.Lock()
	st, ok := s.rt[t]
	if !ok || a == nil {
		s.mu.Unlock()
		return agentrt.LoginInfo{}, fmt.Errorf("%w: %s is not configured", agentrt.ErrLoginState, t)
	}
	if st.status != agentrt.StatusAwaitingLogin || st.starting {
		err := errLogin(t, st)
		if st.starting {
			err = fmt.Errorf("%w: a login for %s is being started", agentrt.ErrLoginState, t)
		}
		s.mu.Unlock()
		return agentrt.LoginInfo{}, err
	}
	st.starting = true
	old := st.login
	st.login = nil
	s.mu.Unlock()
	if old != nil {
		old.flow.Close()
	}
	flow, err := a.StartLogin(ctx)
	s.mu.Lock()
	st.starting = false
	if err != nil {
		s.mu.Unlock()
		return agentrt.LoginInfo{}, fmt.Errorf("start %s login: %w", t, err)
	}
	if st.status != agentrt.StatusAwaitingLogin { // deactivated meanwhile
		s.mu.Unlock()
		flow.Close()
		return agentrt.LoginInfo{}, errLogin(t, st)
	}
	ls := &loginState{flow: flow, handled: make(chan struct{})}
	st.login = ls
	s.mu.Unlock()
	s.wg.Add(1)
	go s.watchLogin(t, ls)
	s.log.Info().Str(logging.FieldRuntime, string(t)).Msg("login started")
	return flow.Info(), nil
}

// watchLogin waits for a flow to end; on success it re-probes, reads and
// pins the account and emits login_completed then active.
func (s *Supervisor) watchLogin(t agentrt.Type, ls *loginState) {
	defer s.wg.Done()
	defer close(ls.handled)
	<-ls.flow.Done()
	err := ls.flow.Err()
	s.mu.Lock()
	st := s.rt[t]
	current := st.login == ls
	if current {
		st.login = nil
	}
	if current && err == nil {
		st.probing = true
	}
	s.mu.Unlock()
	ls.flow.Close()
	log := s.log.With().Str(logging.FieldRuntime, string(t)).Logger()
	if !current {
		return
	}
	if err != nil {
		log.Info().Err(err).Msg("login ended without success")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s.probe(ctx, t, true)
}

// CurrentLogin implements agentrt.Supervisor.
func (s *Supervisor) CurrentLogin(_ context.Context, t agentrt.Type) (agentrt.LoginInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.rt[t]
	if !ok || st.status != agentrt.StatusAwaitingLogin || st.login == nil {
		if ok && st.status == agentrt.StatusAwaitingLogin {
			return agentrt.LoginInfo{}, fmt.Errorf("%w: no %s login in progress", agentrt.ErrLoginState, t)
		}
		return agentrt.LoginInfo{}, fmt.Errorf("%w: %s", agentrt.ErrLoginState, t)
	}
	return st.login.flow.Info(), nil
}

// CompleteLogin implements agentrt.Supervisor: the code goes to the
// waiting CLI, then it waits (bounded) for the login to be confirmed and
// reports the resulting status.
func (s *Supervisor) CompleteLogin(ctx context.Context, t agentrt.Type, code string) (agentrt.LoginInfo, error) {
	if t == agentrt.Codex {
		return agentrt.LoginInfo{}, fmt.Errorf("codex device-code login needs no code: %w", agentrt.ErrNotSupported)
	}
	s.mu.Lock()
	st, ok := s.rt[t]
	if !ok || st.status != agentrt.StatusAwaitingLogin || st.login == nil {
		s.mu.Unlock()
		return agentrt.LoginInfo{}, fmt.Errorf("%w: no %s login is waiting for a code", agentrt.ErrLoginState, t)
	}
	ls := st.login
	s.mu.Unlock()
	if err := ls.flow.SubmitCode(ctx, code); err != nil {
		return agentrt.LoginInfo{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, s.opts.LoginWait)
	defer cancel()
	select {
	case <-ls.handled:
	case <-wctx.Done():
		// Still working (or waiting for a corrected code): report as is.
		info := ls.flow.Info()
		return info, nil
	}
	if err := ls.flow.Err(); err != nil {
		return agentrt.LoginInfo{}, fmt.Errorf("%s login: %w", t, err)
	}
	state := s.State(t)
	if state.Status != agentrt.StatusActive {
		return agentrt.LoginInfo{Status: string(state.Status)}, errors.New("the CLI accepted the code but does not report a login")
	}
	return agentrt.LoginInfo{Status: string(state.Status)}, nil
}
