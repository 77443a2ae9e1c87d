package policy

// Managed provider bundles: the one place their hosts, methods and guards
// are listed (network-policy.md, "Managed provider bundles"). To let a new
// CLI version reach a further host or path, extend bundleTable and add a
// test showing the denial it fixes.

// Provider names, as in managed_ai_provider_network_access.
const (
	ProviderOpenAI = "openai"
	ProviderClaude = "claude"
)

// guardSet says which provider guards a rule carries.
type guardSet struct {
	openAIAccount    bool // chatgpt-account-id must equal the pinned id
	anthropicAccount bool // bearer token hash must equal the pin
	webSearch        bool // bodies and WS messages must pass CheckWebSearch
}

type bundleHost struct {
	host       string
	methods    []string
	pathGuards []string
	guards     guardSet
}

type bundle struct {
	provider string
	// reserved domains: these and every subdomain are rejected in
	// allowed_network_access.
	reserved []string
	hosts    []bundleHost
}

// anthropicHelloPath is Claude Code's start-up probe; it passes without
// credentials (GET, and HEAD which the CLI sends too).
const anthropicHelloPath = "/api/hello"

// anthropicBootstrapPaths are the login bootstrap reads that pass with any
// bearer token before a token hash is pinned.
func anthropicBootstrapPaths() []string {
	return []string{
		"/api/oauth/profile",
		"/api/oauth/claude_cli/roles",
		"/api/organization/claude_code_first_token_date",
		"/api/claude_code/policy_limits",
		"/api/claude_code/settings",
	}
}

func bundleTable() []bundle {
	return []bundle{
		{
			provider: ProviderOpenAI,
			reserved: []string{"openai.com", "chatgpt.com"},
			hosts: []bundleHost{
				{host: "api.openai.com", methods: []string{"POST"},
					guards: guardSet{openAIAccount: true, webSearch: true}},
				// Login must work before an account is known: no guards.
				{host: "auth.openai.com", methods: []string{"GET", "POST"}},
				{host: "chatgpt.com", methods: []string{"GET", "POST"},
					guards: guardSet{openAIAccount: true, webSearch: true}},
			},
		},
		{
			provider: ProviderClaude,
			reserved: []string{"anthropic.com", "claude.ai", "claude.com"},
			hosts: []bundleHost{
				// HEAD: Claude Code probes HEAD /api/hello at start-up
				// (notes/real-cli-offline.md); the account guard still
				// admits HEAD only there before pinning.
				{host: "api.anthropic.com", methods: []string{"GET", "HEAD", "POST"},
					guards: guardSet{anthropicAccount: true}},
				{host: "platform.claude.com", methods: []string{"GET", "POST"},
					pathGuards: []string{`/v1/oauth(?:/.*)?`}},
			},
		},
	}
}

// reservedFor returns the provider whose reserved domains cover host, or "".
func reservedFor(host string) string {
	for _, b := range bundleTable() {
		for _, d := range b.reserved {
			if matchesDomain(host, d) {
				return b.provider
			}
		}
	}
	return ""
}

func reservedDomainOf(host string) string {
	for _, b := range bundleTable() {
		for _, d := range b.reserved {
			if matchesDomain(host, d) {
				return d
			}
		}
	}
	return host
}

// ReservedDomains lists the domains managed by the provider bundles; they
// and their subdomains are rejected in allowed_network_access.
func ReservedDomains() []string {
	var out []string
	for _, b := range bundleTable() {
		out = append(out, b.reserved...)
	}
	return out
}

// ManagedHosts lists the hosts a provider's bundle opens (nil for an
// unknown provider).
func ManagedHosts(provider string) []string {
	var out []string
	for _, b := range bundleTable() {
		if b.provider != provider {
			continue
		}
		for _, h := range b.hosts {
			out = append(out, h.host)
		}
	}
	return out
}
