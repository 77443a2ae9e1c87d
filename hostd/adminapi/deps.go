package adminapi

import (
	"context"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/hostinfo"
)

// IdempotencyRecord is the stored first response for one Idempotency-Key.
type IdempotencyRecord struct {
	Key       string
	Method    string
	Path      string
	Done      bool // false while the first request is still running
	Status    int
	Body      []byte
	CreatedAt time.Time
}

// IdempotencyStore keeps Idempotency-Key records durably. The store
// implements it; the API owns the rules (24 h window, method/path match).
type IdempotencyStore interface {
	// BeginIdempotent reserves key for (method, path) at now. If a record
	// for key exists and was created after now-24h, it is returned with
	// existing=true and nothing changes; an older record is replaced.
	BeginIdempotent(ctx context.Context, key, method, path string, now time.Time) (rec IdempotencyRecord, existing bool, err error)
	// FinishIdempotent stores the response of the request that holds key.
	// It is committed durably before it returns.
	FinishIdempotent(ctx context.Context, key string, status int, body []byte) error
	// AbortIdempotent drops a reservation whose request produced no
	// response worth replaying (e.g. the client went away before work
	// started).
	AbortIdempotent(ctx context.Context, key string) error
}

// SessionStore keeps browser sessions; only a hash of the cookie token is
// ever stored.
type SessionStore interface {
	CreateSession(ctx context.Context, tokenHash string, expiresAt time.Time) error
	// SessionValid reports whether tokenHash names a session that has not
	// expired at now.
	SessionValid(ctx context.Context, tokenHash string, now time.Time) (bool, error)
	DeleteSession(ctx context.Context, tokenHash string) error
}

// Rebooter reboots the host on the API's behalf.
type Rebooter interface {
	// Available returns nil when a reboot can be requested; otherwise an
	// error whose message the API shows with 409 (dev mode: "reboot is not
	// available in local mode").
	Available() error
	// Reboot reboots the host. The API calls it only after the response
	// was sent (and its idempotency record committed), so a replay never
	// reboots twice.
	Reboot(ctx context.Context) error
}

// HostInfo reads the host figures health reports (*hostinfo.Reader).
type HostInfo interface {
	Snapshot() (hostinfo.Snapshot, error)
}

// NetworkNotifier is optionally implemented by a netstate.Client that can
// tell when a network event was recorded. Without it the network event
// stream polls (Config.NetworkPoll).
type NetworkNotifier interface {
	// SubscribeNetworkEvents returns a channel that receives a value
	// (coalesced, never blocking the writer) after new network events are
	// recorded, and a func that ends the subscription.
	SubscribeNetworkEvents() (<-chan struct{}, func())
}
