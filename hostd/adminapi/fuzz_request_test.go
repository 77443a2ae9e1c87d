package adminapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/adminapi/auth"
)

// FuzzServeHTTP feeds whole raw HTTP requests (as the server would parse
// them) through the handler with fakes behind it: no input may panic, and
// every /v1 answer outside 2xx must be exactly the error envelope.
func FuzzServeHTTP(f *testing.F) {
	bearer := "Authorization: Bearer " + testPassword + "\r\n"
	for _, s := range []string{
		"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:7443\r\n" + bearer + "\r\n",
		"POST /v1/tasks HTTP/1.1\r\nHost: localhost\r\n" + bearer + "Idempotency-Key: a\r\nContent-Length: 63\r\n\r\n" +
			`{"agent_runtime":"codex","thread_id":"t","input_message":"hi"}`,
		"PUT /v1/network/policy HTTP/1.1\r\nHost: [::1]:1\r\n" + bearer + "Idempotency-Key: b\r\nContent-Length: 30\r\n\r\n" +
			`{"allowed_network_access":{}}` + "\n",
		"GET /v1/events/stream?since=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n" + bearer + "\r\n",
		"GET /v1/tasks?last_seen_task_id=x&limit=7 HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: trustyclaw_session=abc\r\n\r\n",
		"DELETE /v1/session HTTP/1.1\r\nHost: evil.com\r\n\r\n",
		"POST /v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nIdempotency-Key: c\r\nContent-Length: 15\r\n\r\n{\"password\":1}",
		"GET /v1/threads/%2e%2e/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n" + bearer + "\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
		"POST /v1/host-runtime/reboot HTTP/1.1\r\nHost: 127.0.0.1\r\n" + bearer + "Idempotency-Key: r\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	clock := newFakeClock()
	authn, err := auth.New(auth.Config{PasswordHash: cheapHash(), Now: clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel() // live streams send their backlog and end at once
	h := New(Config{
		Tasks: newFakeTasks(clock), Runtimes: newFakeSupervisor(), Network: newFakeNetwork(clock),
		Idempotency: newMemIdempotency(), Sessions: newMemSessions(), Auth: authn, Rebooter: LocalRebooter{},
		Log: zerolog.Nop(), Now: clock.Now, Context: done,
	})
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		req.RemoteAddr = "127.0.0.1:40000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 100 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Code >= 300 {
			var env map[string]map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || len(env) != 1 || env["error"]["message"] == "" {
				t.Fatalf("%d answer is not the error envelope: %q", rec.Code, rec.Body.String())
			}
		}
		for k := range rec.Header() {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Fatalf("CORS header %s", k)
			}
		}
	})
}
