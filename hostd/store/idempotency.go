package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// IdempotencyRecord is a stored Idempotency-Key record. (The admin API's
// adminapi.IdempotencyRecord has the same fields; package
// store/adminstore adapts between the two.)
type IdempotencyRecord struct {
	Key       string
	Method    string
	Path      string
	Done      bool
	Status    int
	Body      []byte
	CreatedAt time.Time
}

// ErrNoReservation is returned when finishing a key that is not reserved.
var ErrNoReservation = errors.New("no idempotency reservation for this key")

// BeginIdempotent reserves key for (method, path) at now. A record created
// after now-TTL is returned with existing=true and nothing changes; an
// older one is replaced by the new reservation.
func (s *Store) BeginIdempotent(ctx context.Context, key, method, path string, now time.Time) (rec IdempotencyRecord, existing bool, err error) {
	err = s.write(ctx, func(tx *wtx) error {
		var r IdempotencyRecord
		var done int
		var created int64
		var body []byte
		err := tx.queryRow(`SELECT method, path, done, status, body, created_at FROM idempotency WHERE key = ?`, key).
			Scan(&r.Method, &r.Path, &done, &r.Status, &body, &created)
		switch {
		case err == nil && created > nanos(now.Add(-s.lim.IdempotencyTTL)):
			r.Key, r.Done, r.Body, r.CreatedAt = key, done != 0, body, fromNanos(created)
			if r.Done && r.Body == nil {
				r.Body = []byte{} // an empty response body reads back as NULL
			}
			rec, existing = r, true
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("reading idempotency key: %w", err)
		}
		if _, err := tx.exec(`INSERT INTO idempotency (key, method, path, done, status, body, created_at)
			VALUES (?, ?, ?, 0, 0, NULL, ?)
			ON CONFLICT (key) DO UPDATE SET method = excluded.method, path = excluded.path,
				done = 0, status = 0, body = NULL, created_at = excluded.created_at`,
			key, method, path, nanos(now)); err != nil {
			return fmt.Errorf("reserving idempotency key: %w", err)
		}
		rec = IdempotencyRecord{Key: key, Method: method, Path: path, CreatedAt: fromNanos(nanos(now))}
		return nil
	})
	if err != nil {
		return IdempotencyRecord{}, false, err
	}
	return rec, existing, nil
}

// FinishIdempotent stores the first response for a reserved key.
func (s *Store) FinishIdempotent(ctx context.Context, key string, status int, body []byte) error {
	if body == nil {
		body = []byte{}
	}
	return s.write(ctx, func(tx *wtx) error {
		n, err := tx.execN(`UPDATE idempotency SET done = 1, status = ?, body = ? WHERE key = ?`, status, body, key)
		if err != nil {
			return fmt.Errorf("storing the response for an idempotency key: %w", err)
		}
		if n == 0 {
			return ErrNoReservation
		}
		return nil
	})
}

// AbortIdempotent drops a reservation that has no response yet. A finished
// record is kept.
func (s *Store) AbortIdempotent(ctx context.Context, key string) error {
	return s.write(ctx, func(tx *wtx) error {
		if _, err := tx.exec(`DELETE FROM idempotency WHERE key = ? AND done = 0`, key); err != nil {
			return fmt.Errorf("dropping an idempotency reservation: %w", err)
		}
		return nil
	})
}
