package iam

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// Policy is a parsed IAM policy document (Allow statements only: the
// shipped policies grant, they never rely on Deny).
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one policy statement.
type Statement struct {
	Sid       string                           `json:"Sid"`
	Effect    string                           `json:"Effect"`
	Action    stringList                       `json:"Action"`
	Resource  stringList                       `json:"Resource"`
	Condition map[string]map[string]stringList `json:"Condition"`
}

// stringList is IAM's "a string or a list of strings".
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*s = many
	return nil
}

// Request is one authorisation check: an action on a resource ARN with the
// request's condition context (multi-valued keys such as aws:TagKeys hold
// several values).
type Request struct {
	Action   string
	Resource string
	Context  map[string][]string
}

// supportedOperators are the condition operators Allows understands; Load
// refuses a document using any other, so an evaluation is never silently
// wrong.
var supportedOperators = map[string]bool{
	"StringEquals":              true,
	"StringLike":                true,
	"ForAllValues:StringEquals": true,
}

// Load parses one of the embedded policies and checks its shape.
func Load(name string) (Policy, error) {
	raw, err := Policies.ReadFile(name)
	if err != nil {
		return Policy{}, err
	}
	return Parse(raw)
}

// Parse parses a policy document and checks its shape: version
// 2012-10-17, Allow statements with actions and resources, no wildcard
// service actions, and only supported condition operators.
func Parse(raw []byte) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("parse policy: %w", err)
	}
	if p.Version != "2012-10-17" {
		return p, fmt.Errorf("policy Version %q, want 2012-10-17", p.Version)
	}
	if len(p.Statement) == 0 {
		return p, fmt.Errorf("policy has no statements")
	}
	sids := map[string]bool{}
	for i, s := range p.Statement {
		where := fmt.Sprintf("statement %d (%s)", i, s.Sid)
		switch {
		case s.Sid == "" || sids[s.Sid]:
			return p, fmt.Errorf("%s: Sid missing or repeated", where)
		case s.Effect != "Allow":
			return p, fmt.Errorf("%s: Effect %q, want Allow", where, s.Effect)
		case len(s.Action) == 0 || len(s.Resource) == 0:
			return p, fmt.Errorf("%s: needs Action and Resource", where)
		}
		sids[s.Sid] = true
		for _, a := range s.Action {
			svc, name, ok := strings.Cut(a, ":")
			if !ok || svc == "" || name == "" || strings.Contains(name, "*") {
				return p, fmt.Errorf("%s: action %q must name one call (no wildcards)", where, a)
			}
		}
		for op := range s.Condition {
			if !supportedOperators[op] {
				return p, fmt.Errorf("%s: condition operator %q is not supported by the evaluator", where, op)
			}
		}
	}
	return p, nil
}

// Allows reports whether some statement allows the request, and which.
func (p Policy) Allows(r Request) (bool, string) {
	for _, s := range p.Statement {
		if s.matches(r) {
			return true, s.Sid
		}
	}
	return false, ""
}

// Actions lists every action the policy names.
func (p Policy) Actions() []string {
	var out []string
	for _, s := range p.Statement {
		out = append(out, s.Action...)
	}
	return out
}

func (s Statement) matches(r Request) bool {
	if !anyMatch(s.Action, r.Action, true) || !anyMatch(s.Resource, r.Resource, false) {
		return false
	}
	for op, conds := range s.Condition {
		for key, want := range conds {
			if !conditionHolds(op, r.Context[key], want) {
				return false
			}
		}
	}
	return true
}

func anyMatch(patterns []string, v string, foldCase bool) bool {
	for _, p := range patterns {
		if foldCase {
			p, v = strings.ToLower(p), strings.ToLower(v)
		}
		if glob(p, v) {
			return true
		}
	}
	return false
}

// glob matches IAM wildcards: * any run, ? one character.
func glob(pattern, v string) bool {
	// path.Match treats "/" specially; IAM does not, so map it away.
	const sep = "\x00"
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", sep), strings.ReplaceAll(v, "/", sep))
	return err == nil && ok
}

// conditionHolds evaluates one condition key. As in IAM, a single-valued
// operator on a missing key is false, and ForAllValues on a missing key is
// true.
func conditionHolds(op string, have []string, want []string) bool {
	switch op {
	case "StringEquals", "StringLike":
		if len(have) == 0 {
			return false
		}
		for _, h := range have {
			ok := false
			for _, w := range want {
				if (op == "StringEquals" && h == w) || (op == "StringLike" && glob(w, h)) {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		return true
	case "ForAllValues:StringEquals":
		for _, h := range have {
			found := false
			for _, w := range want {
				if h == w {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	return false
}
