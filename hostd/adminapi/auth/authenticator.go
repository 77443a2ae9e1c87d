package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrWrongPassword: the presented password is not the admin password.
var ErrWrongPassword = errors.New("wrong admin password")

// ThrottledError: the source failed too often and must wait.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; retry in %s", e.RetryAfter.Round(time.Second))
}

// Config configures an Authenticator.
type Config struct {
	// PasswordHash is the stored admin password hash (PHC argon2id string,
	// see HashPassword).
	PasswordHash string
	// Now is the clock the back-off reads; nil means time.Now.
	Now     func() time.Time
	Backoff BackoffConfig
}

// Authenticator checks admin passwords.
//
// Only the first presentation of the right password pays the KDF: after a
// match, an HMAC of the password under a random per-process key is kept in
// memory, and later presentations are checked by recomputing that HMAC and
// comparing in constant time. The cache never holds the password, and the
// key never leaves the process. At most one KDF runs at a time.
type Authenticator struct {
	hash    Hash
	macKey  []byte
	backoff *Backoff
	kdf     chan struct{} // one slot: serialises KDF runs

	mu       sync.Mutex
	verified []byte // HMAC of the password last seen to match; nil until then
}

// New parses the stored hash and returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	h, err := ParseHash(cfg.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("load admin password hash: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make password cache key: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Authenticator{
		hash:    h,
		macKey:  key,
		backoff: NewBackoff(cfg.Backoff, now),
		kdf:     make(chan struct{}, 1),
	}, nil
}

// CheckPassword checks a password presented by source (the client address).
// It returns nil on a match, ErrWrongPassword, a *ThrottledError when
// source must wait (the password is then not looked at, so a throttled
// guesser learns nothing), or the context's error.
//
// Order of checks:
//  1. source is within its back-off window → *ThrottledError;
//  2. the password's HMAC equals the cached one → match;
//  3. wait for the KDF slot, re-check the back-off (attempts that queued
//     behind a failure see it), run the KDF and compare in constant time.
func (a *Authenticator) CheckPassword(ctx context.Context, source, password string) error {
	if ok, wait := a.backoff.Allow(source); !ok {
		return &ThrottledError{RetryAfter: wait}
	}
	mac := a.mac(password)
	a.mu.Lock()
	cached := a.verified
	a.mu.Unlock()
	if cached != nil && hmac.Equal(mac, cached) {
		a.backoff.Success(source)
		return nil
	}

	select {
	case a.kdf <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait to check password: %w", ctx.Err())
	}
	defer func() { <-a.kdf }()
	if ok, wait := a.backoff.Allow(source); !ok {
		return &ThrottledError{RetryAfter: wait}
	}
	if !a.hash.Matches(password) {
		a.backoff.Failure(source)
		return ErrWrongPassword
	}
	a.mu.Lock()
	a.verified = mac
	a.mu.Unlock()
	a.backoff.Success(source)
	return nil
}

func (a *Authenticator) mac(password string) []byte {
	m := hmac.New(sha256.New, a.macKey)
	m.Write([]byte(password))
	return m.Sum(nil)
}
