// Package crashtest holds the binary-level durability test: `hostd dev`
// runs as a real subprocess with a scripted fake Codex CLI
// (internal/fakecodex), concurrent API clients mutate tasks, and the
// process is killed with SIGKILL at seeded random moments and restarted on
// the same state directory, after which every acknowledged mutation and
// every event seen before the kill must still be there.
//
// It has no product code; the tests are the package.
package crashtest
