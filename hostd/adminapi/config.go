package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/adminapi/auth"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// Config is everything the API needs. Fields marked required must be set.
type Config struct {
	AgentName   string
	Tasks       tasks.Service      // required
	Runtimes    agentrt.Supervisor // required
	Network     netstate.Client    // required
	Idempotency IdempotencyStore   // required
	Sessions    SessionStore       // required
	// Auth checks the admin password (auth.New over the stored hash); it
	// also carries the login back-off.
	Auth     *auth.Authenticator // required
	Rebooter Rebooter            // required (LocalRebooter in dev mode)
	HostInfo HostInfo            // nil reports zeros
	// UI serves GET / and the UI's static assets (no credentials needed);
	// nil answers 404 there.
	UI  http.Handler
	Log zerolog.Logger
	// Now is the clock for sessions and idempotency windows (default
	// time.Now).
	Now func() time.Time
	// Context is the API's lifetime: when it is done, live event streams
	// end so that http.Server.Shutdown can finish. Pass the same context to
	// Serve. Default: never done.
	Context context.Context
	// Heartbeat is the interval of SSE keep-alive comments (default 15s).
	Heartbeat time.Duration
	// NetworkPoll is how often the network event stream polls when the
	// netstate.Client does not implement NetworkNotifier (default 1s).
	NetworkPoll time.Duration
	// BodyReadTimeout bounds reading a request body, so a client that
	// sends its body slowly cannot hold a handler (default 30s).
	BodyReadTimeout time.Duration
	// StreamWriteTimeout bounds each write of a live stream, so a client
	// that stops reading cannot hold one (default 30s).
	StreamWriteTimeout time.Duration
	// MaxStreams bounds the live streams open at once, both kinds together
	// (default 32); one more is answered 429.
	MaxStreams int
}

// Limits and lifetimes of the API contract.
const (
	MaxBodyBytes       = 1 << 20
	SessionLifetime    = 12 * time.Hour
	IdempotencyWindow  = 24 * time.Hour
	DefaultPageSize    = 5
	MaxPageSize        = 100
	SessionCookieName  = "trustyclaw_session"
	maxIDLen           = 128
	maxLoginCodeLen    = 4096
	maxPasswordLen     = 1024
	serviceCallTimeout = 30 * time.Second
	loginCallTimeout   = 90 * time.Second
	streamPageSize     = 100
)

func (c *Config) validate() error {
	switch {
	case c.Tasks == nil:
		return fmt.Errorf("adminapi: Config.Tasks is nil")
	case c.Runtimes == nil:
		return fmt.Errorf("adminapi: Config.Runtimes is nil")
	case c.Network == nil:
		return fmt.Errorf("adminapi: Config.Network is nil")
	case c.Idempotency == nil:
		return fmt.Errorf("adminapi: Config.Idempotency is nil")
	case c.Sessions == nil:
		return fmt.Errorf("adminapi: Config.Sessions is nil")
	case c.Auth == nil:
		return fmt.Errorf("adminapi: Config.Auth is nil")
	case c.Rebooter == nil:
		return fmt.Errorf("adminapi: Config.Rebooter is nil")
	}
	return nil
}

func (c *Config) withDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Context == nil {
		c.Context = context.Background()
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.NetworkPoll <= 0 {
		c.NetworkPoll = time.Second
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = 30 * time.Second
	}
	if c.StreamWriteTimeout <= 0 {
		c.StreamWriteTimeout = 30 * time.Second
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = 32
	}
}

// api is the handler New returns.
type api struct {
	cfg    Config
	log    zerolog.Logger
	routes []*route
	// policyLock serialises PUT /v1/network/policy inside this process
	// (one slot; a second concurrent PUT gets 409).
	policyLock chan struct{}
	// streams holds one token per open live stream (MaxStreams slots).
	streams chan struct{}
	reqIDs  *requestIDs
}

// New returns the admin API handler. It panics if a required dependency is
// missing (a wiring mistake, like http.Handle with a nil handler); errors
// that depend on data, such as a malformed password hash, surface earlier
// from auth.New.
func New(cfg Config) http.Handler {
	if err := cfg.validate(); err != nil {
		panic(err)
	}
	cfg.withDefaults()
	a := &api{
		cfg:        cfg,
		log:        cfg.Log.With().Str("component", "adminapi").Logger(),
		policyLock: make(chan struct{}, 1),
		streams:    make(chan struct{}, cfg.MaxStreams),
		reqIDs:     newRequestIDs(),
	}
	a.routes = a.routeTable()
	return a
}
