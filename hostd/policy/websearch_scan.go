package policy

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// A purpose-built JSON scanner for the web-search guard. encoding/json's
// Token API walks ~15 MB/s; model requests are megabytes and every one on
// a guarded host is inspected, so this scanner validates the JSON grammar
// (as strictly as encoding/json: RFC 8259 literals, numbers, strings and
// escapes) in one pass, iteratively with a bounded stack, and only
// decodes the few strings the rule needs: object keys, and the values of
// "type" keys. It is fuzzed against the Token-based walker.

var errUnexpectedEnd = errors.New("unexpected end of input")

type keyKind uint8

const (
	keyOther keyKind = iota
	keyType
	keyEWA // external_web_access
)

// scanFrame is one open object or array.
type scanFrame struct {
	object bool
	key    keyKind
	// types holds the lower-cased "type" values starting with
	// "web_search"; other types cannot matter.
	types    []string
	ewaSeen  bool
	ewaFalse bool // every external_web_access copy so far is literal false
}

type scanner struct {
	b       []byte
	i       int
	stack   []scanFrame
	scratch []byte
}

// walkForWebSearch scans every top-level value of body and returns a
// denial reason, "" when clean, or an error when body is not valid JSON.
func walkForWebSearch(body []byte) (string, error) {
	s := &scanner{b: body}
	saw := false
	for {
		s.skipWS()
		if s.i >= len(s.b) {
			if !saw {
				return "", errUnexpectedEnd
			}
			return "", nil
		}
		saw = true
		if reason, err := s.value(); reason != "" || err != nil {
			return reason, err
		}
	}
}

func (s *scanner) skipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) syntaxErr(what string) error {
	if s.i >= len(s.b) {
		return errUnexpectedEnd
	}
	return fmt.Errorf("invalid character %q %s at offset %d", s.b[s.i], what, s.i)
}

// parent is the innermost open object, or nil.
func (s *scanner) parent() *scanFrame {
	if n := len(s.stack); n > 0 && s.stack[n-1].object {
		return &s.stack[n-1]
	}
	return nil
}

// recordNonFalse notes a value other than literal false under the current
// key.
func (s *scanner) recordNonFalse() {
	if p := s.parent(); p != nil && p.key == keyEWA {
		p.ewaSeen, p.ewaFalse = true, false
	}
}

// value parses one complete top-level value.
func (s *scanner) value() (string, error) {
	s.stack = s.stack[:0]
	expectValue := true
	for {
		s.skipWS()
		if s.i >= len(s.b) {
			return "", errUnexpectedEnd
		}
		c := s.b[s.i]
		if expectValue {
			switch {
			case c == '{' || c == '[':
				if len(s.stack) >= maxJSONDepth {
					return fmt.Sprintf("JSON nested deeper than %d levels", maxJSONDepth), nil
				}
				s.recordNonFalse()
				s.i++
				s.stack = append(s.stack, scanFrame{object: c == '{', ewaFalse: true})
				s.skipWS()
				if s.i < len(s.b) && s.b[s.i] == c+2 { // '{'+2 == '}', '['+2 == ']'
					if reason := s.close(); reason != "" {
						return reason, nil
					}
					if len(s.stack) == 0 {
						return "", nil
					}
					expectValue = false
					continue
				}
				if c == '{' {
					if err := s.key(); err != nil {
						return "", err
					}
				}
				continue
			case c == '"':
				p := s.parent()
				want := p != nil && p.key == keyType
				str, err := s.str(want)
				if err != nil {
					return "", err
				}
				if want {
					if t := toLowerASCII(str); strings.HasPrefix(t, "web_search") {
						p.types = append(p.types, t)
					}
				}
				s.recordNonFalse()
			case c == 't':
				if err := s.literal("true"); err != nil {
					return "", err
				}
				s.recordNonFalse()
			case c == 'n':
				if err := s.literal("null"); err != nil {
					return "", err
				}
				s.recordNonFalse()
			case c == 'f':
				if err := s.literal("false"); err != nil {
					return "", err
				}
				if p := s.parent(); p != nil && p.key == keyEWA {
					p.ewaSeen = true
				}
			case c == '-' || (c >= '0' && c <= '9'):
				if err := s.number(); err != nil {
					return "", err
				}
				s.recordNonFalse()
			default:
				return "", s.syntaxErr("looking for beginning of value")
			}
			expectValue = false
			if len(s.stack) == 0 {
				return "", nil
			}
			continue
		}
		// After a value inside a container.
		top := &s.stack[len(s.stack)-1]
		switch {
		case c == ',':
			s.i++
			if top.object {
				s.skipWS()
				if err := s.key(); err != nil {
					return "", err
				}
			}
			expectValue = true
		case (top.object && c == '}') || (!top.object && c == ']'):
			if reason := s.close(); reason != "" {
				return reason, nil
			}
			if len(s.stack) == 0 {
				return "", nil
			}
		default:
			return "", s.syntaxErr("after value")
		}
	}
}

// close consumes the closing byte, applies the rule to a closing object
// and pops it.
func (s *scanner) close() string {
	s.i++
	f := &s.stack[len(s.stack)-1]
	var reason string
	if f.object {
		reason = webSearchVerdict(f.types, f.ewaSeen, f.ewaFalse)
	}
	s.stack = s.stack[:len(s.stack)-1]
	return reason
}

// key parses `"name" :` and sets the current key's kind.
func (s *scanner) key() error {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return s.syntaxErr("looking for beginning of object key string")
	}
	k, err := s.str(true)
	if err != nil {
		return err
	}
	kind := keyOther
	switch {
	case len(k) == 4 && equalFoldASCII([]byte(k), "type"):
		kind = keyType
	case len(k) == 19 && equalFoldASCII([]byte(k), "external_web_access"):
		kind = keyEWA
	}
	s.stack[len(s.stack)-1].key = kind
	s.skipWS()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return s.syntaxErr("after object key")
	}
	s.i++
	return nil
}

// str parses a string at s.i (an opening quote). With decode it returns
// the decoded value (without copying when there are no escapes).
func (s *scanner) str(decode bool) (string, error) {
	s.i++ // opening quote
	start := s.i
	escaped := false
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if !decode {
				return "", nil
			}
			if !escaped {
				return string(raw), nil
			}
			return unescapeJSON(raw, &s.scratch), nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return "", errUnexpectedEnd
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return "", errUnexpectedEnd
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return "", fmt.Errorf("invalid \\u escape at offset %d", s.i)
					}
				}
				s.i += 6
			default:
				return "", fmt.Errorf("invalid escape at offset %d", s.i)
			}
		case c < 0x20:
			return "", fmt.Errorf("control character in string at offset %d", s.i)
		default:
			s.i++
		}
	}
	return "", errUnexpectedEnd
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	}
	return rune(c - 'A' + 10)
}

// unescapeJSON decodes a validated string body. Lone surrogates become
// U+FFFD, as encoding/json does.
func unescapeJSON(raw []byte, scratch *[]byte) string {
	out := (*scratch)[:0]
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hexVal(raw[i+2])<<12 | hexVal(raw[i+3])<<8 | hexVal(raw[i+4])<<4 | hexVal(raw[i+5])
			i += 6
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				lo := hexVal(raw[i+2])<<12 | hexVal(raw[i+3])<<8 | hexVal(raw[i+4])<<4 | hexVal(raw[i+5])
				if lo >= 0xDC00 && lo < 0xE000 {
					r = (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000
					i += 6
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, raw[i+1])
		}
		i += 2
	}
	*scratch = out
	return string(out)
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) {
		if string(s.b[s.i:]) == lit[:len(s.b)-s.i] {
			return errUnexpectedEnd
		}
		return s.syntaxErr("in literal")
	}
	if string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.syntaxErr("in literal")
	}
	s.i += len(lit)
	return nil
}

// number validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i >= len(s.b):
		return errUnexpectedEnd
	case s.b[s.i] == '0':
		s.i++
	case s.b[s.i] >= '1' && s.b[s.i] <= '9':
		digits()
	default:
		return s.syntaxErr("in numeric literal")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return s.syntaxErr("after decimal point in numeric literal")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return s.syntaxErr("in exponent of numeric literal")
		}
	}
	return nil
}

// webSearchVerdict applies the rule to one closed object.
func webSearchVerdict(types []string, ewaSeen, ewaFalse bool) string {
	for _, t := range types {
		switch {
		case !strings.HasPrefix(t, "web_search"):
		case t == "web_search_call":
		case t == "web_search_preview" || strings.HasPrefix(t, "web_search_preview_"):
			return fmt.Sprintf("tool of type %q (live web search) is not allowed", t)
		case !ewaSeen || !ewaFalse:
			return fmt.Sprintf("tool of type %q needs \"external_web_access\": false", t)
		}
	}
	return ""
}
