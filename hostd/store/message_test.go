package store

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCapMessageKeepsShortMessagesAndCutsLongOnesAtACharacter(t *testing.T) {
	if got, cut := capMessage("hello", 100); got != "hello" || cut {
		t.Fatalf("short message = %q, %v", got, cut)
	}
	exact := strings.Repeat("x", 100)
	if got, cut := capMessage(exact, 100); got != exact || cut {
		t.Fatal("a message of exactly the cap was cut")
	}
	long := strings.Repeat("€", 100) // 3 bytes each
	got, cut := capMessage(long, 150)
	if !cut || len(got) > 150 || !utf8.ValidString(got) || !strings.Contains(got, "the message had 300 bytes") {
		t.Fatalf("cut message = %q (%d bytes)", got, len(got))
	}
}

func FuzzCapMessage(f *testing.F) {
	f.Add("hello", 10)
	f.Add(strings.Repeat("€", 50), 100)
	f.Add("\xff\xfe invalid", 60)
	f.Add(strings.Repeat("a", 300), 0)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		got, cut := capMessage(s, limit)
		if !cut {
			if got != s || len(s) > limit {
				t.Fatalf("uncut %q for limit %d", got, limit)
			}
			return
		}
		marker := got[strings.LastIndex(got, "\n[truncated"):]
		kept := strings.TrimSuffix(got, marker)
		if !strings.HasPrefix(s, kept) {
			t.Fatal("kept text is not a prefix of the message")
		}
		if utf8.ValidString(s) && !utf8.ValidString(kept) {
			t.Fatal("cut inside a character")
		}
		if len(got) > limit && len(kept) > 0 {
			t.Fatalf("%d bytes for limit %d", len(got), limit)
		}
	})
}
