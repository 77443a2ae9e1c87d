// Package auth holds the admin API's credential checks: the stored admin
// password hash (argon2id, PHC string format), a per-process cache that
// lets a correct password skip the slow KDF after its first presentation,
// the per-source back-off against password guessing, and browser session
// tokens.
//
// It owns no HTTP and no storage: the API decides what a request presents
// and the session store keeps token hashes. It must never log, store or
// return a password or a session token; only hashes leave this package.
package auth
