package proxystate

import (
	"context"
	"errors"
	"strconv"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
	"github.com/trustyclaw/trustyclaw/hostd/sudohelper"
)

// HelperClient is netstate.Client in host mode: every call runs one of
// the root-owned network helpers through the Runner (sudo). It trusts the
// helpers' JSON only as far as it decodes strictly.
type HelperClient struct {
	runner    sudohelper.Runner
	listening func() bool
}

var _ netstate.Client = (*HelperClient)(nil)

// NewHelperClient calls helpers through runner; listening reports whether
// the proxy accepts connections (the admin service probes it itself).
func NewHelperClient(runner sudohelper.Runner, listening func() bool) *HelperClient {
	if listening == nil {
		listening = func() bool { return false }
	}
	return &HelperClient{runner: runner, listening: listening}
}

// call runs a helper and decodes its result into dst, or its structured
// error into the contract's error.
func (c *HelperClient) call(ctx context.Context, name string, args []string, stdin []byte, dst any) error {
	out, err := c.runner.Run(ctx, name, args, stdin)
	if err != nil {
		var ee *sudohelper.ExitError
		if errors.As(err, &ee) {
			var we wireError
			if decodeWire(name, ee.Stdout, &we) == nil && we.Error.Code != "" {
				return wireToError(name, we.Error)
			}
		}
		return err
	}
	return decodeWire(name, out, dst)
}

// ReadPolicy implements netstate.Client.
func (c *HelperClient) ReadPolicy(ctx context.Context) (netstate.PolicyDoc, error) {
	var w wirePolicyDoc
	if err := c.call(ctx, HelperReadState, []string{"policy"}, nil, &w); err != nil {
		return netstate.PolicyDoc{}, err
	}
	return w.toDoc(), nil
}

// ReplacePolicy implements netstate.Client.
func (c *HelperClient) ReplacePolicy(ctx context.Context, raw []byte) (netstate.PolicyDoc, error) {
	var w wirePolicyDoc
	if err := c.call(ctx, HelperUpdatePolicy, nil, raw, &w); err != nil {
		return netstate.PolicyDoc{}, err
	}
	return w.toDoc(), nil
}

// Status implements netstate.Client.
func (c *HelperClient) Status(ctx context.Context) (netstate.Status, error) {
	var w wireStatus
	if err := c.call(ctx, HelperReadState, []string{"status"}, nil, &w); err != nil {
		return netstate.Status{}, err
	}
	return netstate.Status{PolicyValid: w.PolicyValid, PolicyError: w.PolicyError, ProxyListening: c.listening()}, nil
}

// Events implements netstate.Client.
func (c *HelperClient) Events(ctx context.Context, since int64, limit int) ([]netstate.Event, error) {
	if err := checkPage(since, limit); err != nil {
		return nil, err
	}
	var w wireEvents
	args := []string{"events", strconv.FormatInt(since, 10), strconv.Itoa(limit)}
	if err := c.call(ctx, HelperReadState, args, nil, &w); err != nil {
		return nil, err
	}
	if w.Events == nil {
		w.Events = []netstate.Event{}
	}
	return w.Events, nil
}

// Pins implements netstate.Client.
func (c *HelperClient) Pins(ctx context.Context) (policy.Pins, error) {
	var p policy.Pins
	err := c.call(ctx, HelperReadState, []string{"pins"}, nil, &p)
	return p, err
}

// SetAccountPin implements netstate.Client. The value goes on stdin,
// never on argv (visible in ps).
func (c *HelperClient) SetAccountPin(ctx context.Context, provider, value string) error {
	if _, err := NormalizePin(provider, value); err != nil {
		return err
	}
	var w wirePinResult
	return c.call(ctx, HelperUpdateAccount, []string{provider}, []byte(value), &w)
}
