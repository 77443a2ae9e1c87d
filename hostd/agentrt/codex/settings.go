package codex

// Managed settings. They are passed as `-c key=value` overrides on every
// app-server command line, never written into the agent's config.toml,
// and the host-mode helper hard-codes the same list (it takes no
// arguments), so the admin service cannot widen them.
//
// The values are TOML; strings are quoted.
var managedOverrides = []string{
	// No plugin list fetching from api.github.com / chatgpt.com.
	"features.plugins=false",
	// No usage analytics posted to chatgpt.com, and no ChatGPT apps /
	// connectors: each is traffic the operator did not ask for, and apps
	// would let the agent reach outside services through chatgpt.com.
	"analytics.enabled=false",
	"features.apps=false",
	// A refused or failed connection fails the turn instead of retrying
	// forever with back-off.
	"features.unbounded_connection_retries=false",
	// Web search only from the cache (the proxy guard is the second layer;
	// /etc/codex/requirements.toml pins it on a host).
	`web_search="cached"`,
	// Full auto: no approval prompts; the host is the sandbox.
	`approval_policy="never"`,
	`sandbox_mode="danger-full-access"`,
}

// AppServerArgs is the complete argument list after the codex binary.
func AppServerArgs() []string {
	args := []string{"app-server"}
	for _, o := range managedOverrides {
		args = append(args, "-c", o)
	}
	return args
}

// Thread settings sent with thread/start and thread/resume, matching the
// overrides above.
const (
	approvalPolicy = "never"
	sandboxMode    = "danger-full-access"
)
