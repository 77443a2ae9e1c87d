package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// readBody reads the whole request body (at most MaxBodyBytes, under a read
// deadline so a slow client cannot hold the handler).
func readBody(r *http.Request) ([]byte, error) {
	// ServeHTTP armed a read deadline for the body. After a complete read
	// it is cleared at once, because a read deadline that expires later
	// would cancel the request context of a handler that is still working.
	// After a failed read it stays: the server then gives up discarding the
	// rest of the body at once (instead of waiting for a client that
	// stalls), sends the 400 and closes the connection.
	data, err := io.ReadAll(r.Body)
	if ri := infoOf(r); err == nil && ri.rc != nil {
		_ = ri.rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errBodyTooLarge
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, badRequest("the request body did not arrive in time")
		}
		return nil, badRequest("could not read the request body: %v", err)
	}
	return data, nil
}

// emptyBody accepts an absent body or an empty JSON object, for routes that
// take no input (cancel, kill, reboot, logins).
func emptyBody(r *http.Request) ([]byte, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return data, nil
	}
	_, err = decodeFields(data, nil, nil)
	return data, err
}

// decodeFields decodes a body that must be one JSON object whose members
// are all strings, strictly:
//   - valid UTF-8, one object, nothing after it;
//   - member names are matched exactly (no case folding), each at most once;
//   - a name outside required+optional is an unknown field;
//   - every value is a JSON string (null included is a type error);
//   - every required name is present.
//
// Errors are 400s that name the field.
func decodeFields(data []byte, required, optional []string) (map[string]string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		if len(required) == 0 {
			return map[string]string{}, nil
		}
		return nil, badRequest("the request body is empty; send a JSON object with %s", quoteList(required))
	}
	if !utf8.Valid(data) {
		return nil, badRequest("the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, badRequest("the request body must be a JSON object")
	}
	out := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		name, _ := tok.(string) // object keys are always strings
		if !slices.Contains(required, name) && !slices.Contains(optional, name) {
			return nil, badRequest("unknown field %q", name)
		}
		if _, dup := out[name]; dup {
			return nil, badRequest("field %q is given more than once", name)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		s, ok := tok.(string)
		if !ok {
			return nil, badRequest("field %q must be a string, not %s", name, jsonKind(tok))
		}
		out[name] = s
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("unexpected data after the JSON object")
	}
	for _, name := range required {
		if _, ok := out[name]; !ok {
			return nil, badRequest("missing field %q", name)
		}
	}
	return out, nil
}

func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return badRequest("malformed JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("malformed JSON: the body ends too early")
	}
	return badRequest("malformed JSON: %v", err)
}

func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	}
	return "another type"
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// checkJSONDocument validates a body passed on as raw JSON (the network
// policy): valid UTF-8, well-formed, one value, and no object that names a
// member twice (encoding/json would silently keep the last one).
func checkJSONDocument(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("the request body is empty; send a JSON object")
	}
	if !utf8.Valid(data) {
		return badRequest("the request body is not valid UTF-8")
	}
	if !json.Valid(data) {
		var v any
		return syntaxError(json.Unmarshal(data, &v))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object  bool
		keys    map[string]bool
		wantKey bool
		path    string
		lastKey string
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return syntaxError(err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, isStr := tok.(string); isStr && top != nil && top.object && top.wantKey {
			if top.keys[s] {
				return badRequest("%s names %q more than once", describePath(top.path), s)
			}
			top.keys[s] = true
			top.wantKey, top.lastKey = false, s
			continue
		}
		if d, isDelim := tok.(json.Delim); isDelim {
			switch d {
			case '{', '[':
				path := ""
				if top != nil {
					path = childPath(top.path, top.object, top.lastKey)
				}
				stack = append(stack, &frame{object: d == '{', keys: map[string]bool{}, wantKey: d == '{', path: path})
				continue
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		}
		// A value ended: the enclosing object expects a key next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
}

func childPath(parent string, object bool, key string) string {
	if !object {
		return parent + "[]"
	}
	if parent == "" {
		return key
	}
	return parent + "[" + strconv.Quote(key) + "]"
}

func describePath(p string) string {
	if p == "" {
		return "the top-level object"
	}
	return p
}

// checkQuery accepts only the listed parameters, each at most once.
func checkQuery(raw string, allowed []string) error {
	if raw == "" {
		return nil
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return badRequest("malformed query string: %v", err)
	}
	for name, v := range vals {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return badRequest("unknown query parameter %q: this route takes no query parameters", name)
			}
			return badRequest("unknown query parameter %q; accepted: %s", name, strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return badRequest("query parameter %q is given more than once", name)
		}
	}
	return nil
}

// parseSince reads ?since=<seq>: a non-negative decimal integer; absent
// means 0 (from the oldest retained event).
func parseSince(q url.Values) (int64, error) {
	if !q.Has("since") {
		return 0, nil
	}
	return parseSeq("since", q.Get("since"))
}

func parseSeq(name, s string) (int64, error) {
	if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, badRequest("%s must be a non-negative integer sequence number", name)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, badRequest("%s must be a non-negative integer sequence number", name)
	}
	return n, nil
}

// parseLimit reads ?limit=1..100; absent means DefaultPageSize.
func parseLimit(q url.Values) (int, error) {
	if !q.Has("limit") {
		return DefaultPageSize, nil
	}
	s := q.Get("limit")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxPageSize || strings.TrimLeft(s, "0123456789") != "" {
		return 0, badRequest("limit must be an integer from 1 to %d", MaxPageSize)
	}
	return n, nil
}

// timeFormat renders every timestamp: RFC 3339, UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// chars counts characters (Unicode code points), as the limits do.
func chars(s string) int { return utf8.RuneCountInString(s) }
