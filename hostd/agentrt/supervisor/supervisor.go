// Package supervisor owns each runtime's status machine (runtimes.md):
// deactivated while its provider is off, loading while probing, then
// active, awaiting_login or error. It runs the status poller, drives the
// login flows, stores account metadata and writes the provider account
// pins. It tells the orchestrator of every status change through
// agentrt.StatusListener.
//
// It never runs a turn and never holds its lock across a probe, a login
// start or a helper call.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// AccountReader reads the account a runtime is logged into (dev: the
// agent home directly; host: the read-* helpers).
type AccountReader interface {
	ReadAccount(ctx context.Context, t agentrt.Type) (agentrt.Account, error)
}

// PinWriter writes provider account pins (netstate.Client has it).
type PinWriter interface {
	SetAccountPin(ctx context.Context, provider, value string) error
}

// EventSink records agent_runtime.* events (tasks.Service has it).
type EventSink interface {
	AppendRuntimeEvent(ctx context.Context, eventType string, rt agentrt.Type) error
}

// Runtime event types (the same strings as tasks.EventRuntime*).
const (
	EventActive         = "agent_runtime.active"
	EventLoginCompleted = "agent_runtime.login_completed"
	EventDeactivated    = "agent_runtime.deactivated"
)

// DefaultPollInterval: an active runtime is re-probed at most this often.
const DefaultPollInterval = 5 * time.Minute

// Options configures a Supervisor.
type Options struct {
	Adapters map[agentrt.Type]agentrt.LoginAdapter
	Accounts AccountReader
	Pins     PinWriter
	Events   EventSink
	Listener agentrt.StatusListener
	// StateDir holds the account metadata file (the admin state dir).
	StateDir string
	// PollInterval (default 5 min); Now is the clock.
	PollInterval time.Duration
	Now          func() time.Time
	// LoginWait bounds how long CompleteLogin waits for the CLI to finish
	// after the code was written (default 30 s).
	LoginWait time.Duration
	Log       zerolog.Logger
}

type rtState struct {
	status    agentrt.Status
	errMsg    string
	enabled   bool
	needProbe bool
	probing   bool
	lastProbe time.Time
	login     *loginState
	starting  bool // a login flow is being started
	account   agentrt.Account
	// pinned is the pin value last written to proxy state by this
	// process ("" after a clear, and at start, so the first probe after a
	// restart re-writes it).
	pinned string
}

type loginState struct {
	flow    agentrt.LoginFlow
	handled chan struct{} // closed after completion was processed
}

// Supervisor implements agentrt.Supervisor.
type Supervisor struct {
	opts Options
	log  zerolog.Logger

	mu sync.Mutex
	rt map[agentrt.Type]*rtState

	notifyMu sync.Mutex // listener calls, one at a time, in order
	wake     chan struct{}
	wg       sync.WaitGroup
}

var _ agentrt.Supervisor = (*Supervisor)(nil)

// New returns a supervisor with every runtime deactivated until the
// first ProvidersChanged. Stored account metadata is loaded.
func New(o Options) (*Supervisor, error) {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LoginWait <= 0 {
		o.LoginWait = 30 * time.Second
	}
	s := &Supervisor{opts: o, log: o.Log.With().Str(logging.FieldComponent, "runtime-supervisor").Logger(), rt: map[agentrt.Type]*rtState{}, wake: make(chan struct{}, 1)}
	stored, err := loadAccounts(o.StateDir)
	if err != nil {
		return nil, err
	}
	for _, t := range agentrt.Types {
		s.rt[t] = &rtState{status: agentrt.StatusDeactivated, account: stored[t]}
	}
	return s, nil
}

// Run polls until ctx ends: forced probes (after ProvidersChanged, a
// login) at once, active runtimes every PollInterval. It returns after
// every goroutine it started (login watchers) has ended.
func (s *Supervisor) Run(ctx context.Context) {
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		s.Poll(ctx)
		select {
		case <-ctx.Done():
			s.closeLogins()
			s.wg.Wait()
			return
		case <-tick.C:
		case <-s.wake:
		}
	}
}

func (s *Supervisor) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Poll probes every enabled runtime that needs it now: forced ones, and
// active or errored ones not probed for PollInterval. Probes run in parallel and
// Poll returns when they are done.
func (s *Supervisor) Poll(ctx context.Context) {
	now := s.opts.Now()
	var due []agentrt.Type
	var notes []change
	s.mu.Lock()
	for _, t := range agentrt.Types {
		st := s.rt[t]
		if !st.enabled || st.probing || st.login != nil || st.starting {
			continue
		}
		// Active runtimes are re-probed so an expired login surfaces;
		// errored ones so a transient failure heals by itself.
		periodic := st.status == agentrt.StatusActive || st.status == agentrt.StatusError
		if st.needProbe || (periodic && now.Sub(st.lastProbe) >= s.opts.PollInterval) {
			st.needProbe = false
			st.probing = true
			if st.status != agentrt.StatusActive {
				notes = append(notes, s.setLocked(t, agentrt.StatusLoading, ""))
			}
			due = append(due, t)
		}
	}
	s.mu.Unlock()
	s.notify(notes)
	var wg sync.WaitGroup
	for _, t := range due {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.probe(ctx, t, false)
		}()
	}
	wg.Wait()
}

// probe asks the adapter and moves the status machine. afterLogin marks
// the probe that confirms a completed login.
func (s *Supervisor) probe(ctx context.Context, t agentrt.Type, afterLogin bool) {
	a := s.opts.Adapters[t]
	log := s.log.With().Str(logging.FieldRuntime, string(t)).Logger()
	var res agentrt.ProbeResult
	var err error
	s.pinBeforeProbe(ctx, t)
	if a == nil {
		err = errors.New("no adapter configured (CLI not installed?)")
	} else {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		res, err = a.Probe(pctx)
		cancel()
	}
	var acc agentrt.Account
	var accErr error
	if err == nil && res.LoggedIn && s.opts.Accounts != nil {
		acc, accErr = s.opts.Accounts.ReadAccount(ctx, t)
	}
	s.mu.Lock()
	st := s.rt[t]
	st.probing = false
	st.lastProbe = s.opts.Now()
	if !st.enabled { // turned off while probing
		s.mu.Unlock()
		return
	}
	var notes []change
	prevAcc := st.account
	pinned := st.pinned
	switch {
	case err != nil:
		log.Warn().Err(err).Msg("runtime probe failed")
		notes = append(notes, s.setLocked(t, agentrt.StatusError, "status probe failed: "+err.Error()))
	case !res.LoggedIn:
		notes = append(notes, s.setLocked(t, agentrt.StatusAwaitingLogin, ""))
	default:
		if accErr == nil {
			st.account = acc
		}
		notes = append(notes, s.setLocked(t, agentrt.StatusActive, ""))
	}
	s.mu.Unlock()
	if err == nil && res.LoggedIn {
		log.Info().Str("detail", res.Detail).Msg("runtime logged in")
		if accErr != nil {
			log.Info().Err(accErr).Msg("no account to pin (API-key or custom provider?)")
		} else if acc != prevAcc || pinValue(acc, t) != pinned || afterLogin {
			s.storeAndPin(ctx, t, acc, afterLogin)
		}
	}
	if afterLogin && err == nil && res.LoggedIn {
		s.event(ctx, EventLoginCompleted, t)
	}
	s.notify(notes)
}

// pinValue is the value the proxy compares for t's provider.
func pinValue(a agentrt.Account, t agentrt.Type) string {
	if t == agentrt.ClaudeCode {
		return a.TokenSHA256
	}
	return a.AccountID
}

// pinBeforeProbe writes the pin of the account the agent home names (if
// any, and if not pinned already) before the runtime is probed. Codex's
// own status call (account/read under ChatGPT auth) already talks to
// chatgpt.com through the proxy (workspace routing discovery), which the
// OpenAI account guard denies while nothing is pinned: pinning only after
// a successful probe would leave a ChatGPT-logged-in Codex in error
// forever (found by hostd/e2e).
func (s *Supervisor) pinBeforeProbe(ctx context.Context, t agentrt.Type) {
	if s.opts.Accounts == nil || s.opts.Pins == nil {
		return
	}
	acc, err := s.opts.Accounts.ReadAccount(ctx, t)
	value := pinValue(acc, t)
	if err != nil || value == "" {
		return
	}
	s.mu.Lock()
	st := s.rt[t]
	skip := !st.enabled || st.pinned == value
	s.mu.Unlock()
	if skip {
		return
	}
	if err := s.opts.Pins.SetAccountPin(ctx, t.Provider(), value); err != nil {
		s.log.Error().Err(err).Str(logging.FieldRuntime, string(t)).Msg("write provider account pin")
		return
	}
	s.mu.Lock()
	st.pinned = value
	s.mu.Unlock()
}

// storeAndPin stores the account metadata and writes its pin, unless
// that very pin is already written (force re-writes it, after a login).
func (s *Supervisor) storeAndPin(ctx context.Context, t agentrt.Type, acc agentrt.Account, force bool) {
	log := s.log.With().Str(logging.FieldRuntime, string(t)).Logger()
	if err := s.saveAccounts(); err != nil {
		log.Error().Err(err).Msg("store account metadata")
	}
	if s.opts.Pins == nil {
		return
	}
	value := pinValue(acc, t)
	s.mu.Lock()
	done := s.rt[t].pinned == value && value != ""
	s.mu.Unlock()
	if done && !force {
		return
	}
	if err := s.opts.Pins.SetAccountPin(ctx, t.Provider(), value); err != nil {
		log.Error().Err(err).Msg("write provider account pin")
		return
	}
	s.mu.Lock()
	s.rt[t].pinned = value
	s.mu.Unlock()
	log.Info().Msg("provider account pinned")
}

func (s *Supervisor) event(ctx context.Context, typ string, t agentrt.Type) {
	if s.opts.Events == nil {
		return
	}
	if err := s.opts.Events.AppendRuntimeEvent(ctx, typ, t); err != nil {
		s.log.Error().Err(err).Str(logging.FieldRuntime, string(t)).Str("event", typ).Msg("record runtime event")
	}
}

// change is one status transition to report.
type change struct {
	t        agentrt.Type
	from, to agentrt.Status
}

// setLocked moves t to status (s.mu held) and returns the change to
// report after unlocking (zero when nothing changed).
func (s *Supervisor) setLocked(t agentrt.Type, to agentrt.Status, msg string) change {
	st := s.rt[t]
	from := st.status
	st.status = to
	st.errMsg = msg
	if from == to {
		return change{}
	}
	return change{t: t, from: from, to: to}
}

// notify reports changes in order: events for entering active, then the
// listener.
func (s *Supervisor) notify(changes []change) {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	for _, c := range changes {
		if c.t == "" {
			continue
		}
		s.log.Info().Str(logging.FieldRuntime, string(c.t)).Str("from", string(c.from)).Str("to", string(c.to)).Msg("runtime status changed")
		if c.to == agentrt.StatusActive {
			s.event(context.Background(), EventActive, c.t)
		}
		if c.to == agentrt.StatusDeactivated {
			s.event(context.Background(), EventDeactivated, c.t)
		}
		if s.opts.Listener != nil {
			s.opts.Listener.RuntimeStatusChanged(c.t, c.from, c.to)
		}
	}
}

// States implements agentrt.Supervisor.
func (s *Supervisor) States() []agentrt.State {
	out := make([]agentrt.State, 0, len(agentrt.Types))
	for _, t := range agentrt.Types {
		out = append(out, s.State(t))
	}
	return out
}

// State implements agentrt.Supervisor.
func (s *Supervisor) State(t agentrt.Type) agentrt.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.rt[t]
	if !ok {
		return agentrt.State{Type: t, Status: agentrt.StatusError, ErrorMessage: "unknown runtime"}
	}
	return agentrt.State{Type: t, Status: st.status, ErrorMessage: st.errMsg}
}

// Accounts implements agentrt.Supervisor.
func (s *Supervisor) Accounts(context.Context) []agentrt.AccountInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]agentrt.AccountInfo, 0, len(agentrt.Types))
	for _, t := range agentrt.Types {
		st := s.rt[t]
		out = append(out, agentrt.AccountInfo{Type: t, Status: st.status, Account: st.account})
	}
	return out
}

// ProvidersChanged implements agentrt.Supervisor: a provider turned off
// deactivates its runtime (login abandoned, pin cleared, event, listener);
// one turned on (or still on) is re-probed.
func (s *Supervisor) ProvidersChanged(ctx context.Context, enabled map[string]bool) {
	var notes []change
	var off []agentrt.Type
	var flows []agentrt.LoginFlow
	s.mu.Lock()
	for _, t := range agentrt.Types {
		st := s.rt[t]
		on := enabled[t.Provider()]
		st.enabled = on
		if on {
			st.needProbe = true
			continue
		}
		if st.login != nil {
			flows = append(flows, st.login.flow)
			st.login = nil
		}
		if st.status != agentrt.StatusDeactivated {
			notes = append(notes, s.setLocked(t, agentrt.StatusDeactivated, ""))
		}
		off = append(off, t)
	}
	s.mu.Unlock()
	for _, f := range flows {
		f.Close()
	}
	for _, t := range off {
		if s.opts.Pins == nil {
			continue
		}
		if err := s.opts.Pins.SetAccountPin(ctx, t.Provider(), ""); err != nil {
			s.log.Error().Err(err).Str(logging.FieldRuntime, string(t)).Msg("clear provider account pin")
			continue
		}
		s.mu.Lock()
		s.rt[t].pinned = ""
		s.mu.Unlock()
	}
	s.notify(notes)
	s.kick()
}

// Close abandons login flows and waits for the supervisor's goroutines.
func (s *Supervisor) Close() {
	s.closeLogins()
	s.wg.Wait()
}

func (s *Supervisor) closeLogins() {
	s.mu.Lock()
	var flows []agentrt.LoginFlow
	for _, st := range s.rt {
		if st.login != nil {
			flows = append(flows, st.login.flow)
		}
	}
	s.mu.Unlock()
	for _, f := range flows {
		f.Close()
	}
}

func errLogin(t agentrt.Type, st *rtState) error {
	return fmt.Errorf("%w: %s is %s", agentrt.ErrLoginState, t, st.status)
}
