package policy

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// Validate checks a Policy built in code (not parsed) against the same
// rules as Parse. Keys must already be in normal form.
func Validate(p *Policy) error {
	_, err := normalized(p)
	return err
}

// normalized returns a validated copy of p with normal-form keys, for
// Compile and MarshalJSON; it rejects what Parse would reject.
func normalized(p *Policy) (*Policy, error) {
	if p == nil {
		return nil, &ValidationError{Field: "policy", Message: "no policy"}
	}
	if len(p.Allowed) > MaxDomains {
		return nil, &ValidationError{Field: fieldAllowed, Message: fmt.Sprintf("more than %d domains", MaxDomains)}
	}
	out := &Policy{Allowed: make(map[string]DomainRule, len(p.Allowed))}
	if p.ManagedProviders != nil {
		mp := *p.ManagedProviders
		out.ManagedProviders = &mp
	}
	keys := sortedKeys(p.Allowed)
	budget := MaxPolicyGuardCost
	for _, k := range keys {
		field := domainField(k)
		n, err := normalizeKey(k)
		if err != nil {
			return nil, &ValidationError{Field: field, Message: err.Error()}
		}
		if n != k {
			return nil, &ValidationError{Field: field, Message: fmt.Sprintf("use %q", n)}
		}
		r := p.Allowed[k]
		if err := validateRule(field, r, &budget); err != nil {
			return nil, err
		}
		out.Allowed[n] = DomainRule{
			AllowHTTPMethods: slices.Clone(r.AllowHTTPMethods),
			PathGuards:       slices.Clone(r.PathGuards),
		}
	}
	if err := validateDomains(out.Allowed); err != nil {
		return nil, err
	}
	return out, nil
}

// validateRule checks one domain rule's methods and guards.
func validateRule(field string, r DomainRule, budget *int) error {
	seen := map[string]bool{}
	for i, m := range r.AllowHTTPMethods {
		f := fmt.Sprintf("%s.%s[%d]", field, fieldMethods, i)
		if !slices.Contains(httpMethods(), m) {
			if up := strings.ToUpper(m); slices.Contains(httpMethods(), up) {
				return &ValidationError{Field: f, Message: fmt.Sprintf("use %q", up)}
			}
			return &ValidationError{Field: f, Message: fmt.Sprintf("%q is not an allowed method; use some of %s", m, strings.Join(httpMethods(), ", "))}
		}
		if seen[m] {
			return &ValidationError{Field: f, Message: fmt.Sprintf("duplicate %q", m)}
		}
		seen[m] = true
	}
	if len(r.PathGuards) > MaxGuardsPerRule {
		return &ValidationError{Field: field + "." + fieldGuards, Message: fmt.Sprintf("more than %d guards", MaxGuardsPerRule)}
	}
	for i, g := range r.PathGuards {
		f := fmt.Sprintf("%s.%s[%d]", field, fieldGuards, i)
		_, c, err := compileGuard(g)
		if err != nil {
			return &ValidationError{Field: f, Message: err.Error()}
		}
		if *budget -= c; *budget < 0 {
			return &ValidationError{Field: f, Message: fmt.Sprintf(
				"the path guards of this policy are too large to compile together (limit %d units; a unit is about one regexp instruction or character range); use fewer or simpler patterns", MaxPolicyGuardCost)}
		}
	}
	return nil
}

// compileGuard compiles a path guard as a full match and returns its
// cost (see guardCost). The pattern is compiled alone first so a syntax
// error quotes the operator's own text.
func compileGuard(g string) (*regexp.Regexp, int, error) {
	if g == "" {
		return nil, 0, errors.New(`empty pattern; remove it, or use ".*" to allow every path`)
	}
	if len(g) > MaxGuardLen {
		return nil, 0, fmt.Errorf("pattern longer than %d bytes", MaxGuardLen)
	}
	c, cerr := guardCost(g)
	if cerr == nil && c > MaxGuardCost {
		return nil, 0, fmt.Errorf("pattern too large once compiled (%d units, limit %d; a unit is about one regexp instruction or character range): large repeat counts such as {1000} and big classes such as \\pL multiply; use + or * or a smaller class", c, MaxGuardCost)
	}
	if _, err := regexp.Compile(g); err != nil {
		return nil, 0, fmt.Errorf("invalid regular expression (Go RE2 syntax; look-arounds and back-references are not supported): %v", err)
	}
	re, err := regexp.Compile(`^(?:` + g + `)$`)
	if err != nil {
		return nil, 0, fmt.Errorf("invalid regular expression: %v", err)
	}
	return re, c, nil
}

// guardCost estimates what compiling g costs in time and memory: one
// unit per instruction of the compiled program plus one per character
// range it holds. It is computed on the parsed, simplified pattern before
// any full compilation, so a pattern such as \pL{1000} (a thousand copies
// of a class of several hundred ranges) is refused cheaply instead of
// costing megabytes on every load of the policy.
func guardCost(g string) (int, error) {
	re, err := syntax.Parse(g, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	cost := 0
	for _, in := range prog.Inst {
		cost += 1 + len(in.Rune)/2
	}
	return cost, nil
}

// validateDomains checks rules across keys: wildcards must not overlap.
func validateDomains(allowed map[string]DomainRule) error {
	wild := map[string]bool{}
	for k := range allowed {
		if s, ok := strings.CutPrefix(k, "*."); ok {
			wild[s] = true
		}
	}
	for _, k := range sortedKeys(allowed) {
		s, ok := strings.CutPrefix(k, "*.")
		if !ok {
			continue
		}
		for parent := s; ; {
			i := strings.IndexByte(parent, '.')
			if i < 0 {
				break
			}
			parent = parent[i+1:]
			if wild[parent] {
				return &ValidationError{Field: domainField(k), Message: fmt.Sprintf("overlaps %q; keep only one of them", "*."+parent)}
			}
		}
	}
	return nil
}
