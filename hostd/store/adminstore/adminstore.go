// Package adminstore adapts the durable store to the admin API's storage
// interfaces (adminapi.IdempotencyStore and adminapi.SessionStore). It
// holds no state of its own and never decides the API's rules (24 h
// window, method/path match); it only converts types.
//
// It lives apart from package store so that the store does not depend on
// the HTTP package: the admin API's own tests can use the real store
// through this package from an external test package (package
// adminapi_test) without an import cycle.
package adminstore

import (
	"context"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/adminapi"
	"github.com/trustyclaw/trustyclaw/hostd/store"
)

// Store serves the admin API's idempotency records and browser sessions
// from the durable store.
type Store struct{ s *store.Store }

var (
	_ adminapi.IdempotencyStore = Store{}
	_ adminapi.SessionStore     = Store{}
)

// New wraps s.
func New(s *store.Store) Store { return Store{s: s} }

// BeginIdempotent implements adminapi.IdempotencyStore.
func (a Store) BeginIdempotent(ctx context.Context, key, method, path string, now time.Time) (adminapi.IdempotencyRecord, bool, error) {
	r, existing, err := a.s.BeginIdempotent(ctx, key, method, path, now)
	return adminapi.IdempotencyRecord{
		Key: r.Key, Method: r.Method, Path: r.Path, Done: r.Done,
		Status: r.Status, Body: r.Body, CreatedAt: r.CreatedAt,
	}, existing, err
}

// FinishIdempotent implements adminapi.IdempotencyStore.
func (a Store) FinishIdempotent(ctx context.Context, key string, status int, body []byte) error {
	return a.s.FinishIdempotent(ctx, key, status, body)
}

// AbortIdempotent implements adminapi.IdempotencyStore.
func (a Store) AbortIdempotent(ctx context.Context, key string) error {
	return a.s.AbortIdempotent(ctx, key)
}

// CreateSession implements adminapi.SessionStore.
func (a Store) CreateSession(ctx context.Context, tokenHash string, expiresAt time.Time) error {
	return a.s.CreateSession(ctx, tokenHash, expiresAt)
}

// SessionValid implements adminapi.SessionStore.
func (a Store) SessionValid(ctx context.Context, tokenHash string, now time.Time) (bool, error) {
	return a.s.SessionValid(ctx, tokenHash, now)
}

// DeleteSession implements adminapi.SessionStore.
func (a Store) DeleteSession(ctx context.Context, tokenHash string) error {
	return a.s.DeleteSession(ctx, tokenHash)
}
