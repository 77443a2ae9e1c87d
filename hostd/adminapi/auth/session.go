package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// sessionTokenBytes of randomness per browser session token.
const sessionTokenBytes = 32

// SessionTokenLen is the length of an encoded session token.
var SessionTokenLen = base64.RawURLEncoding.EncodedLen(sessionTokenBytes)

// NewSessionToken returns a fresh random session token (for the cookie)
// and its hash (for the store). Only the hash may be stored.
func NewSessionToken() (token, hash string, err error) {
	raw := make([]byte, sessionTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", "", fmt.Errorf("make session token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	return token, HashSessionToken(token), nil
}

// ValidSessionToken reports whether s has the shape of a token from
// NewSessionToken, so malformed cookies never reach the store.
func ValidSessionToken(s string) bool {
	if len(s) != SessionTokenLen {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(raw) == sessionTokenBytes
}

// HashSessionToken is the stored form of a session token: SHA-256 hex. A
// fast hash is right here: the token has 256 bits of entropy.
func HashSessionToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
