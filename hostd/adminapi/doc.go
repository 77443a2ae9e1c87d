// Package adminapi is the admin service's HTTP API (admin-api.md): routes,
// authentication (bearer password and browser sessions), the loopback Host
// check, Idempotency-Key replay, strict JSON decoding, the error envelope,
// the JSON shapes, and the live event streams (Server-Sent Events).
//
// It owns no task, runtime or network state: it validates a request,
// calls tasks.Service, agentrt.Supervisor or netstate.Client, and renders
// the answer. It must never log a password, session token, Authorization
// or Cookie header, or a request body, and never send CORS headers.
package adminapi
