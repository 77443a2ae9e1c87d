package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Compiled is a validated policy with the provider bundles expanded,
// ready for Decide. It is immutable and safe for concurrent use.
type Compiled struct {
	source *Policy
	// exact maps a host to its rule (operator keys and bundle hosts).
	exact map[string]*rule
	// wildcard maps the suffix of "*.suffix" to its rule.
	wildcard map[string]*rule
	// providers on in this policy.
	openai, claude bool
	fingerprint    string
}

// rule is one enforcement rule.
type rule struct {
	name     string // Decision.Rule: the policy key, or "managed:<provider>/<host>"
	key      string // the policy key or bundle host, for hints
	managed  string // provider name for bundle rules, "" for operator rules
	methods  []string
	guards   []*regexp.Regexp
	provider guardSet
}

func (r *rule) allows(method string) bool {
	for _, m := range r.methods {
		if m == method {
			return true
		}
	}
	return false
}

// Compile expands a validated policy into the enforcement policy. It
// validates p again (a Policy may have been built in code), so a Compiled
// always enforces a policy Parse would accept.
func Compile(p *Policy) (*Compiled, error) {
	n, err := normalized(p)
	if err != nil {
		return nil, err
	}
	c := &Compiled{
		source:   n,
		exact:    map[string]*rule{},
		wildcard: map[string]*rule{},
		openai:   n.ProviderEnabled(ProviderOpenAI),
		claude:   n.ProviderEnabled(ProviderClaude),
	}
	for key, dr := range n.Allowed {
		r := &rule{name: key, key: key, methods: dr.AllowHTTPMethods}
		for _, g := range dr.PathGuards {
			re, _, err := compileGuard(g)
			if err != nil { // unreachable after normalized; kept for safety
				return nil, &ValidationError{Field: domainField(key), Message: err.Error()}
			}
			r.guards = append(r.guards, re)
		}
		if s, ok := strings.CutPrefix(key, "*."); ok {
			c.wildcard[s] = r
		} else {
			c.exact[key] = r
		}
	}
	for _, b := range bundleTable() {
		if !n.ProviderEnabled(b.provider) {
			continue
		}
		for _, h := range b.hosts {
			r := &rule{
				name:     "managed:" + b.provider + "/" + h.host,
				key:      h.host,
				managed:  b.provider,
				methods:  h.methods,
				provider: h.guards,
			}
			for _, g := range h.pathGuards {
				re, _, err := compileGuard(g)
				if err != nil {
					return nil, fmt.Errorf("compile %s bundle guard for %s: %w", b.provider, h.host, err)
				}
				r.guards = append(r.guards, re)
			}
			c.exact[h.host] = r
		}
	}
	canon, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("encode policy for fingerprint: %w", err)
	}
	sum := sha256.Sum256(canon)
	c.fingerprint = hex.EncodeToString(sum[:])
	return c, nil
}

// Policy returns the operator-facing policy this was compiled from, in
// normal form. Callers must not modify it.
func (c *Compiled) Policy() *Policy {
	if c == nil {
		return nil
	}
	return c.source
}

// Fingerprint is the SHA-256 hex of the canonical JSON of the policy;
// equal policies have equal fingerprints.
func (c *Compiled) Fingerprint() string {
	if c == nil {
		return ""
	}
	return c.fingerprint
}

// lookup finds the rule for a normalised host: the exact rule first, else
// the longest matching wildcard. A wildcard never matches its apex.
func (c *Compiled) lookup(host string) *rule {
	if r, ok := c.exact[host]; ok {
		return r
	}
	// Walking the parents from the longest down finds the longest
	// wildcard first; the prefix before the suffix is never empty.
	for s := host; ; {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return nil
		}
		s = s[i+1:]
		if r, ok := c.wildcard[s]; ok {
			return r
		}
	}
}
