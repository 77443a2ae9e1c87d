package main

// networkHelpers: update-network-policy, read-network-state,
// update-provider-account (owned by the proxy work).
func networkHelpers() map[string]helperFunc { return map[string]helperFunc{} }
