package adminapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for everything the API parses from a request. The seeds run
// in every `go test`; `go test -fuzz FuzzX` explores further.

func isBadRequest(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == http.StatusBadRequest
}

func FuzzDecodeCreateTask(f *testing.F) {
	for _, s := range []string{
		`{"agent_runtime":"codex","thread_id":"t","input_message":"x"}`,
		`{"agent_runtime":"claude_code","thread_id":"a.b:c-d_e","input_message":"héllo"}`,
		`{"agent_runtime":"codex","agent_runtime":"codex"}`, `{"AGENT_RUNTIME":"codex"}`,
		`{"agent_runtime":"codex","thread_id":"t","input_message":"x"}]`, `[`, `{`, `{"a":`, `""`, `null`,
		`{"agent_runtime":"codex","thread_id":"t","input_message":"\ud800"}`, "\xff", `{"x":[1,{"y":2}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeCreateTask(body)
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("error is not a 400: %v", err)
			}
			return
		}
		if !validKey(req.threadID) || (req.runtime != "codex" && req.runtime != "claude_code") {
			t.Fatalf("accepted invalid request %+v", req)
		}
		if n := utf8.RuneCountInString(req.input); n < 1 || n > 50000 {
			t.Fatalf("accepted input of %d characters", n)
		}
	})
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{`{"steer_message":"go"}`, `{"steer_message":""}`, `{"steer_message":1}`, `{} x`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, err := decodeMessage(body, "steer_message")
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("error is not a 400: %v", err)
			}
			return
		}
		if msg == "" {
			t.Fatal("accepted an empty message")
		}
	})
}

func FuzzDecodeLoginCode(f *testing.F) {
	for _, s := range []string{`{"code":"abc#def"}`, `{"code":"a\nb"}`, `{"code":"\u2028"}`, `{"code":" "}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, err := decodeLoginCode(body)
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("error is not a 400: %v", err)
			}
			return
		}
		if code == "" || strings.ContainsAny(code, "\r\n\x00") {
			t.Fatalf("accepted code %q", code)
		}
	})
}

func FuzzDecodeCheck(f *testing.F) {
	for _, s := range []string{
		`{"method":"GET","url":"https://api.github.com/repos/a/b?x=1"}`, `{"method":"GET","url":"http://[::1]:80/"}`,
		`{"method":"CONNECT","url":"wss://a.com:443"}`, `{"method":"GET","url":"https://a.com/%zz"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeCheck(body)
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("error is not a 400: %v", err)
			}
			return
		}
		if req.Port < 1 || req.Port > 65535 || req.Method == "" {
			t.Fatalf("accepted %+v", req)
		}
	})
}

func FuzzCheckJSONDocument(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":{"a":1}}`, `{"a":1,"a":2}`, `{"x":{"y":[{"z":1,"z":2}]}}`, `[{"a":1},{"a":1}]`,
		`{"allowed_network_access":{"a.com":{"allow_http_methods":[]}}}`, `{"a":"b"} {}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := checkJSONDocument(body); err != nil && !isBadRequest(err) {
			t.Fatalf("error is not a 400: %v", err)
		}
	})
}

func FuzzIdempotencyKeyHeader(f *testing.F) {
	for _, s := range []string{"abc", "", "a b", strings.Repeat("k", 128), strings.Repeat("k", 129), "ü", "a:b.c_d-e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		key, err := idempotencyKey(http.Header{"Idempotency-Key": {v}})
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("error is not a 400: %v", err)
			}
			return
		}
		if key != v || len(key) < 1 || len(key) > 128 || strings.ContainsAny(key, " /?#\x00\n") {
			t.Fatalf("accepted key %q", key)
		}
	})
}

func FuzzHostHeader(f *testing.F) {
	for _, s := range []string{"127.0.0.1:7443", "localhost", "[::1]:1", "evil.com", "[::1", "localhost:99999", "127.0.0.1:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if !loopbackHost(h) {
			return
		}
		name := strings.ToLower(h)
		if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.HasSuffix(name, "]") {
			name = name[:i]
		}
		if name != "127.0.0.1" && name != "localhost" && name != "[::1]" {
			t.Fatalf("accepted Host %q (name %q)", h, name)
		}
	})
}

func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{"Bearer pw", "bearer  pw", "Basic x", "Bearer", "Bearer ", "Bearerpw", "BEARER a b c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		pw, ok := parseBearer(v)
		if !ok {
			return
		}
		if pw == "" || !strings.HasSuffix(v, pw) || !strings.EqualFold(v[:6], "Bearer") {
			t.Fatalf("parseBearer(%q) = %q", v, pw)
		}
	})
}

func FuzzCookieHeader(f *testing.F) {
	for _, s := range []string{
		SessionCookieName + "=abc", SessionCookieName + "=" + strings.Repeat("A", 43) + "; other=1",
		"a=b; " + SessionCookieName + "=x; " + SessionCookieName + "=y", `trustyclaw_session="quoted"`, ";;;=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := &http.Request{Header: http.Header{"Cookie": {v}}}
		toks := sessionTokens(r)
		if len(toks) > maxSessionCookies {
			t.Fatalf("%d tokens", len(toks))
		}
	})
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{"since=1&limit=5", "since=-1", "limit=101", "a=1;b=2", "since=%zz", "since=1&since=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := checkQuery(raw, []string{"since", "limit"}); err != nil {
			if !isBadRequest(err) {
				t.Fatalf("error is not a 400: %v", err)
			}
		}
	})
}
