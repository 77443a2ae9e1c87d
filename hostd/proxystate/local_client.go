package proxystate

import (
	"context"
	"path/filepath"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// EventQuerier pages through the event log.
type EventQuerier interface {
	Events(ctx context.Context, since int64, limit int) ([]netstate.Event, error)
}

// LocalClient is netstate.Client in-process (dev mode): the same Dir
// operations the helpers run, without sudo.
type LocalClient struct {
	dir       *Dir
	listening func() bool
	events    EventQuerier
}

var _ netstate.Client = (*LocalClient)(nil)

// NewLocalClient serves the admin service from dir. listening reports
// whether the proxy is accepting connections. events may be the proxy's
// own *EventLog when it runs in the same process; nil reads the log file.
// Share dir with the proxy's ProxyState (one Dir per directory per
// process) so in-process replacements are serialised.
func NewLocalClient(dir *Dir, listening func() bool, events EventQuerier) *LocalClient {
	if listening == nil {
		listening = func() bool { return false }
	}
	return &LocalClient{dir: dir, listening: listening, events: events}
}

// ReadPolicy implements netstate.Client.
func (c *LocalClient) ReadPolicy(ctx context.Context) (netstate.PolicyDoc, error) {
	if err := ctx.Err(); err != nil {
		return netstate.PolicyDoc{}, err
	}
	return c.dir.ReadPolicy(), nil
}

// ReplacePolicy implements netstate.Client.
func (c *LocalClient) ReplacePolicy(ctx context.Context, raw []byte) (netstate.PolicyDoc, error) {
	return c.dir.ReplacePolicy(ctx, raw)
}

// Status implements netstate.Client.
func (c *LocalClient) Status(ctx context.Context) (netstate.Status, error) {
	if err := ctx.Err(); err != nil {
		return netstate.Status{}, err
	}
	st := netstate.Status{PolicyValid: true, ProxyListening: c.listening()}
	if err := c.dir.Validity(); err != nil {
		st.PolicyValid, st.PolicyError = false, err.Error()
	}
	return st, nil
}

// Events implements netstate.Client.
func (c *LocalClient) Events(ctx context.Context, since int64, limit int) ([]netstate.Event, error) {
	if c.events != nil {
		return c.events.Events(ctx, since, limit)
	}
	return ReadEvents(ctx, filepath.Join(c.dir.path, EventsFileName), since, limit)
}

// Pins implements netstate.Client.
func (c *LocalClient) Pins(ctx context.Context) (policy.Pins, error) {
	if err := ctx.Err(); err != nil {
		return policy.Pins{}, err
	}
	return c.dir.ReadPins()
}

// SetAccountPin implements netstate.Client.
func (c *LocalClient) SetAccountPin(ctx context.Context, provider, value string) error {
	return c.dir.SetPin(ctx, provider, value)
}
