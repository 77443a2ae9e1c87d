// Package netstate is the admin service's view of proxy-owned state: the
// live network policy, the provider account pins and the network event log.
//
// The admin service never touches proxy state directly. In dev mode the
// Client is an in-process implementation over the proxy's own stores; in
// host mode it runs the root-owned sudo helpers (update-network-policy,
// read-network-state, update-provider-account), which re-validate
// everything they are given. This package only declares the contract.
package netstate

import (
	"context"
	"errors"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// ErrBusy: another policy replacement is in progress (the API answers 409).
var ErrBusy = errors.New("another policy replacement is in progress")

// PolicyDoc is the stored policy as the admin API shows it.
type PolicyDoc struct {
	// Policy is the operator-facing policy (managed provider domains are
	// not listed). Nil when the stored file is unreadable or invalid.
	Policy *policy.Policy
	// UpdatedAt is when the live policy was last replaced.
	UpdatedAt time.Time
	// Error is set when the stored policy is unreadable or invalid (the
	// proxy then denies everything).
	Error string
}

// Status is what health needs to derive network_controls.status.
type Status struct {
	PolicyValid    bool
	PolicyError    string // when !PolicyValid
	ProxyListening bool
}

// Active reports network_controls.status == "active".
func (s Status) Active() bool { return s.PolicyValid && s.ProxyListening }

// Event is one proxy decision, shaped as the API returns it.
type Event struct {
	Seq       int64     `json:"seq"`
	Timestamp time.Time `json:"timestamp"`
	Protocol  string    `json:"protocol"` // http, https, ws, wss
	Method    string    `json:"method"`
	Host      string    `json:"host"`
	Port      int       `json:"port"`
	Path      string    `json:"path"`
	Query     string    `json:"query"`
	Decision  string    `json:"decision"` // allowed, denied
	Reason    string    `json:"reason,omitempty"`
}

// Provider names accepted by SetAccountPin.
const (
	ProviderOpenAI = "openai"
	ProviderClaude = "claude"
)

// Client reads and changes proxy state on the admin service's behalf.
type Client interface {
	// ReadPolicy returns the live policy.
	ReadPolicy(ctx context.Context) (PolicyDoc, error)
	// ReplacePolicy validates raw (operator-facing JSON) again and swaps it
	// in atomically. Validation failures wrap a *policy.ValidationError;
	// a concurrent replacement gives ErrBusy.
	ReplacePolicy(ctx context.Context, raw []byte) (PolicyDoc, error)
	// Status reports policy validity and whether the proxy listens.
	Status(ctx context.Context) (Status, error)
	// Events returns up to limit network events with seq > since, oldest
	// first.
	Events(ctx context.Context, since int64, limit int) ([]Event, error)
	// Pins returns the current provider account pins.
	Pins(ctx context.Context) (policy.Pins, error)
	// SetAccountPin replaces one provider's pin: the OpenAI account id, or
	// the SHA-256 hex of the Claude OAuth access token. Empty clears it.
	SetAccountPin(ctx context.Context, provider, value string) error
}
