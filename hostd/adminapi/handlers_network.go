package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// policyPutTimeout bounds a whole policy replacement including the runtime
// supervisor's reaction.
const policyPutTimeout = 60 * time.Second

// getPolicy: GET /v1/network/policy.
func (a *api) getPolicy(r *http.Request, _ params) (reply, error) {
	ctx, cancel := callCtx(r, false)
	defer cancel()
	doc, err := a.cfg.Network.ReadPolicy(ctx)
	if err != nil {
		return reply{}, fmt.Errorf("read network policy: %w", err)
	}
	return ok(policyDocView(doc))
}

// putPolicy: PUT /v1/network/policy — replace the whole policy.
//  1. the body is well-formed JSON without duplicate members (400);
//  2. policy.Parse validates it (400 naming the field);
//  3. one replacement at a time in this process (409 while another runs);
//  4. netstate replaces it atomically (re-validating; ErrBusy → 409);
//  5. the runtime supervisor learns which providers are on, so turning
//     one off deactivates its runtime, clears its pin and fails its tasks.
func (a *api) putPolicy(r *http.Request, _ params) (reply, error) {
	body, err := readBody(r)
	if err != nil {
		return reply{}, err
	}
	if err := checkJSONDocument(body); err != nil {
		return reply{}, err
	}
	parsed, err := policy.Parse(body)
	if err != nil {
		var ve *policy.ValidationError
		if errors.As(err, &ve) {
			return reply{}, badRequest("%s", ve.Error())
		}
		return reply{}, badRequest("invalid policy: %v", err)
	}
	select {
	case a.policyLock <- struct{}{}:
		defer func() { <-a.policyLock }()
	default:
		return reply{}, errorf(http.StatusConflict, "another network policy replacement is in progress; retry")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), policyPutTimeout)
	defer cancel()
	doc, err := a.cfg.Network.ReplacePolicy(ctx, body)
	if err != nil {
		var ve *policy.ValidationError
		switch {
		case errors.Is(err, netstate.ErrBusy):
			return reply{}, errorf(http.StatusConflict, "another network policy replacement is in progress; retry")
		case errors.As(err, &ve):
			return reply{}, badRequest("%s", ve.Error())
		}
		return reply{}, fmt.Errorf("replace network policy: %w", err)
	}
	in := doc.Policy
	if in == nil {
		in = parsed
	}
	a.cfg.Runtimes.ProvidersChanged(ctx, map[string]bool{
		netstate.ProviderOpenAI: in.ProviderEnabled(netstate.ProviderOpenAI),
		netstate.ProviderClaude: in.ProviderEnabled(netstate.ProviderClaude),
	})
	if doc.Policy == nil && doc.Error == "" {
		doc.Policy = parsed
	}
	return ok(policyDocView(doc))
}

// checkPolicy: POST /v1/network/policy/check {"method","url"} → what the
// proxy would decide for a request without credentials, sending nothing.
func (a *api) checkPolicy(r *http.Request, _ params) (reply, error) {
	body, err := readBody(r)
	if err != nil {
		return reply{}, err
	}
	req, err := decodeCheck(body)
	if err != nil {
		return reply{}, err
	}
	ctx, cancel := callCtx(r, false)
	defer cancel()
	doc, err := a.cfg.Network.ReadPolicy(ctx)
	if err != nil {
		return reply{}, fmt.Errorf("read network policy: %w", err)
	}
	pins, err := a.cfg.Network.Pins(ctx)
	if err != nil {
		return reply{}, fmt.Errorf("read provider pins: %w", err)
	}
	var compiled *policy.Compiled // nil denies everything, like the proxy
	if doc.Policy != nil {
		if compiled, err = policy.Compile(doc.Policy); err != nil {
			return reply{}, fmt.Errorf("compile network policy: %w", err)
		}
	}
	d := compiled.Decide(req, pins)
	if d.Allow {
		return ok(checkJSON{Decision: "allowed", Rule: d.Rule})
	}
	reason := d.Reason
	if d.Hint != "" {
		reason += " (to allow it: " + d.Hint + ")"
	}
	return ok(checkJSON{Decision: "denied", Reason: reason, Rule: d.Rule})
}

// decodeCheck decodes {"method","url"} into the request the proxy would see
// (pure; fuzzed).
func decodeCheck(body []byte) (policy.Request, error) {
	f, err := decodeFields(body, []string{"method", "url"}, nil)
	if err != nil {
		return policy.Request{}, err
	}
	m := f["method"]
	if m == "" || len(m) > 32 || strings.IndexFunc(m, func(c rune) bool {
		return !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z')
	}) >= 0 {
		return policy.Request{}, badRequest("method must be an HTTP method such as \"GET\"")
	}
	if len(f["url"]) > 8192 {
		return policy.Request{}, badRequest("url must be at most 8192 bytes")
	}
	if strings.EqualFold(m, http.MethodConnect) {
		return policy.Request{}, badRequest("CONNECT is decided by host and port alone: check the https:// or wss:// URL with the method of the request inside the tunnel")
	}
	// Methods are case-sensitive, as in the proxy: "get" is not "GET".
	req, err := policy.RequestFromURL(m, f["url"])
	if err != nil {
		return policy.Request{}, badRequest("url: %v", err)
	}
	return req, nil
}
