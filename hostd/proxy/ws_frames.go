package proxy

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"io"
	"strings"
	"unicode/utf8"
)

// WebSocket opcodes and close codes (RFC 6455).
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8

	wsCloseProtocolError  = 1002
	wsClosePolicyViolated = 1008
	wsCloseTooBig         = 1009
)

// wsFrameHeader is one parsed frame header; head holds its raw bytes.
type wsFrameHeader struct {
	fin    bool
	rsv    byte
	opcode byte
	masked bool
	mask   [4]byte
	length int64
	head   []byte
}

// wsProtocolError is a frame that breaks RFC 6455 framing.
type wsProtocolError struct{ msg string }

func (e *wsProtocolError) Error() string { return "WebSocket protocol error: " + e.msg }

// readWSFrameHeader reads one frame header strictly: 64-bit lengths with
// the top bit clear, control frames unfragmented and at most 125 bytes,
// no reserved opcodes.
func readWSFrameHeader(r *bufio.Reader) (wsFrameHeader, error) {
	var f wsFrameHeader
	var b [14]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil {
		return f, err
	}
	n := 2
	f.fin = b[0]&0x80 != 0
	f.rsv = b[0] & 0x70
	f.opcode = b[0] & 0x0f
	f.masked = b[1]&0x80 != 0
	switch l := b[1] & 0x7f; l {
	case 126:
		if _, err := io.ReadFull(r, b[2:4]); err != nil {
			return f, eofUnexpected(err)
		}
		f.length = int64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
	case 127:
		if _, err := io.ReadFull(r, b[2:10]); err != nil {
			return f, eofUnexpected(err)
		}
		v := binary.BigEndian.Uint64(b[2:10])
		if v>>63 != 0 {
			return f, &wsProtocolError{"frame length has the most significant bit set"}
		}
		f.length = int64(v)
		n = 10
	default:
		f.length = int64(l)
	}
	if f.masked {
		if _, err := io.ReadFull(r, b[n:n+4]); err != nil {
			return f, eofUnexpected(err)
		}
		copy(f.mask[:], b[n:n+4])
		n += 4
	}
	switch {
	case f.opcode >= 0x8 && (f.opcode > 0xA):
		return f, &wsProtocolError{"reserved control opcode"}
	case f.opcode >= 0x3 && f.opcode <= 0x7:
		return f, &wsProtocolError{"reserved data opcode"}
	case f.opcode >= 0x8 && (!f.fin || f.length > 125):
		return f, &wsProtocolError{"fragmented or oversized control frame"}
	}
	f.head = append([]byte(nil), b[:n]...)
	return f, nil
}

// unmask XORs p in place with the mask, starting at payload offset off.
func unmask(p []byte, mask [4]byte, off int64) {
	for i := range p {
		p[i] ^= mask[(off+int64(i))&3]
	}
}

// closeFrame builds a close frame; client-side frames (to the upstream)
// are masked as RFC 6455 requires.
func closeFrame(code int, reason string, masked bool) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	reason = strings.ToValidUTF8(reason, "?")
	payload := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(payload, uint16(code))
	copy(payload[2:], reason)
	f := []byte{0x80 | wsClose, byte(len(payload))}
	if masked {
		var m [4]byte
		_, _ = rand.Read(m[:])
		f[1] |= 0x80
		f = append(f, m[:]...)
		unmask(payload, m, 0)
	}
	return append(f, payload...)
}
