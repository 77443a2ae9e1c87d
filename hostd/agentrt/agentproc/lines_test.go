package agentproc

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t testing.TB, r io.Reader, max int) (lines []string, tooLong int) {
	lr := NewLineReader(r, max)
	for {
		l, err := lr.Next()
		switch {
		case err == nil:
			lines = append(lines, string(l))
		case errors.Is(err, ErrLineTooLong):
			tooLong++
		case errors.Is(err, io.EOF):
			return lines, tooLong
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
}

func TestLineFraming(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		max     int
		want    []string
		tooLong int
	}{
		{"simple", "a\nb\n", 10, []string{"a", "b"}, 0},
		{"crlf", "a\r\nb\r\n", 10, []string{"a", "b"}, 0},
		{"unterminated last line", "a\nb", 10, []string{"a", "b"}, 0},
		{"empty lines kept", "\n\na\n", 10, []string{"", "", "a"}, 0},
		{"exactly max", "abcde\n", 5, []string{"abcde"}, 0},
		{"over max skipped, stream continues", "abcdef\nok\n", 5, []string{"ok"}, 1},
		{"huge line then good", strings.Repeat("x", 200000) + "\n{}\n", 1000, []string{"{}"}, 1},
		{"huge unterminated", strings.Repeat("x", 200000), 1000, nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(c.in), iotest.OneByteReader(strings.NewReader(c.in))} {
				got, tl := readAll(t, r, c.max)
				if strings.Join(got, "|") != strings.Join(c.want, "|") || tl != c.tooLong {
					t.Errorf("got %q (%d too long), want %q (%d)", got, tl, c.want, c.tooLong)
				}
			}
		})
	}
}

// FuzzLineFraming: no input panics, no line exceeds the bound, and the
// lines plus skipped ones account for the input's newline count.
func FuzzLineFraming(f *testing.F) {
	f.Add([]byte("{\"id\":1}\n{\"method\":\"x\"}\n"), 16)
	f.Add([]byte("\r\n\r\n"), 1)
	f.Add(bytes.Repeat([]byte("a"), 100), 8)
	f.Add([]byte("abc\ndefghijkl\nmn"), 4)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max <= 0 || max > 1<<16 {
			max = 64
		}
		got, tl := readAll(t, bytes.NewReader(in), max)
		for _, l := range got {
			if len(l) > max {
				t.Fatalf("line of %d bytes exceeds max %d", len(l), max)
			}
		}
		n := bytes.Count(in, []byte("\n"))
		if len(in) > 0 && in[len(in)-1] != '\n' {
			n++
		}
		if len(got)+tl != n {
			t.Fatalf("got %d lines + %d skipped, want %d", len(got), tl, n)
		}
	})
}
