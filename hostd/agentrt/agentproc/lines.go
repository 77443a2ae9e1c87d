package agentproc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLine bounds one line of CLI output. Codex's thread/resume
// returns a thread's whole history in one line, so this is generous.
const DefaultMaxLine = 16 << 20

// ErrLineTooLong is returned (and the line skipped) when a line exceeds
// the bound; the reader stays usable.
var ErrLineTooLong = errors.New("line exceeds the size limit")

// LineReader splits a stream into newline-terminated lines of bounded
// size. An over-long line is drained and reported as ErrLineTooLong, so
// one bad line never desynchronises the stream or grows memory.
type LineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewLineReader reads from r with lines of at most max bytes (0 means
// DefaultMaxLine).
func NewLineReader(r io.Reader, max int) *LineReader {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return &LineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next line without its "\n" (and without a trailing
// "\r"). The slice is valid until the next call. At the end of the stream
// it returns io.EOF; a final unterminated line is returned first.
func (l *LineReader) Next() ([]byte, error) {
	l.buf = l.buf[:0]
	tooLong := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !tooLong {
			if len(l.buf)+len(chunk) > l.max+2 { // +2: room for "\r\n"
				tooLong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return nil, err
		}
		atEOF := err != nil
		if tooLong {
			return nil, fmt.Errorf("%w (%d bytes)", ErrLineTooLong, l.max)
		}
		if atEOF && len(l.buf) == 0 {
			return nil, io.EOF
		}
		line := trimEOL(l.buf)
		if len(line) > l.max {
			return nil, fmt.Errorf("%w (%d bytes)", ErrLineTooLong, l.max)
		}
		return line, nil
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}
