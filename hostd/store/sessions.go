package store

import (
	"context"
	"fmt"
	"time"
)

// CreateSession stores a browser session by the hash of its token.
func (s *Store) CreateSession(ctx context.Context, tokenHash string, expiresAt time.Time) error {
	return s.write(ctx, func(tx *wtx) error {
		if _, err := tx.exec(`INSERT INTO sessions (token_hash, expires_at, created_at) VALUES (?, ?, ?)
			ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at`,
			tokenHash, nanos(expiresAt), nanos(s.now())); err != nil {
			return fmt.Errorf("storing a session: %w", err)
		}
		return nil
	})
}

// SessionValid reports whether tokenHash names a session that has not
// expired at now.
func (s *Store) SessionValid(ctx context.Context, tokenHash string, now time.Time) (bool, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE token_hash = ? AND expires_at > ?`,
		tokenHash, nanos(now)).Scan(&n); err != nil {
		return false, fmt.Errorf("checking a session: %w", err)
	}
	return n > 0, nil
}

// DeleteSession removes a session (logout). Deleting an unknown session
// is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	return s.write(ctx, func(tx *wtx) error {
		if _, err := tx.exec(`DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
			return fmt.Errorf("deleting a session: %w", err)
		}
		return nil
	})
}
