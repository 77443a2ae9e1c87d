package main

// runtimeHelpers: run-codex-app-server, run-claude-code,
// read-codex-account-id, read-claude-account (owned by the runtimes work).
func runtimeHelpers() map[string]helperFunc { return map[string]helperFunc{} }
