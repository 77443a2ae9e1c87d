package policy

// The original encoding/json Token-based walker, kept as the oracle the
// fast scanner in websearch_scan.go is fuzzed against.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// objFrame collects what the web-search rule needs from one object.
type refFrame struct {
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
func walkForWebSearchReference(body []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*refFrame
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
		var top *refFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.isObject && top.expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if reason := top.verdict(); reason != "" {
					return reason, nil
				}
				refValueDone(stack)
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
				stack = append(stack, &refFrame{isObject: t == '{', expectKey: true, ewaFalse: true})
			case ']':
				stack = stack[:len(stack)-1]
				refValueDone(stack)
			}
		default:
			if top != nil && top.isObject {
				top.record(tok)
			}
			refValueDone(stack)
		}
	}
}

// valueDone marks the innermost object as waiting for its next key.
func refValueDone(stack []*refFrame) {
	if n := len(stack); n > 0 && stack[n-1].isObject {
		stack[n-1].expectKey = true
	}
}

func (f *refFrame) record(tok json.Token) {
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
func (f *refFrame) verdict() string { return webSearchVerdict(f.types, f.ewaSeen, f.ewaFalse) }
