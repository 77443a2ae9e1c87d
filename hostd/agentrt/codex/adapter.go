// Package codex drives the OpenAI Codex CLI through `codex app-server`
// (JSON-RPC over stdio): status probes, the ChatGPT device-code login,
// turns on new or resumed threads with steering and kill, and a bounded
// pool of warm app-servers bound to their threads.
//
// It owns the app-server processes it starts and must never leave one
// behind, rewrite the agent's config.toml, or pass settings other than
// the managed overrides in settings.go.
package codex

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// Options configures an Adapter.
type Options struct {
	// Starter starts app-server processes (dev: direct exec; host: sudo
	// helper).
	Starter agentproc.Starter
	// Cwd is the working directory sent with thread/start (the agent
	// home); empty lets Codex use its own cwd.
	Cwd string
	// WarmCapacity bounds app-server processes kept for threads, busy or
	// idle: one per worker slot (default 6).
	WarmCapacity int
	// RequestTimeout bounds each JSON-RPC request (default 60 s).
	RequestTimeout time.Duration
	// LoginTTL is how long a device code stays usable (default 15 min;
	// the app-server does not report an expiry).
	LoginTTL time.Duration
	// InterruptGrace: how long Kill waits for turn/interrupt to end the
	// turn cleanly before killing the process (default 500 ms).
	InterruptGrace time.Duration
	// Now is the clock (default time.Now).
	Now           func() time.Time
	Log           zerolog.Logger
	ClientVersion string
}

// Adapter is the Codex runtime adapter. It implements agentrt.LoginAdapter.
type Adapter struct {
	opts Options

	mu      sync.Mutex
	idle    []*appServer // warm servers, least recently used first
	busy    int          // servers running a turn or starting
	running map[*turn]struct{}
	// epoch counts CloseAll calls: a turn that was starting while one ran
	// is stopped instead of escaping it.
	epoch int
}

var _ agentrt.LoginAdapter = (*Adapter)(nil)

// New returns an adapter.
func New(o Options) *Adapter {
	if o.WarmCapacity <= 0 {
		o.WarmCapacity = 6
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 60 * time.Second
	}
	if o.LoginTTL <= 0 {
		o.LoginTTL = 15 * time.Minute
	}
	if o.InterruptGrace <= 0 {
		o.InterruptGrace = 500 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientVersion == "" {
		o.ClientVersion = "dev"
	}
	o.Log = o.Log.With().Str(logging.FieldRuntime, string(agentrt.Codex)).Logger()
	return &Adapter{opts: o, running: map[*turn]struct{}{}}
}

// Type implements agentrt.Adapter.
func (a *Adapter) Type() agentrt.Type { return agentrt.Codex }

// Probe asks a short-lived app-server whether an account is present.
// Codex is usable when it has an account or needs no OpenAI auth (an API
// key provider).
func (a *Adapter) Probe(ctx context.Context) (agentrt.ProbeResult, error) {
	s, err := a.startServer(ctx)
	if err != nil {
		return agentrt.ProbeResult{}, err
	}
	defer s.close(context.WithoutCancel(ctx), 2*time.Second)
	rctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	var res struct {
		Account *struct {
			Type string `json:"type"`
		} `json:"account"`
		RequiresOpenaiAuth bool `json:"requiresOpenaiAuth"`
	}
	if err := s.conn.call(rctx, "account/read", map[string]any{}, &res); err != nil {
		return agentrt.ProbeResult{}, fmt.Errorf("codex status: %w", s.explain(err))
	}
	switch {
	case res.Account != nil:
		return agentrt.ProbeResult{LoggedIn: true, Detail: "account type " + res.Account.Type}, nil
	case !res.RequiresOpenaiAuth:
		return agentrt.ProbeResult{LoggedIn: true, Detail: "provider needs no OpenAI auth"}, nil
	}
	return agentrt.ProbeResult{LoggedIn: false, Detail: "no account"}, nil
}

// acquire returns a warm server for the thread if one holds sessionID,
// else starts a new one, first closing the least recently used idle
// server when the pool is full.
func (a *Adapter) acquire(ctx context.Context, hostThread, sessionID string) (*appServer, bool, error) {
	var stale []*appServer
	a.mu.Lock()
	var found *appServer
	for i := 0; i < len(a.idle); i++ {
		s := a.idle[i]
		if s.hostThread != hostThread && s.alive() {
			continue
		}
		a.idle = append(a.idle[:i], a.idle[i+1:]...)
		i--
		if s.alive() && sessionID != "" && s.codexID == sessionID && found == nil {
			found = s
		} else {
			stale = append(stale, s)
		}
	}
	if found == nil && a.busy+len(a.idle) >= a.opts.WarmCapacity && len(a.idle) > 0 {
		stale = append(stale, a.idle[0])
		a.idle = a.idle[1:]
	}
	a.busy++
	a.mu.Unlock()
	for _, s := range stale {
		a.opts.Log.Debug().Str(logging.FieldThreadID, s.hostThread).Msg("codex: closing idle app-server")
		s.close(context.WithoutCancel(ctx), time.Second)
	}
	if found != nil {
		return found, true, nil
	}
	s, err := a.startServer(ctx)
	if err != nil {
		a.release(nil)
		return nil, false, err
	}
	return s, false, nil
}

// release gives a server back after a turn: idle and warm if it is
// healthy, closed otherwise. A nil server only frees the slot.
func (a *Adapter) release(s *appServer) {
	a.mu.Lock()
	a.busy--
	keep := s != nil && s.alive() && s.codexID != ""
	if keep {
		s.lastUsed = a.opts.Now()
		a.idle = append(a.idle, s)
	}
	a.mu.Unlock()
	if s != nil && !keep {
		s.close(context.Background(), time.Second)
	}
}

// WarmCount reports how many idle warm servers are kept (for tests and
// health details).
func (a *Adapter) WarmCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.idle)
}

// CloseAll kills running turns (they end interrupted) and closes every
// warm server, returning after all exited.
func (a *Adapter) CloseAll(ctx context.Context) error {
	a.mu.Lock()
	a.epoch++
	idle := a.idle
	a.idle = nil
	turns := make([]*turn, 0, len(a.running))
	for t := range a.running {
		turns = append(turns, t)
	}
	a.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, t := range turns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.Kill(ctx); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	for _, s := range idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.close(ctx, time.Second)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
