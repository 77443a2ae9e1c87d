// Package agentenv builds the environment of an agent CLI process from
// nothing: HOME, the proxy variables, the proxy CA in every variable the
// CLIs and the tools they run read, a fixed PATH, and (dev mode only)
// validated operator additions.
//
// It must never copy anything from hostd's own environment: the admin
// password, tokens and keys live there. Build takes every input as an
// argument and never calls os.Environ.
package agentenv

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// Config is everything an agent environment is made of.
type Config struct {
	// Home is the agent home: HOME and the working directory.
	Home string
	// ProxyURL is the enforcing proxy, e.g. "http://127.0.0.1:7445".
	ProxyURL string
	// CAFile is the PEM file of the proxy CA.
	CAFile string
	// User is the login name of the agent user (USER, LOGNAME).
	User string
	// PathDirs come first in PATH: the directory of node and of the agent
	// CLIs. A fixed system PATH follows.
	PathDirs []string
	// RunsAsRoot: the agent process will run as uid 0 (dev mode started
	// by root). Claude Code refuses to skip permission prompts as root
	// unless IS_SANDBOX=1 tells it the machine is the sandbox.
	RunsAsRoot bool
	// Additions are extra NAME=VALUE pairs (dev mode --agent-env), already
	// validated by ParseAdditions.
	Additions []Var
}

// Var is one environment variable.
type Var struct {
	Name  string
	Value string
}

// SystemPath is appended to Config.PathDirs.
const SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// proxyVars are set to the proxy URL, in both spellings, because the CLIs
// and the tools they run differ in which one they read.
var proxyVars = []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"}

// noProxyVars are set empty: nothing bypasses the proxy, loopback included
// (on a host the agent uid may reach only the proxy port anyway).
var noProxyVars = []string{"NO_PROXY", "no_proxy"}

// caVars all point at the proxy CA. SSL_CERT_FILE and NODE_EXTRA_CA_CERTS
// are also set machine-wide on some hosts; setting them here is what keeps
// the private CA trusted instead of the inherited system bundle.
var caVars = []string{
	"NODE_EXTRA_CA_CERTS",  // Claude Code and any Node tool
	"SSL_CERT_FILE",        // OpenSSL, Go, Rust (rustls-native-certs)
	"CODEX_CA_CERTIFICATE", // Codex, wins over SSL_CERT_FILE
	"REQUESTS_CA_BUNDLE",   // Python requests / pip
	"CURL_CA_BUNDLE",       // curl
	"GIT_SSL_CAINFO",       // git over https
}

// reserved names may not be set by --agent-env: they carry the security
// decisions above (where traffic goes, which CA is trusted, where the
// account files are that the pins are read from).
var reserved = func() map[string]string {
	m := map[string]string{
		"HOME":                         "the agent home is fixed",
		"PWD":                          "the working directory is the agent home",
		"USER":                         "the agent user is fixed",
		"LOGNAME":                      "the agent user is fixed",
		"PATH":                         "PATH is fixed by hostd",
		"SSL_CERT_DIR":                 "the proxy CA is the only trust root",
		"NODE_TLS_REJECT_UNAUTHORIZED": "TLS verification stays on",
		"NODE_OPTIONS":                 "Node options could change CA and proxy handling",
		"CODEX_HOME":                   "account pins are read from the agent home",
		"CLAUDE_CONFIG_DIR":            "account pins are read from the agent home",
		"IS_SANDBOX":                   "set by hostd only",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "always 1",
	}
	for _, v := range proxyVars {
		m[v] = "the proxy is fixed"
	}
	for _, v := range noProxyVars {
		m[v] = "nothing bypasses the proxy"
	}
	for _, v := range caVars {
		m[v] = "the proxy CA is fixed"
	}
	return m
}()

// Reserved reports whether --agent-env may not set name, and why.
func Reserved(name string) (string, bool) {
	why, ok := reserved[strings.ToUpper(name)]
	if !ok {
		why, ok = reserved[name]
	}
	if !ok && strings.HasPrefix(strings.ToUpper(name), "TRUSTYCLAW_") {
		// hostd's own settings (the admin password above all) never go to
		// an agent, not even on purpose.
		return "TRUSTYCLAW_ variables are hostd's own settings and never reach an agent", true
	}
	return why, ok
}

// Build returns the environment ("NAME=VALUE" entries, sorted by name)
// for a process of runtime rt.
func Build(cfg Config, rt agentrt.Type) ([]string, error) {
	switch {
	case cfg.Home == "" || !filepath.IsAbs(cfg.Home):
		return nil, fmt.Errorf("agent environment: home %q must be an absolute path", cfg.Home)
	case cfg.ProxyURL == "":
		return nil, errors.New("agent environment: proxy URL is required (agents never get direct network)")
	case cfg.CAFile == "" || !filepath.IsAbs(cfg.CAFile):
		return nil, fmt.Errorf("agent environment: proxy CA file %q must be an absolute path", cfg.CAFile)
	}
	env := map[string]string{
		"HOME": cfg.Home,
		"PWD":  cfg.Home,
		"LANG": "C.UTF-8",
		"TERM": "dumb",
		"PATH": buildPath(cfg.PathDirs),
	}
	if cfg.User != "" {
		env["USER"] = cfg.User
		env["LOGNAME"] = cfg.User
	}
	for _, v := range proxyVars {
		env[v] = cfg.ProxyURL
	}
	for _, v := range noProxyVars {
		env[v] = ""
	}
	for _, v := range caVars {
		env[v] = cfg.CAFile
	}
	if rt == agentrt.ClaudeCode {
		env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
		if cfg.RunsAsRoot {
			env["IS_SANDBOX"] = "1"
		}
	}
	for _, a := range cfg.Additions {
		if err := validateAddition(a); err != nil {
			return nil, err
		}
		env[a.Name] = a.Value
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

func buildPath(dirs []string) string {
	seen := map[string]bool{}
	var parts []string
	for _, d := range dirs {
		if d == "" || !filepath.IsAbs(d) || seen[d] {
			continue
		}
		seen[d] = true
		parts = append(parts, d)
	}
	return strings.Join(append(parts, SystemPath), ":")
}
