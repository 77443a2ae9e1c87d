package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Decide's checks, by number; Decision.Step names the one that denied.
const (
	StepPolicy           = 1
	StepSchemePort       = 2
	StepTargetHost       = 3
	StepConsistency      = 4
	StepRule             = 5
	StepMethod           = 6
	StepPathGuard        = 7
	StepOpenAIAccount    = 8
	StepAnthropicAccount = 9
)

// Decide decides one request. A nil *Compiled denies everything.
//
// Checks, in order (the first that fails denies; Decision.Step is its
// number):
//
//  1. The policy is loaded and valid (c != nil).
//  2. Scheme and port: http and ws only to port 80; https and wss only to
//  443. Any other scheme is denied.
//  3. The target host is a valid DNS name (NormalizeHost) and not an IP
//     literal.
//  4. The request is self-consistent: the Host header names the target
//     host (and, when it carries a port, the target port), so a CONNECT
//     target or absolute-form URI cannot disagree with the inner Host;
//     the request target is origin-form ("/path[?query]").
//  5. A rule exists: the exact rule for the host, else the longest
//     matching wildcard; no rule, or a rule with no methods, denies.
//  6. The method is in the rule's methods (a WebSocket handshake is a GET).
//  7. When the rule has path guards, one of them fully matches the
//     request target (path plus "?query"); a guarded target that holds a
//     dot segment ("/../", also percent-encoded) is denied, because the
//     upstream could resolve it to a path no guard allowed.
//  8. OpenAI account guard (managed OpenAI hosts): every copy of the
//     chatgpt-account-id header equals the pinned account id, and there
//     is at least one; with no pinned id, deny.
//  9. Anthropic account guard (api.anthropic.com): GET or HEAD of
//     /api/hello passes without credentials. Requests carrying x-api-key
//     are denied (a second credential could select another account).
//     Before a token hash is pinned only GETs with a bearer token to the
//     login bootstrap reads pass; after, every request must carry exactly
//     one "Authorization: Bearer <token>" whose SHA-256 hex equals the pin
//     (compared in constant time).
//
// An allowed request on a managed OpenAI host has WebSearchGuard set: the
// proxy must pass its decoded body and every client→upstream WebSocket
// message through CheckWebSearch.
//
// Reasons and hints never contain a pin or a credential.
func (c *Compiled) Decide(r Request, pins Pins) Decision {
	if c == nil {
		return deny(StepPolicy, "", "no valid network policy is loaded; everything is denied", "")
	}
	if d, ok := checkSchemePort(r.Scheme, r.Port); !ok {
		return d
	}
	host, d, ok := checkTargetHost(r.Host)
	if !ok {
		return d
	}
	if reason := checkConsistency(r, host); reason != "" {
		return deny(StepConsistency, host, reason, "")
	}
	ru, d, ok := c.findRule(host, r.Method)
	if !ok {
		return d
	}
	d = Decision{Host: host, Rule: ru.name}
	if !ru.allows(r.Method) {
		return d.deny(StepMethod, methodReason(r.Method, host, ru), methodHint(r.Method, ru))
	}
	if len(ru.guards) > 0 {
		if reason := checkPathGuards(ru, r.Target); reason != "" {
			hint := ""
			// No policy change admits a dot segment: no hint then.
			if ru.managed == "" && !hasDotSegment(r.Target) {
				hint = fmt.Sprintf("add a path_guards pattern to %q that fully matches this request target", ru.key)
			}
			return d.deny(StepPathGuard, reason, hint)
		}
	}
	if ru.provider.openAIAccount {
		if reason := checkOpenAIAccount(r.Header, pins.OpenAIAccountID); reason != "" {
			return d.deny(StepOpenAIAccount, reason, "")
		}
	}
	if ru.provider.anthropicAccount {
		if reason := checkAnthropicAccount(r.Method, r.Target, r.Header, pins.ClaudeTokenSHA256); reason != "" {
			return d.deny(StepAnthropicAccount, reason, "")
		}
	}
	d.Allow = true
	d.WebSearchGuard = ru.provider.webSearch
	return d
}

// DecideConnect decides a CONNECT tunnel before any TLS is terminated:
// checks 1, 2 (as https), 3 and 5 of Decide. A tunnel that passes still
// has every inner request decided by Decide. Refusing early means no leaf
// certificate is minted for a host the policy never allows.
func (c *Compiled) DecideConnect(host string, port int) Decision {
	if c == nil {
		return deny(StepPolicy, "", "no valid network policy is loaded; everything is denied", "")
	}
	if port != 443 {
		return deny(StepSchemePort, "", fmt.Sprintf("CONNECT to port %d is refused; only port 443 is allowed", port), "")
	}
	h, d, ok := checkTargetHost(host)
	if !ok {
		return d
	}
	ru, d, ok := c.findRule(h, "")
	if !ok {
		return d
	}
	return Decision{Allow: true, Host: h, Rule: ru.name, WebSearchGuard: ru.provider.webSearch}
}

func deny(step int, host, reason, hint string) Decision {
	return Decision{Step: step, Host: host, Reason: reason, Hint: hint}
}

func (d Decision) deny(step int, reason, hint string) Decision {
	d.Allow = false
	d.Step = step
	d.Reason = reason
	d.Hint = hint
	d.WebSearchGuard = false
	return d
}

func checkSchemePort(scheme string, port int) (Decision, bool) {
	var want int
	switch scheme {
	case "http", "ws":
		want = 80
	case "https", "wss":
		want = 443
	default:
		return deny(StepSchemePort, "", fmt.Sprintf("scheme %q is not allowed; only http, https, ws and wss", scheme), ""), false
	}
	if port != want {
		return deny(StepSchemePort, "", fmt.Sprintf("port %d is not allowed for %s; only %d", port, scheme, want), ""), false
	}
	return Decision{}, true
}

func checkTargetHost(raw string) (string, Decision, bool) {
	host, err := NormalizeHost(raw)
	if errors.Is(err, ErrIPLiteral) {
		return "", deny(StepTargetHost, "", "IP-literal targets are never allowed; the policy names hosts only", "use the host name instead of an address"), false
	}
	if err != nil {
		return "", deny(StepTargetHost, "", fmt.Sprintf("invalid target host name: %v", err), ""), false
	}
	return host, Decision{}, true
}

// checkConsistency returns a denial reason, or "".
func checkConsistency(r Request, host string) string {
	hh := r.HostHeader
	if hh == "" {
		return "missing Host header"
	}
	name, port, hasPort := strings.Cut(hh, ":")
	if strings.HasPrefix(hh, "[") {
		return "Host header is an IP literal"
	}
	if hasPort {
		p, err := strconv.Atoi(port)
		if err != nil || port == "" || port[0] == '+' || port[0] == '-' || len(port) > 5 {
			return "malformed port in Host header"
		}
		if p != r.Port {
			return fmt.Sprintf("Host header port %d does not match the target port %d", p, r.Port)
		}
	}
	n, err := NormalizeHost(name)
	if err != nil || n != host {
		return "Host header does not match the target host"
	}
	t := r.Target
	if t == "" || t[0] != '/' {
		return "request target is not origin-form (must start with \"/\")"
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c == 0x7f || c == '#' {
			return "request target contains a space, control character or fragment"
		}
	}
	return ""
}

// findRule is check 5. method only shapes the hint ("" = CONNECT).
func (c *Compiled) findRule(host, method string) (*rule, Decision, bool) {
	ru := c.lookup(host)
	if ru == nil {
		return nil, deny(StepRule, host, fmt.Sprintf("no rule allows %q", host), c.noRuleHint(host, method)), false
	}
	if len(ru.methods) == 0 {
		d := Decision{Host: host, Rule: ru.name}
		hint := ""
		if m := hintMethod(method); m != "" {
			hint = fmt.Sprintf("add %q to allow_http_methods of %q", m, ru.key)
		}
		return nil, d.deny(StepRule, fmt.Sprintf("rule %q allows no methods (the domain is closed)", ru.key), hint), false
	}
	return ru, Decision{}, true
}

func (c *Compiled) noRuleHint(host, method string) string {
	if p := reservedFor(host); p != "" {
		if (p == ProviderOpenAI && !c.openai) || (p == ProviderClaude && !c.claude) {
			return fmt.Sprintf("set managed_ai_provider_network_access.%s to true", p)
		}
		return "" // the bundle is fixed; this host is not in it
	}
	if m := hintMethod(method); m != "" {
		return fmt.Sprintf("add %q to allowed_network_access with %q in allow_http_methods", host, m)
	}
	return fmt.Sprintf("add %q to allowed_network_access", host)
}

// hintMethod is the method to suggest: the request's own when a rule may
// allow it, "GET" for a CONNECT, else "" (no change would allow it).
func hintMethod(method string) string {
	if method == "" {
		return "GET"
	}
	if slices.Contains(httpMethods(), method) {
		return method
	}
	return ""
}

func methodReason(method, host string, ru *rule) string {
	if !slices.Contains(httpMethods(), method) {
		return fmt.Sprintf("method %q is never allowed", method)
	}
	if ru.managed != "" {
		return fmt.Sprintf("the managed %s bundle does not allow %s on %s", ru.managed, method, host)
	}
	return fmt.Sprintf("method %s is not in allow_http_methods of %q", method, ru.key)
}

func methodHint(method string, ru *rule) string {
	if ru.managed != "" || !slices.Contains(httpMethods(), method) {
		return ""
	}
	return fmt.Sprintf("add %q to allow_http_methods of %q", method, ru.key)
}
