package policy

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestPolicyJSONRoundTripIsCanonical(t *testing.T) {
	p, err := Parse([]byte(fixturePolicy))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(out)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", out, err)
	}
	again, _ := json.Marshal(q)
	if string(again) != string(out) {
		t.Fatalf("not canonical:\n%s\n%s", out, again)
	}
	// Empty and nil shapes are written as {} and [], never null.
	empty, _ := json.Marshal(Policy{})
	if string(empty) != `{"allowed_network_access":{}}` {
		t.Fatalf("empty policy encodes as %s", empty)
	}
	closed, _ := json.Marshal(Policy{Allowed: map[string]DomainRule{"a.example.com": {}}})
	if string(closed) != `{"allowed_network_access":{"a.example.com":{"allow_http_methods":[]}}}` {
		t.Fatalf("closed rule encodes as %s", closed)
	}
}

func TestPolicyUnmarshalJSONIsStrict(t *testing.T) {
	var body struct {
		Policy Policy `json:"policy"`
	}
	err := json.Unmarshal([]byte(`{"policy":{"allowed_network_access":{"Example.com":{"allow_http_methods":["GET"],"bogus":1}}}}`), &body)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != `allowed_network_access["Example.com"].bogus` {
		t.Fatalf("got %v", err)
	}
	if err := json.Unmarshal([]byte(`{"policy":{"allowed_network_access":{"Example.com.":{"allow_http_methods":["GET"]}}}}`), &body); err != nil {
		t.Fatal(err)
	}
	if _, ok := body.Policy.Allowed["example.com"]; !ok {
		t.Fatalf("not normalised: %+v", body.Policy)
	}
}
