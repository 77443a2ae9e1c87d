// Package e2e holds the end-to-end acceptance tests of TrustyClaw's main
// job, run exactly as an operator runs it: a real `hostd dev` subprocess
// (hostd/internal/devproc) with the real pinned Codex and Claude Code
// CLIs (`make agent-clis`), tasks handed to the admin API, and the CLIs'
// model traffic crossing the enforcing proxy to a scripted fake model
// server (hostd/internal/fakemodel) that `--dev-upstream` maps under the
// model host names. Nothing leaves loopback.
//
// The package has no product code; its tests skip with the reason when
// the CLIs are not installed. Its benchmarks (run by `make bench`)
// measure warm vs cold Codex follow-ups and the time hostd adds to a
// Claude turn; docs/benchmarks.md records the results.
package e2e
