package policy

import (
	"bytes"
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
