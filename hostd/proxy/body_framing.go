package proxy

import (
	"bufio"
	"errors"
	"io"
)

// Chunked framing limits.
const (
	maxChunkLine     = 4096
	maxTrailerLines  = 64
	maxChunkSizeHex  = 15 // < 2^60: beyond any body cap
	maxTrailerBudget = 16 << 10
)

// errBodyTooLarge: the body passed the per-request cap.
var errBodyTooLarge = errors.New("request body exceeds the size limit")

// chunkedReader decodes a chunked body strictly: CRLF line ends only,
// hex sizes without sign, prefix or whitespace, data followed by exactly
// CRLF, trailers validated and dropped.
type chunkedReader struct {
	br    *bufio.Reader
	left  uint64 // bytes left in the current chunk
	inDat bool
	done  bool
	err   error
}

func newChunkedReader(br *bufio.Reader) *chunkedReader { return &chunkedReader{br: br} }

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.done {
		return 0, io.EOF
	}
	if !c.inDat {
		if err := c.readSize(); err != nil {
			c.err = err
			return 0, err
		}
		if c.done {
			return 0, io.EOF
		}
	}
	if uint64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= uint64(n)
	if c.left == 0 {
		if cerr := c.expectCRLF(); cerr != nil {
			c.err = cerr
			return n, cerr
		}
		c.inDat = false
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *chunkedReader) expectCRLF() error {
	b0, err := c.br.ReadByte()
	if err != nil {
		return eofUnexpected(err)
	}
	b1, err := c.br.ReadByte()
	if err != nil {
		return eofUnexpected(err)
	}
	if b0 != '\r' || b1 != '\n' {
		return malformed("chunk data not followed by CRLF")
	}
	return nil
}

func (c *chunkedReader) readSize() error {
	line, err := c.readCRLFLine(maxChunkLine)
	if err != nil {
		return err
	}
	size := line
	for i, b := range line {
		if b == ';' {
			size = line[:i]
			for _, e := range line[i+1:] {
				if (e < ' ' && e != '\t') || e == 0x7f {
					return malformed("control character in chunk extension")
				}
			}
			break
		}
	}
	if len(size) == 0 || len(size) > maxChunkSizeHex {
		return malformed("invalid chunk size")
	}
	var n uint64
	for _, b := range size {
		var d byte
		switch {
		case b >= '0' && b <= '9':
			d = b - '0'
		case b >= 'a' && b <= 'f':
			d = b - 'a' + 10
		case b >= 'A' && b <= 'F':
			d = b - 'A' + 10
		default:
			return malformed("invalid chunk size")
		}
		n = n<<4 | uint64(d)
	}
	if n == 0 {
		if err := c.skipTrailers(); err != nil {
			return err
		}
		c.done = true
		return nil
	}
	c.left = n
	c.inDat = true
	return nil
}

func (c *chunkedReader) skipTrailers() error {
	budget := maxTrailerBudget
	for i := 0; ; i++ {
		line, err := c.readCRLFLine(maxChunkLine)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		budget -= len(line)
		if i >= maxTrailerLines || budget < 0 {
			return malformed("trailer section too large")
		}
		if line[0] == ' ' || line[0] == '\t' {
			return malformed("obsolete line folding in trailer")
		}
		if _, _, err := splitHeaderLine(line); err != nil {
			return err
		}
	}
}

// readCRLFLine reads a line that must end in CRLF and contain no other CR.
func (c *chunkedReader) readCRLFLine(limit int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := c.br.ReadSlice('\n')
		if len(buf)+len(chunk) > limit {
			return nil, malformed("chunk framing line too long")
		}
		if err == bufio.ErrBufferFull {
			buf = append(buf, chunk...)
			continue
		}
		if err != nil {
			return nil, eofUnexpected(err)
		}
		buf = append(buf, chunk...)
		n := len(buf)
		if n < 2 || buf[n-2] != '\r' {
			return nil, malformed("chunk framing line not ended by CRLF")
		}
		line := buf[:n-2]
		for _, b := range line {
			if b == '\r' {
				return nil, malformed("bare CR in chunk framing")
			}
		}
		return line, nil
	}
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// bodyReader is the framed request body handed to the upstream request.
// It enforces the per-request size cap, reports whether the body was read
// to its end (so the client connection can be reused), and can be
// detached so nothing reads the client connection once the handler has
// moved on.
type bodyReader struct {
	r     io.Reader
	limit int64
	read  int64
	eof   bool
	err   error
	// onRead is called before each read from the client (to extend the
	// read deadline); may be nil.
	onRead func()
}

func newBodyReader(br *bufio.Reader, h *requestHead, limit int64, onRead func()) *bodyReader {
	var r io.Reader
	switch {
	case h.Chunked:
		r = newChunkedReader(br)
	case h.ContentLength > 0:
		r = &exactReader{r: br, left: h.ContentLength}
	default:
		r = eofReader{}
	}
	return &bodyReader{r: r, limit: limit, onRead: onRead}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.eof {
		return 0, io.EOF
	}
	if b.onRead != nil {
		b.onRead()
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		b.err = errBodyTooLarge
		return 0, b.err
	}
	if err == io.EOF {
		b.eof = true
	} else if err != nil {
		b.err = err
	}
	return n, err
}

// complete reports whether the body was consumed exactly to its end.
func (b *bodyReader) complete() bool { return b.eof && b.err == nil }

// exactReader reads exactly left bytes; a short body is an error.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF {
		if e.left > 0 {
			return n, io.ErrUnexpectedEOF
		}
		return n, io.EOF
	}
	return n, err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
