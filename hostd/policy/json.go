package policy

import "encoding/json"

// UnmarshalJSON applies Parse, so a Policy embedded in any JSON body is
// decoded strictly and comes out validated and normalised.
func (p *Policy) UnmarshalJSON(b []byte) error {
	q, err := Parse(b)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// MarshalJSON writes the canonical shape: allowed_network_access is always
// an object (never null), every rule has an allow_http_methods array, and
// path_guards is left out when empty.
func (p Policy) MarshalJSON() ([]byte, error) {
	type wire struct {
		ManagedProviders *ManagedProviders     `json:"managed_ai_provider_network_access,omitempty"`
		Allowed          map[string]DomainRule `json:"allowed_network_access"`
	}
	w := wire(p)
	if w.Allowed == nil {
		w.Allowed = map[string]DomainRule{}
	}
	return json.Marshal(w)
}

// MarshalJSON writes allow_http_methods as [] rather than null.
func (r DomainRule) MarshalJSON() ([]byte, error) {
	type wire struct {
		AllowHTTPMethods []string `json:"allow_http_methods"`
		PathGuards       []string `json:"path_guards,omitempty"`
	}
	w := wire(r)
	if w.AllowHTTPMethods == nil {
		w.AllowHTTPMethods = []string{}
	}
	return json.Marshal(w)
}
