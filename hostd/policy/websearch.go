package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxJSONDepth bounds the walk's stack; deeper documents are denied
// (encoding/json refuses them too).
const maxJSONDepth = 10000

// CheckWebSearch applies the live-web-search guard to a decoded JSON body
// or WebSocket message.
//
// Every JSON object anywhere in the document (tools arrays, nested tool
// lists, several concatenated values) is examined. Type values are
// compared after ASCII lower-casing, and every copy of a duplicated key
// counts, so a parser that keeps the first copy and one that keeps the
// last both see a permitted document:
//   - type "web_search_preview" (or "web_search_preview_<version>") → deny;
//   - any other type starting with "web_search" (e.g. "web_search",
//     "web_search_2025_08_26") except the history item "web_search_call"
//     → deny unless external_web_access is present and every copy is the
//     literal false;
//   - a body that is not valid JSON and mentions web_search (or holds a
//     \u escape that could spell it) → deny.
//
// Decompression is the caller's job; body must already be decoded.
func CheckWebSearch(body []byte) (ok bool, reason string) {
	if !mayMentionWebSearch(body) {
		return true, ""
	}
	reason, err := walkForWebSearch(body)
	if err != nil {
		return false, "body is not valid JSON and mentions web_search: " + err.Error()
	}
	if reason != "" {
		return false, reason
	}
	return true, ""
}

// mayMentionWebSearch is a cheap, sound pre-filter: a decoded JSON string
// can spell "web_search" (ASCII case-insensitively) only if the raw bytes
// do, or a \u escape stands for one of its letters.
func mayMentionWebSearch(body []byte) bool {
	const needle = "web_search"
	for i := 0; i+len(needle) <= len(body); i++ {
		if lowerASCII(body[i]) == 'w' && equalFoldASCII(body[i:i+len(needle)], needle) {
			return true
		}
	}
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(`\u`))
		if j < 0 {
			return false
		}
		i += j + 2
		if i+4 > len(body) {
			return true // truncated escape: let the parser judge
		}
		var r rune
		for _, c := range body[i : i+4] {
			r <<= 4
			switch {
			case c >= '0' && c <= '9':
				r |= rune(c - '0')
			case lowerASCII(c) >= 'a' && lowerASCII(c) <= 'f':
				r |= rune(lowerASCII(c) - 'a' + 10)
			default:
				return true // malformed escape: let the parser judge
			}
		}
		if r < 0x80 && strings.IndexByte("web_searchWEBSARCH", byte(r)) >= 0 {
			return true
		}
	}
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range b {
		if lowerASCII(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func toLowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// objFrame collects what the web-search rule needs from one object.
type objFrame struct {
	isObject  bool
	expectKey bool
	key       string // lower-cased current key
	types     []string
	ewaSeen   bool
	ewaFalse  bool // every external_web_access copy so far is literal false
}

// walkForWebSearch walks every value of the document iteratively (no
// recursion, bounded depth) and returns a denial reason, "" when clean, or
// an error when the body is not valid JSON.
func walkForWebSearch(body []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*objFrame
	sawValue := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) != 0 || !sawValue {
				return "", errors.New("unexpected end of input")
			}
			return "", nil
		}
		if err != nil {
			return "", err
		}
		sawValue = true
		var top *objFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.isObject && top.expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if reason := top.verdict(); reason != "" {
					return reason, nil
				}
				valueDone(stack)
				continue
			}
			k, _ := tok.(string)
			top.key = toLowerASCII(k)
			top.expectKey = false
			continue
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return fmt.Sprintf("JSON nested deeper than %d levels", maxJSONDepth), nil
				}
				stack = append(stack, &objFrame{isObject: t == '{', expectKey: true, ewaFalse: true})
			case ']':
				stack = stack[:len(stack)-1]
				valueDone(stack)
			}
		default:
			if top != nil && top.isObject {
				top.record(tok)
			}
			valueDone(stack)
		}
	}
}

// valueDone marks the innermost object as waiting for its next key.
func valueDone(stack []*objFrame) {
	if n := len(stack); n > 0 && stack[n-1].isObject {
		stack[n-1].expectKey = true
	}
}

func (f *objFrame) record(tok json.Token) {
	switch f.key {
	case "type":
		if s, ok := tok.(string); ok {
			f.types = append(f.types, toLowerASCII(s))
		}
	case "external_web_access":
		f.ewaSeen = true
		if b, ok := tok.(bool); !ok || b {
			f.ewaFalse = false
		}
	}
}

// verdict applies the rule to a closed object.
func (f *objFrame) verdict() string {
	for _, t := range f.types {
		switch {
		case !strings.HasPrefix(t, "web_search"):
		case t == "web_search_call":
		case t == "web_search_preview" || strings.HasPrefix(t, "web_search_preview_"):
			return fmt.Sprintf("tool of type %q (live web search) is not allowed", t)
		case !f.ewaSeen || !f.ewaFalse:
			return fmt.Sprintf("tool of type %q needs \"external_web_access\": false", t)
		}
	}
	return ""
}
