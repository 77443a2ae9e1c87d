// Package crashtest holds the binary-level durability test: `hostd dev`
// runs as a real subprocess with a scripted fake Codex CLI
// (internal/fakecodex), concurrent API clients mutate tasks, and the
// process is killed with SIGKILL at seeded random moments and restarted on
// the same state directory, after which every acknowledged mutation and
// every event seen before the kill must still be there. Requests whose
// answer the kill swallowed (create, edit, cancel, kill) are retried with
// their Idempotency-Key: one that had committed must replay its 200, one
// that had not runs now, and a create never yields a second task.
//
// It has no product code; the tests are the package.
package crashtest
