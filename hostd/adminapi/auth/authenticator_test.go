package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// testHash is a cheap argon2id hash so tests stay fast.
func testHash(t testing.TB, password string) string {
	t.Helper()
	h := Hash{MemoryKiB: 64, Time: 1, Threads: 1, Salt: []byte("0123456789abcdef")}
	h.Key = h.derive(password, keyLen)
	return h.String()
}

func TestHashPasswordRoundTrip(t *testing.T) {
	enc, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	if strings.Contains(enc, "correct horse") {
		t.Fatal("hash contains the password")
	}
	h, err := ParseHash(enc + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if !h.Matches("correct horse") || h.Matches("correct horsf") || h.Matches("") {
		t.Fatal("Matches gives wrong answers")
	}
	enc2, _ := HashPassword("correct horse")
	if enc2 == enc {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
	if _, err := HashPassword(""); err == nil {
		t.Fatal("empty password accepted")
	}
}

func TestParseHashRejectsMalformedAndExpensive(t *testing.T) {
	good := testHash(t, "pw")
	parts := strings.Split(good, "$")
	cases := map[string]string{
		"empty":           "",
		"bcrypt":          "$2a$10$abcdefghijklmnopqrstuuvwxyz0123456789abcdefghijklmnopq",
		"argon2i":         strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":     strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":     "$argon2id$v=19$m=4194304,t=1,p=1$" + parts[4] + "$" + parts[5],
		"huge time":       "$argon2id$v=19$m=64,t=1000,p=1$" + parts[4] + "$" + parts[5],
		"zero threads":    "$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5],
		"reordered":       "$argon2id$v=19$t=1,m=64,p=1$" + parts[4] + "$" + parts[5],
		"short salt":      "$argon2id$v=19$m=64,t=1,p=1$YWJj$" + parts[5],
		"bad key b64":     "$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$!!!",
		"missing field":   "$argon2id$v=19$m=64,t=1,p=1$" + parts[4],
		"negative memory": "$argon2id$v=19$m=-1,t=1,p=1$" + parts[4] + "$" + parts[5],
	}
	for name, s := range cases {
		if _, err := ParseHash(s); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%s: ParseHash(%q) = %v, want ErrMalformedHash", name, s, err)
		}
	}
}

func TestCheckPasswordRightWrongAndCached(t *testing.T) {
	a, err := New(Config{PasswordHash: testHash(t, "s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.CheckPassword(ctx, "src", "wrong"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if a.verified != nil {
		t.Fatal("a wrong password was cached")
	}
	if err := a.CheckPassword(ctx, "src", "s3cret"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if a.verified == nil {
		t.Fatal("right password not cached")
	}
	// The cache must decide for the right password without the KDF: hold
	// the KDF slot and check again.
	a.kdf <- struct{}{}
	done := make(chan error, 1)
	go func() { done <- a.CheckPassword(ctx, "src", "s3cret") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cached right password: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cached password waited for the KDF")
	}
	<-a.kdf
	if err := a.CheckPassword(ctx, "src", "s3cret "); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("near miss after caching: %v", err)
	}
}

func TestCheckPasswordThrottlesAfterFiveFailuresEvenTheRightPassword(t *testing.T) {
	c := newClock()
	a, err := New(Config{PasswordHash: testHash(t, "s3cret"), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.CheckPassword(ctx, "src", "s3cret"); err != nil { // warm the cache
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := a.CheckPassword(ctx, "src", "guess"); !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	// Throttled: even the right (cached) password is refused, or the cache
	// would be a full-speed oracle for a guesser.
	var te *ThrottledError
	if err := a.CheckPassword(ctx, "src", "s3cret"); !errors.As(err, &te) || te.RetryAfter != time.Second {
		t.Fatalf("during back-off: %v, want throttled 1s", err)
	}
	c.advance(time.Second)
	if err := a.CheckPassword(ctx, "src", "s3cret"); err != nil {
		t.Fatalf("after back-off: %v", err)
	}
	if err := a.CheckPassword(ctx, "src", "guess"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("success should reset the count: %v", err)
	}
}

func TestConcurrentGuessesCannotOutrunTheBackoff(t *testing.T) {
	c := newClock()
	a, err := New(Config{PasswordHash: testHash(t, "s3cret"), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errors.Is(a.CheckPassword(context.Background(), "src", "guess"), ErrWrongPassword) {
				mu.Lock()
				wrong++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wrong != 5 {
		t.Fatalf("%d guesses were checked, want exactly the 5 free ones", wrong)
	}
}

func TestCheckPasswordHonoursContextWhileWaitingForKDF(t *testing.T) {
	a, err := New(Config{PasswordHash: testHash(t, "s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	a.kdf <- struct{}{}
	defer func() { <-a.kdf }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.CheckPassword(ctx, "src", "s3cret"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestSessionTokens(t *testing.T) {
	tok, hash, err := NewSessionToken()
	if err != nil {
		t.Fatal(err)
	}
	if !ValidSessionToken(tok) || len(tok) != SessionTokenLen {
		t.Fatalf("token %q not valid", tok)
	}
	if hash != HashSessionToken(tok) || len(hash) != 64 || strings.Contains(hash, tok) {
		t.Fatal("hash wrong")
	}
	tok2, _, _ := NewSessionToken()
	if tok2 == tok {
		t.Fatal("tokens repeat")
	}
	for _, bad := range []string{"", "short", tok + "A", tok[:len(tok)-1] + "*", strings.Repeat("=", SessionTokenLen)} {
		if ValidSessionToken(bad) {
			t.Errorf("ValidSessionToken(%q) = true", bad)
		}
	}
}
