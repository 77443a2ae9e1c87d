// Package proxystate owns the proxy's state directory: the live network
// policy file, the provider account pins, and the network event log.
//
// It gives the proxy a cheap, always-current view of policy and pins
// (Watcher.Current re-reads a file only when its inode, size or times
// change) and a batched SQLite decision log (EventLog), gives the root
// helpers and dev mode the operations that change state (Dir), and gives
// the admin service a netstate.Client (LocalClient in-process,
// HelperClient through the sudo helpers).
//
// It must never write a half-finished file (temp file + fsync + rename +
// directory fsync), never apply a policy the policy package rejects,
// never rewrite state written by a newer schema version, and never log a
// pin or credential. Everything unreadable or invalid fails closed: the
// proxy denies all and Status says why.
package proxystate

import "time"

// File names inside the state directory.
const (
	PolicyFileName = "policy.json"
	PolicyLockName = "policy.lock"
	PinsFileName   = "pins.json"
	PinsLockName   = "pins.lock"
	EventsFileName = "network-events.db"
)

// SchemaVersion is the version of policy.json, pins.json and the event
// log this code writes. A file with a higher version is refused.
const SchemaVersion = 1

// Clock returns the current time; tests inject a fixed one.
type Clock func() time.Time
