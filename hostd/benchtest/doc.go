// Package benchtest measures hostd through the binary: `hostd dev` runs as
// a real subprocess (built without the race detector when the benchmarks
// run without it) and is driven over loopback HTTP like an operator's
// script would drive it — start-up time to healthy, API latency under 16
// concurrent clients, and the process's resident memory idle and after a
// burst of agent events produced by the scripted fake Codex.
//
// It has no product code; the benchmarks are the package.
package benchtest
