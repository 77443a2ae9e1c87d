// Package orchestrator turns queued tasks into agent turns. It implements
// tasks.Service for the admin API on top of the durable store, runs the
// worker pool (6 workers, at most 3 running tasks per runtime, one task at
// a time per thread in creation order, claims only while the runtime is
// active), delivers steers, kills turns, reacts to runtime status changes
// (agentrt.StatusListener), and runs the hourly maintenance loop that
// enforces the store's retention bounds.
//
// Every task status change goes through the store's conditional
// transitions, so a late worker can never resurrect a cancelled task. The
// orchestrator never knows which CLI runs a turn (it talks to
// agentrt.Adapter only), never writes task state except through the store,
// and never logs message text.
package orchestrator
