package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A pattern whose compiled program would be huge is refused by name before
// it is compiled; ordinary guards cost little.
func TestGuardCostRefusesHugePrograms(t *testing.T) {
	for _, g := range []string{`^/repos/[^/]+/[^/]+(?:/.*)?$`, `/v1/(?:models|chat/completions)`, `[a-z0-9_-]{1,64}`} {
		c, err := guardCost(g)
		if err != nil || c > 500 {
			t.Errorf("guardCost(%q) = %d, %v; want a small cost", g, c, err)
		}
		if _, _, err := compileGuard(g); err != nil {
			t.Errorf("compileGuard(%q): %v", g, err)
		}
	}
	for _, g := range []string{`\pL{1000}N`, `(?:[\p{Greek}\p{Han}]{500})+`, strings.Repeat(`\pL`, 200)} {
		_, _, err := compileGuard(g)
		if err == nil || !strings.Contains(err.Error(), "too large once compiled") {
			t.Errorf("compileGuard(%q) = %v; want a too-large refusal", g[:min(len(g), 30)], err)
		}
	}
}

// Guards that pass one by one can still add up: the policy as a whole is
// refused, naming the first guard over the budget.
func TestPolicyGuardBudget(t *testing.T) {
	guard := `\pL{10}`
	per, err := guardCost(guard)
	if err != nil || per > MaxGuardCost {
		t.Fatalf("guardCost = %d, %v", per, err)
	}
	guards := make([]string, MaxGuardsPerRule)
	for i := range guards {
		guards[i] = fmt.Sprintf(`/%d/%s`, i, guard)
	}
	allowed := map[string]any{}
	domains := MaxPolicyGuardCost/(per*MaxGuardsPerRule) + 2
	for i := range domains {
		allowed[fmt.Sprintf("d%04d.example.com", i)] = map[string]any{"allow_http_methods": []string{"GET"}, "path_guards": guards}
	}
	raw, _ := json.Marshal(map[string]any{"allowed_network_access": allowed})
	_, err = Parse(raw)
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Message, "too large to compile together") || !strings.Contains(ve.Field, "path_guards[") {
		t.Fatalf("Parse = %v; want the policy-wide guard budget refusal naming a guard", err)
	}
	// The same policy built in code is refused by Validate too.
	p := &Policy{Allowed: map[string]DomainRule{}}
	for k := range allowed {
		p.Allowed[k] = DomainRule{AllowHTTPMethods: []string{"GET"}, PathGuards: guards}
	}
	if err := Validate(p); err == nil || !strings.Contains(err.Error(), "too large to compile together") {
		t.Fatalf("Validate = %v; want the budget refusal", err)
	}
	// One domain fewer than the budget allows passes.
	small := map[string]any{}
	for i := range domains - 3 {
		small[fmt.Sprintf("d%04d.example.com", i)] = allowed[fmt.Sprintf("d%04d.example.com", i)]
	}
	raw, _ = json.Marshal(map[string]any{"allowed_network_access": small})
	if _, err := Parse(raw); err != nil {
		t.Fatalf("a policy within the budget: %v", err)
	}
}
