package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new hashes: the OWASP recommendation (19 MiB,
// two passes, one lane). The memory cost is paid only on a cache miss
// (see Verifier), and at most one KDF runs at a time, so a flood of wrong
// passwords cannot multiply it.
const (
	defaultMemoryKiB = 19 * 1024
	defaultTime      = 2
	defaultThreads   = 1
	saltLen          = 16
	keyLen           = 32
)

// Bounds accepted when parsing a stored hash, so a tampered hash file
// cannot make every login allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB = 256 * 1024
	maxTime      = 10
	maxThreads   = 8
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// ErrMalformedHash: the stored hash is not an argon2id PHC string this
// package accepts.
var ErrMalformedHash = errors.New("malformed argon2id password hash")

// Hash is a parsed argon2id password hash.
type Hash struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	Salt      []byte
	Key       []byte
}

var b64 = base64.RawStdEncoding

// HashPassword derives a new argon2id hash of password with a random salt
// and returns it in PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("hash password: the password is empty")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read random salt: %w", err)
	}
	h := Hash{MemoryKiB: defaultMemoryKiB, Time: defaultTime, Threads: defaultThreads, Salt: salt}
	h.Key = h.derive(password, keyLen)
	return h.String(), nil
}

// String encodes h in PHC string format.
func (h Hash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.MemoryKiB, h.Time, h.Threads, b64.EncodeToString(h.Salt), b64.EncodeToString(h.Key))
}

func (h Hash) derive(password string, n int) []byte {
	key := argon2.IDKey([]byte(password), h.Salt, h.Time, h.MemoryKiB, h.Threads, uint32(n))
	// The KDF's work area (MemoryKiB, 19 MiB by default) is garbage now,
	// but an idle daemon may not collect for minutes and keeps it
	// resident until then: hand it back to the OS at once. KDF runs are
	// rare (the first correct presentation per process, throttled
	// failures), and one more GC is small next to the KDF itself.
	debug.FreeOSMemory()
	return key
}

// Matches runs the KDF over password and compares in constant time.
func (h Hash) Matches(password string) bool {
	got := h.derive(password, len(h.Key))
	return subtle.ConstantTimeCompare(got, h.Key) == 1
}

// ParseHash parses a PHC-format argon2id hash, refusing parameters outside
// sane bounds. Surrounding white space (a trailing newline in a file) is
// ignored.
func ParseHash(s string) (Hash, error) {
	parts := strings.Split(strings.TrimSpace(s), "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Hash{}, fmt.Errorf("%w: want $argon2id$v=19$m=..,t=..,p=..$salt$key", ErrMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Hash{}, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, parts[2])
	}
	var h Hash
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return Hash{}, fmt.Errorf("%w: parameters must be m=<KiB>,t=<passes>,p=<lanes>", ErrMalformedHash)
	}
	for i, want := range []string{"m", "t", "p"} {
		name, val, ok := strings.Cut(params[i], "=")
		if !ok || name != want {
			return Hash{}, fmt.Errorf("%w: parameters must be m=<KiB>,t=<passes>,p=<lanes>", ErrMalformedHash)
		}
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return Hash{}, fmt.Errorf("%w: parameter %s: %v", ErrMalformedHash, name, err)
		}
		switch name {
		case "m":
			h.MemoryKiB = uint32(n)
		case "t":
			h.Time = uint32(n)
		case "p":
			if n > 255 {
				return Hash{}, fmt.Errorf("%w: parameter p out of range", ErrMalformedHash)
			}
			h.Threads = uint8(n)
		}
	}
	switch {
	case h.Threads < 1 || h.Threads > maxThreads:
		return Hash{}, fmt.Errorf("%w: p must be 1..%d", ErrMalformedHash, maxThreads)
	case h.Time < 1 || h.Time > maxTime:
		return Hash{}, fmt.Errorf("%w: t must be 1..%d", ErrMalformedHash, maxTime)
	case h.MemoryKiB < 8*uint32(h.Threads) || h.MemoryKiB > maxMemoryKiB:
		return Hash{}, fmt.Errorf("%w: m must be %d..%d KiB", ErrMalformedHash, 8*uint32(h.Threads), maxMemoryKiB)
	}
	var err error
	if h.Salt, err = b64.DecodeString(parts[4]); err != nil || len(h.Salt) < minSaltLen || len(h.Salt) > maxSaltLen {
		return Hash{}, fmt.Errorf("%w: salt must be %d..%d bytes of unpadded base64", ErrMalformedHash, minSaltLen, maxSaltLen)
	}
	if h.Key, err = b64.DecodeString(parts[5]); err != nil || len(h.Key) < minKeyLen || len(h.Key) > maxKeyLen {
		return Hash{}, fmt.Errorf("%w: key must be %d..%d bytes of unpadded base64", ErrMalformedHash, minKeyLen, maxKeyLen)
	}
	return h, nil
}
