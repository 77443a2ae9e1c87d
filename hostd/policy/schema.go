package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// Limits on a policy document. The admin API caps bodies at 1 MiB; the
// rest keeps per-request matching cheap and errors readable.
const (
	MaxPolicyBytes   = 1 << 20
	MaxDomains       = 1000
	MaxGuardsPerRule = 64
	MaxGuardLen      = 4096
	// MaxGuardCost bounds one path guard's compiled size and
	// MaxPolicyGuardCost all guards of a policy together (see guardCost):
	// a policy is compiled on every load, so its cost must stay small.
	MaxGuardCost       = 20_000
	MaxPolicyGuardCost = 1_000_000
)

// Field names of the operator-facing schema.
const (
	fieldProviders = "managed_ai_provider_network_access"
	fieldAllowed   = "allowed_network_access"
	fieldMethods   = "allow_http_methods"
	fieldGuards    = "path_guards"
)

// httpMethods are the methods a rule may allow, in canonical order.
func httpMethods() []string {
	return []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
}

// Parse decodes operator-facing JSON strictly (unknown fields rejected),
// normalises domain keys and validates. Errors are *ValidationError.
//
// Strict means: one JSON object and nothing after it, valid UTF-8, no
// duplicate keys in any object, exact (case-sensitive) field names, and
// value types as documented; null is not accepted in place of an object
// or a list.
func Parse(raw []byte) (*Policy, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, &ValidationError{Field: "policy", Message: "empty document; send a JSON object"}
	}
	if len(raw) > MaxPolicyBytes {
		return nil, &ValidationError{Field: "policy", Message: fmt.Sprintf("document larger than %d bytes", MaxPolicyBytes)}
	}
	if !utf8.Valid(raw) {
		return nil, &ValidationError{Field: "policy", Message: "document is not valid UTF-8"}
	}
	top, err := decodeObject(raw, "policy")
	if err != nil {
		return nil, err
	}
	p := &Policy{}
	var sawAllowed bool
	for _, m := range top {
		switch m.key {
		case fieldProviders:
			mp, err := parseProviders(m.value)
			if err != nil {
				return nil, err
			}
			p.ManagedProviders = mp
		case fieldAllowed:
			sawAllowed = true
			allowed, err := parseAllowed(m.value)
			if err != nil {
				return nil, err
			}
			p.Allowed = allowed
		default:
			return nil, unknownField(m.key, fieldProviders, fieldAllowed)
		}
	}
	if !sawAllowed {
		return nil, &ValidationError{Field: fieldAllowed, Message: `required; use {} to allow nothing`}
	}
	if err := validateDomains(p.Allowed); err != nil {
		return nil, err
	}
	return p, nil
}

type member struct {
	key   string
	value json.RawMessage
}

// decodeObject reads one JSON object's members in order, rejecting
// duplicate keys, non-objects and trailing data.
func decodeObject(raw []byte, field string) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, &ValidationError{Field: field, Message: "invalid JSON: " + jsonErr(err)}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &ValidationError{Field: field, Message: "must be a JSON object, not " + describeToken(tok)}
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, &ValidationError{Field: field, Message: "invalid JSON: " + jsonErr(err)}
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, &ValidationError{Field: childField(field, key), Message: "invalid JSON: " + jsonErr(err)}
		}
		if seen[key] {
			return nil, &ValidationError{Field: childField(field, key), Message: "duplicate key"}
		}
		seen[key] = true
		out = append(out, member{key: key, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, &ValidationError{Field: field, Message: "invalid JSON: " + jsonErr(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ValidationError{Field: field, Message: "unexpected data after the JSON object"}
	}
	return out, nil
}

func jsonErr(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case json.Delim:
		if t == '[' {
			return "an array"
		}
	}
	return fmt.Sprint(tok)
}

// childField names a member of the object named field.
func childField(field, key string) string {
	switch field {
	case "policy":
		return key
	case fieldAllowed:
		return domainField(key)
	}
	return field + "." + key
}

func domainField(key string) string { return fmt.Sprintf("%s[%q]", fieldAllowed, key) }

func unknownField(field string, known ...string) error {
	return &ValidationError{Field: field, Message: "unknown field; known fields: " + strings.Join(known, ", ")}
}

func parseProviders(raw json.RawMessage) (*ManagedProviders, error) {
	members, err := decodeObject(raw, fieldProviders)
	if err != nil {
		return nil, err
	}
	mp := &ManagedProviders{}
	for _, m := range members {
		field := fieldProviders + "." + m.key
		var dst *bool
		switch m.key {
		case ProviderOpenAI:
			dst = &mp.OpenAI
		case ProviderClaude:
			dst = &mp.Claude
		default:
			return nil, unknownField(field, ProviderOpenAI, ProviderClaude)
		}
		switch string(m.value) {
		case "true":
			*dst = true
		case "false":
			*dst = false
		default:
			return nil, &ValidationError{Field: field, Message: "must be true or false"}
		}
	}
	return mp, nil
}

func parseAllowed(raw json.RawMessage) (map[string]DomainRule, error) {
	members, err := decodeObject(raw, fieldAllowed)
	if err != nil {
		return nil, err
	}
	if len(members) > MaxDomains {
		return nil, &ValidationError{Field: fieldAllowed, Message: fmt.Sprintf("more than %d domains", MaxDomains)}
	}
	out := make(map[string]DomainRule, len(members))
	// firstKey remembers which original key produced each normal form, to
	// name both when two keys normalise to the same host.
	firstKey := map[string]string{}
	budget := MaxPolicyGuardCost
	for _, m := range members {
		field := domainField(m.key)
		n, err := normalizeKey(m.key)
		if err != nil {
			return nil, &ValidationError{Field: field, Message: err.Error()}
		}
		if prev, dup := firstKey[n]; dup {
			return nil, &ValidationError{Field: field, Message: fmt.Sprintf("same domain as %q after normalisation; use %q once", prev, n)}
		}
		firstKey[n] = m.key
		r, err := parseRule(field, m.value, &budget)
		if err != nil {
			return nil, err
		}
		out[n] = r
	}
	return out, nil
}

func parseRule(field string, raw json.RawMessage, budget *int) (DomainRule, error) {
	members, err := decodeObject(raw, field)
	if err != nil {
		return DomainRule{}, err
	}
	var r DomainRule
	var sawMethods bool
	for _, m := range members {
		f := field + "." + m.key
		switch m.key {
		case fieldMethods:
			sawMethods = true
			if r.AllowHTTPMethods, err = parseStrings(f, m.value); err != nil {
				return DomainRule{}, err
			}
		case fieldGuards:
			if r.PathGuards, err = parseStrings(f, m.value); err != nil {
				return DomainRule{}, err
			}
		default:
			return DomainRule{}, unknownField(f, fieldMethods, fieldGuards)
		}
	}
	if !sawMethods {
		return DomainRule{}, &ValidationError{Field: field + "." + fieldMethods, Message: `required; use [] to keep the domain closed`}
	}
	if err := validateRule(field, r, budget); err != nil {
		return DomainRule{}, err
	}
	return r, nil
}

func parseStrings(field string, raw json.RawMessage) ([]string, error) {
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		return nil, &ValidationError{Field: field, Message: "must be an array of strings"}
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, &ValidationError{Field: field, Message: "must be an array of strings"}
	}
	for i := range out {
		// json.Unmarshal turns a null element into "".
		if out[i] == "" && elementIsNull(raw, i) {
			return nil, &ValidationError{Field: fmt.Sprintf("%s[%d]", field, i), Message: "must be a string, not null"}
		}
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

func elementIsNull(raw json.RawMessage, i int) bool {
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil || i >= len(elems) {
		return false
	}
	return string(bytes.TrimSpace(elems[i])) == "null"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
