// Package store owns the admin plane's durable state: tasks, pending
// steers, threads (owner runtime and runtime session), agent events,
// Idempotency-Key records and browser sessions, kept in one SQLite file
// (modernc.org/sqlite, no cgo) in WAL mode with synchronous=FULL.
//
// Every mutation runs on one writer goroutine that groups the mutations
// waiting at the same moment into one transaction (each inside its own
// SAVEPOINT, so one failing mutation never affects another) and returns to
// each caller only after that transaction is committed and synced to disk:
// an acknowledged mutation survives kill -9. Reads run on a small pool of
// read-only connections and never wait for the writer.
//
// The store enforces the invariants that must hold inside one transaction
// (queue cap, thread ownership, steer cap, conditional status transitions,
// the per-message size cap) and offers the pruning the maintenance loop
// calls. It never decides when a task runs, never talks to a runtime, never
// logs message contents, and never rewrites a database written by a newer
// schema version.
package store
