package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// maxStackedEncodings bounds Content-Encoding layers the proxy unpacks.
const maxStackedEncodings = 4

// errUndecodable: the body cannot be decoded, so it cannot be inspected
// (the request is denied: the guard fails closed).
var errUndecodable = errors.New("body cannot be decoded for inspection")

// decodeContent undoes the Content-Encoding codings of raw (applied in
// the order listed, so undone last to first). Every intermediate and the
// result are budgetBuffers capped at the body limit. It returns nil when
// there is nothing to decode (raw is the content).
func (p *Proxy) decodeContent(ctx context.Context, raw []byte, values []string) (*budgetBuffer, error) {
	var codings []string
	for _, v := range values {
		for _, c := range splitTokens(v) {
			if c = strings.ToLower(c); c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	if len(codings) == 0 {
		return nil, nil
	}
	if len(codings) > maxStackedEncodings {
		return nil, fmt.Errorf("%w: more than %d stacked Content-Encodings", errUndecodable, maxStackedEncodings)
	}
	cur := raw
	var prev *budgetBuffer
	for i := len(codings) - 1; i >= 0; i-- {
		out := p.newBudgetBuffer(ctx)
		err := decodeOne(codings[i], cur, out, p.lim.MaxBodyBytes)
		if prev != nil {
			prev.release()
		}
		if err != nil {
			out.release()
			return nil, err
		}
		prev, cur = out, out.bytes()
	}
	return prev, nil
}

func decodeOne(coding string, in []byte, out *budgetBuffer, limit int64) error {
	var r io.Reader
	var closeFn func()
	src := bytes.NewReader(in)
	switch coding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return fmt.Errorf("%w: gzip: %v", errUndecodable, err)
		}
		r = zr
	case "deflate":
		// "deflate" is zlib-wrapped by the RFC, raw in some clients.
		if isZlibHeader(in) {
			zr, err := zlib.NewReader(src)
			if err != nil {
				return fmt.Errorf("%w: deflate: %v", errUndecodable, err)
			}
			r = zr
		} else {
			fr := flate.NewReader(src)
			closeFn = func() { _ = fr.Close() }
			r = fr
		}
	case "br":
		r = brotli.NewReader(src)
	case "zstd":
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(uint64(limit)), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return fmt.Errorf("%w: zstd: %v", errUndecodable, err)
		}
		closeFn = zr.Close
		r = zr
	default:
		return fmt.Errorf("%w: unsupported Content-Encoding %q", errUndecodable, clip(coding))
	}
	if closeFn != nil {
		defer closeFn()
	}
	_, err := io.Copy(out, io.LimitReader(r, limit+1))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errBodyTooLarge), errors.Is(err, errBudgetExhausted), errors.Is(err, context.Canceled):
		return err
	default:
		return fmt.Errorf("%w: %s: %v", errUndecodable, coding, err)
	}
}

func isZlibHeader(b []byte) bool {
	return len(b) >= 2 && b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}
