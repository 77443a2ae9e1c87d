// Package policy is the network policy engine: the operator-facing schema,
// its validation, the managed provider bundles, host matching, and the
// per-request decision. It is pure: no I/O, no clocks, no globals that
// change. The admin API, the sudo helper and the proxy all validate with
// this one package.
//
// It must never resolve names, open connections, read files or log: the
// proxy moves bytes and asks; this package only answers.
package policy

import (
	"net/http"
)

// Policy is the operator-facing policy (network-policy.md). Managed
// provider domains never appear in it.
//
// Decoding a Policy with encoding/json applies Parse (strict: unknown
// fields, duplicate keys and invalid rules are errors); encoding it always
// writes the normalised form.
type Policy struct {
	ManagedProviders *ManagedProviders     `json:"managed_ai_provider_network_access,omitempty"`
	Allowed          map[string]DomainRule `json:"allowed_network_access"`
}

// ManagedProviders turns the managed provider bundles on or off.
type ManagedProviders struct {
	OpenAI bool `json:"openai"`
	Claude bool `json:"claude"`
}

// DomainRule is the rule of one domain key.
type DomainRule struct {
	AllowHTTPMethods []string `json:"allow_http_methods"`
	PathGuards       []string `json:"path_guards,omitempty"`
}

// Pins are the provider account pins the account guards compare against.
type Pins struct {
	OpenAIAccountID   string `json:"openai_account_id,omitempty"`
	ClaudeTokenSHA256 string `json:"claude_token_sha256,omitempty"`
}

// ValidationError names the offending key or field and, where there is
// one, the fix.
type ValidationError struct {
	Field   string // e.g. `allowed_network_access["Api.Example.com"]`
	Message string // e.g. `use "api.example.com"`
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

// Request describes one request the proxy is about to forward.
type Request struct {
	Scheme     string // "http", "https", "ws", "wss"
	Method     string // as sent, upper case expected
	Host       string // target host: CONNECT target or absolute-form URI host, not yet normalised
	Port       int
	HostHeader string // Host header of the (inner) request, with any port
	Target     string // request target: escaped path plus "?query" when there is one
	Header     http.Header
}

// Decision is the engine's answer for one request.
type Decision struct {
	Allow bool
	// Step is the number of the check (in Decide's doc list) that denied;
	// 0 when allowed.
	Step   int
	Reason string // why it was denied
	Hint   string // what policy change would allow it, when one would
	Rule   string // the matched rule key, e.g. "*.example.com" or "managed:openai/api.openai.com"
	Host   string // the normalised host
	// WebSearchGuard: the body (decoded) and every client→upstream
	// WebSocket message must pass CheckWebSearch before going upstream.
	WebSearchGuard bool
}

// Empty is the policy of a fresh host: nothing allowed, no providers.
func Empty() *Policy { return &Policy{Allowed: map[string]DomainRule{}} }

// ProviderEnabled reports whether a managed provider ("openai", "claude")
// is on.
func (p *Policy) ProviderEnabled(provider string) bool {
	if p == nil || p.ManagedProviders == nil {
		return false
	}
	switch provider {
	case ProviderOpenAI:
		return p.ManagedProviders.OpenAI
	case ProviderClaude:
		return p.ManagedProviders.Claude
	}
	return false
}
