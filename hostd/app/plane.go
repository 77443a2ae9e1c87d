package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/adminapi"
	"github.com/trustyclaw/trustyclaw/hostd/adminapi/auth"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/setup"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/supervisor"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/orchestrator"
	"github.com/trustyclaw/trustyclaw/hostd/store"
	"github.com/trustyclaw/trustyclaw/hostd/store/adminstore"
	"github.com/trustyclaw/trustyclaw/ui"
)

// planeConfig is what differs between dev and host mode for the admin
// plane (store, orchestrator, runtime supervisor, admin API).
type planeConfig struct {
	AgentName    string
	AdminDir     string // admin state: admin.db, account metadata
	PasswordHash string
	Listener     net.Listener
	Network      netstate.Client
	Runtimes     setup.Runtimes
	Rebooter     adminapi.Rebooter
	HostInfo     adminapi.HostInfo
	Log          zerolog.Logger
}

// plane is an assembled admin plane, not yet running.
type plane struct {
	cfg   planeConfig
	store *store.Store
	orch  *orchestrator.Orchestrator
	sup   *supervisor.Supervisor
	// supReady publishes sup to the orchestrator's status function, which
	// may run on other goroutines.
	supReady atomic.Pointer[supervisor.Supervisor]
	handler  http.Handler
	ctx      context.Context
	stop     context.CancelFunc
}

// openPlane opens the admin store (refusing one from a newer hostd before
// anything serves) and wires orchestrator, supervisor and API. The caller
// must call close.
func openPlane(ctx context.Context, cfg planeConfig) (*plane, error) {
	authn, err := auth.New(auth.Config{PasswordHash: cfg.PasswordHash})
	if err != nil {
		return nil, err
	}
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := store.Open(openCtx, filepath.Join(cfg.AdminDir, "admin.db"), store.Options{})
	if err != nil {
		return nil, fmt.Errorf("open admin store: %w", err)
	}
	p := &plane{cfg: cfg, store: st}
	p.ctx, p.stop = context.WithCancel(ctx)

	for _, t := range agentrt.Types {
		if cfg.Runtimes.Adapters[t] == nil {
			cfg.Runtimes.Adapters[t] = missingCLI{t: t, reason: "not found on PATH; give --" + cliFlag[t]}
		}
	}
	// The orchestrator asks the supervisor for runtime states and the
	// supervisor tells the orchestrator of changes: break the cycle with a
	// late-bound status function.
	p.orch, err = orchestrator.New(orchestrator.Config{
		Store:    st,
		Adapters: cfg.Runtimes.List(),
		Status: orchestrator.StatusFunc(func(t agentrt.Type) agentrt.State {
			sup := p.supReady.Load()
			if sup == nil {
				return agentrt.State{Type: t, Status: agentrt.StatusLoading}
			}
			return sup.State(t)
		}),
		Logger: cfg.Log,
	})
	if err != nil {
		p.close()
		return nil, fmt.Errorf("start orchestrator: %w", err)
	}
	p.sup, err = supervisor.New(supervisor.Options{
		Adapters: cfg.Runtimes.Adapters,
		Accounts: cfg.Runtimes.Accounts,
		Pins:     cfg.Network,
		Events:   p.orch,
		Listener: p.orch,
		StateDir: cfg.AdminDir,
		Log:      cfg.Log,
	})
	if err != nil {
		p.close()
		return nil, fmt.Errorf("start runtime supervisor: %w", err)
	}
	p.supReady.Store(p.sup)
	p.handler = adminapi.New(adminapi.Config{
		AgentName:   cfg.AgentName,
		Tasks:       p.orch,
		Runtimes:    p.sup,
		Network:     cfg.Network,
		Idempotency: adminstore.New(st),
		Sessions:    adminstore.New(st),
		Auth:        authn,
		Rebooter:    cfg.Rebooter,
		HostInfo:    cfg.HostInfo,
		UI:          ui.Handler(),
		Log:         cfg.Log,
		Context:     p.ctx,
	})
	return p, nil
}

var cliFlag = map[agentrt.Type]string{agentrt.Codex: "codex-bin", agentrt.ClaudeCode: "claude-bin"}

// run serves until ctx is done (or a component fails), together with the
// extra services given (the in-process proxy in dev mode), then stops
// them all and waits. ready is called once everything was started.
func (p *plane) run(extra map[string]func(context.Context) error, ready func()) error {
	var wg sync.WaitGroup
	errs := make(chan error, 4+len(extra))
	goRun := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(p.ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
				p.stop()
			}
		}()
	}
	for name, fn := range extra {
		goRun(name, fn)
	}
	goRun("orchestrator", p.orch.Run)
	goRun("runtime supervisor", func(ctx context.Context) error { p.sup.Run(ctx); return nil })
	goRun("admin API", func(ctx context.Context) error {
		return adminapi.Serve(ctx, p.cfg.Listener, p.handler, p.cfg.Log)
	})

	// Tell the supervisor which providers the stored policy turns on, so
	// runtimes leave loading/deactivated as on a host after boot. An
	// unreadable policy turns every provider off (fail closed).
	enabled := map[string]bool{}
	readCtx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	if doc, err := p.cfg.Network.ReadPolicy(readCtx); err == nil && doc.Policy != nil {
		enabled["openai"] = doc.Policy.ProviderEnabled("openai")
		enabled["claude"] = doc.Policy.ProviderEnabled("claude")
	} else if err != nil {
		p.cfg.Log.Error().Err(err).Msg("read network policy at start; managed providers stay off")
	}
	cancel()
	p.sup.ProvidersChanged(p.ctx, enabled)
	if ready != nil {
		ready()
	}

	<-p.ctx.Done()
	p.cfg.Log.Info().Msg("stopping")
	wg.Wait()
	close(errs)
	var err error
	for e := range errs {
		err = errors.Join(err, e)
	}
	return err
}

// close releases what openPlane acquired, in reverse order.
func (p *plane) close() {
	if p.sup != nil {
		p.sup.Close()
	}
	p.stop()
	if err := p.store.Close(); err != nil {
		p.cfg.Log.Error().Err(err).Msg("close admin store")
	}
}
