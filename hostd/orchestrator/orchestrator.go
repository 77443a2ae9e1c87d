package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/store"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// StatusSource tells whether a runtime is active; the runtime supervisor
// implements it.
type StatusSource interface {
	State(t agentrt.Type) agentrt.State
}

// StatusFunc adapts a function to StatusSource. It breaks the
// construction cycle with the supervisor (which takes the orchestrator as
// its listener):
//
//	var sup *supervisor.Supervisor
//	orch, _ := orchestrator.New(orchestrator.Config{
//		Status: orchestrator.StatusFunc(func(t agentrt.Type) agentrt.State { return sup.State(t) }), …})
//	sup, _ = supervisor.New(supervisor.Options{Listener: orch, Events: orch, …})
//
// Run must start only after the function can answer.
type StatusFunc func(t agentrt.Type) agentrt.State

// State implements StatusSource.
func (f StatusFunc) State(t agentrt.Type) agentrt.State { return f(t) }

// Config wires an Orchestrator. Store, Status and at least one adapter are
// required; zero durations and counts take the defaults shown.
type Config struct {
	Store    *store.Store
	Adapters []agentrt.Adapter
	Status   StatusSource
	Clock    Clock // default RealClock
	Logger   zerolog.Logger

	Workers    int // worker slots in total; default 6
	PerRuntime int // slots one runtime may hold; default 3

	MaintenanceInterval time.Duration // default 1h
	RescanInterval      time.Duration // safety re-check of the queue; default 30s
	StartTimeout        time.Duration // Adapter.StartTurn; default 2m
	KillTimeout         time.Duration // Turn.Kill and Adapter.CloseAll; default 30s
	SteerTimeout        time.Duration // one Turn.Steer; default 30s
	StoreTimeout        time.Duration // store writes off the request path; default 30s

	// AfterMaintenance, if set, is called after each maintenance run
	// (metrics, tests).
	AfterMaintenance func(store.PruneStats, error)
}

// Orchestrator implements tasks.Service and agentrt.StatusListener.
type Orchestrator struct {
	cfg      Config
	st       *store.Store
	adapters map[agentrt.Type]agentrt.Adapter
	log      zerolog.Logger

	wake    chan struct{} // coalesced "the queue may have changed"
	jobCh   chan *job
	started atomic.Bool

	mu      sync.Mutex
	jobs    map[string]*job // by task id: every job holding a worker slot
	threads map[string]*job // thread id → the job holding it
	held    map[agentrt.Type]int
	claimNo int64

	statusMu sync.Mutex
	pending  map[agentrt.Type]statusChange
}

var (
	_ tasks.Service          = (*Orchestrator)(nil)
	_ agentrt.StatusListener = (*Orchestrator)(nil)
)

// New checks cfg and builds an orchestrator; Run starts it.
func New(cfg Config) (*Orchestrator, error) {
	if cfg.Store == nil || cfg.Status == nil || len(cfg.Adapters) == 0 {
		return nil, errors.New("orchestrator: Store, Status and at least one adapter are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	setDefault := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	setDefault(&cfg.MaintenanceInterval, time.Hour)
	setDefault(&cfg.RescanInterval, 30*time.Second)
	setDefault(&cfg.StartTimeout, 2*time.Minute)
	setDefault(&cfg.KillTimeout, 30*time.Second)
	setDefault(&cfg.SteerTimeout, 30*time.Second)
	setDefault(&cfg.StoreTimeout, 30*time.Second)
	if cfg.Workers <= 0 {
		cfg.Workers = 6
	}
	if cfg.PerRuntime <= 0 {
		cfg.PerRuntime = 3
	}
	o := &Orchestrator{
		cfg:      cfg,
		st:       cfg.Store,
		adapters: make(map[agentrt.Type]agentrt.Adapter),
		log:      cfg.Logger.With().Str(logging.FieldComponent, "orchestrator").Logger(),
		wake:     make(chan struct{}, 1),
		jobCh:    make(chan *job, cfg.Workers),
		jobs:     make(map[string]*job),
		threads:  make(map[string]*job),
		held:     make(map[agentrt.Type]int),
		pending:  make(map[agentrt.Type]statusChange),
	}
	for _, a := range cfg.Adapters {
		t := a.Type()
		if _, ok := agentrt.ParseType(string(t)); !ok {
			return nil, fmt.Errorf("orchestrator: adapter for unknown runtime %q", t)
		}
		if _, dup := o.adapters[t]; dup {
			return nil, fmt.Errorf("orchestrator: two adapters for runtime %s", t)
		}
		o.adapters[t] = a
	}
	return o, nil
}

// Run starts the dispatcher, the workers and the maintenance loop, and
// blocks until ctx ends. Then it stops claiming, kills running turns
// (their tasks end as failed: the host is shutting down), waits for every
// worker to finish, closes the adapters' processes, and returns.
func (o *Orchestrator) Run(ctx context.Context) error {
	if !o.started.CompareAndSwap(false, true) {
		return errors.New("orchestrator: Run called twice")
	}
	var workers, helpers sync.WaitGroup
	for range o.cfg.Workers {
		workers.Go(func() { o.worker() })
	}
	helpers.Go(func() { o.maintain(ctx) })
	dispatcherDone := make(chan struct{})
	go func() {
		defer close(dispatcherDone)
		o.dispatchLoop(ctx, &helpers)
	}()
	o.wakeDispatcher()

	<-ctx.Done()
	<-dispatcherDone // no claim after this point
	close(o.jobCh)
	o.stopAll("the host shut down while this task was running")
	workers.Wait()
	helpers.Wait()

	cctx, cancel := context.WithTimeout(context.Background(), o.cfg.KillTimeout)
	defer cancel()
	for t, a := range o.adapters {
		if err := a.CloseAll(cctx); err != nil {
			o.log.Warn().Err(err).Str(logging.FieldRuntime, string(t)).Msg("closing runtime processes at shutdown")
		}
	}
	return nil
}

// wakeDispatcher asks for a claim round; never blocks.
func (o *Orchestrator) wakeDispatcher() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// bg is a context for store writes that must finish even while the host
// shuts down (a turn's final status), bounded by StoreTimeout.
func (o *Orchestrator) bg() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), o.cfg.StoreTimeout)
}
