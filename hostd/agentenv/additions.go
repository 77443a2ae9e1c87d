package agentenv

import (
	"fmt"
	"strings"
)

// MaxAdditionBytes bounds one --agent-env entry.
const MaxAdditionBytes = 32 << 10

// ParseAdditions validates --agent-env NAME=VALUE entries: NAME matches
// [A-Za-z_][A-Za-z0-9_]*, is not reserved (see Reserved), and appears
// once; VALUE has no NUL byte. The first bad entry is named in the error.
func ParseAdditions(entries []string) ([]Var, error) {
	seen := map[string]bool{}
	out := make([]Var, 0, len(entries))
	for i, e := range entries {
		name, value, ok := strings.Cut(e, "=")
		if !ok {
			// The entry is not echoed: it may be a pasted key.
			return nil, fmt.Errorf("--agent-env entry %d: want NAME=VALUE", i+1)
		}
		v := Var{Name: name, Value: value}
		if err := validateAddition(v); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("--agent-env %s: given twice", name)
		}
		seen[name] = true
		out = append(out, v)
	}
	return out, nil
}

func validateAddition(v Var) error {
	if !validName(v.Name) {
		return fmt.Errorf("--agent-env %q: name must match [A-Za-z_][A-Za-z0-9_]*", v.Name)
	}
	if why, ok := Reserved(v.Name); ok {
		return fmt.Errorf("--agent-env %s: reserved (%s)", v.Name, why)
	}
	if strings.IndexByte(v.Value, 0) >= 0 {
		return fmt.Errorf("--agent-env %s: value contains a NUL byte", v.Name)
	}
	if len(v.Name)+len(v.Value) > MaxAdditionBytes {
		return fmt.Errorf("--agent-env %s: longer than %d bytes", v.Name, MaxAdditionBytes)
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
