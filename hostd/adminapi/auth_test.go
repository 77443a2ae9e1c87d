package adminapi

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBearerAuth(t *testing.T) {
	h := newHarness(t)
	mustStatus(t, h.do("GET", "/v1/health", ""), http.StatusOK)
	mustStatus(t, h.do("GET", "/v1/health", "", withHeader("Authorization", "")), http.StatusUnauthorized)
	cases := map[string]reqMod{
		"missing":        withoutAuth(),
		"wrong":          withBearer("wrong"),
		"prefix":         withBearer(testPassword[:10]),
		"extra":          withBearer(testPassword + "x"),
		"basic scheme":   func(r *http.Request) { r.Header.Set("Authorization", "Basic "+testPassword) },
		"no scheme":      func(r *http.Request) { r.Header.Set("Authorization", testPassword) },
		"two headers":    withHeader("Authorization", "Bearer "+testPassword),
		"empty password": func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") },
	}
	for name, mod := range cases {
		r := h.do("GET", "/v1/tasks", "", mod)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, r.status)
			continue
		}
		r.errMsg(t)
	}
	// Case-insensitive scheme is fine.
	r := h.do("GET", "/v1/health", "", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+testPassword) })
	mustStatus(t, r, http.StatusOK)
}

func TestEveryV1RouteNeedsCredentials(t *testing.T) {
	h := newHarness(t)
	for _, rt := range h.routes() {
		for m := range rt.methods {
			if rt.pattern == "/v1/session" && m == "POST" {
				continue
			}
			path := strings.NewReplacer("{id}", "task_0001", "{thread_id}", "t1").Replace(rt.pattern)
			r := h.do(m, path, "{}", withoutAuth())
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s %s without credentials: %d, want 401", m, path, r.status)
			}
		}
	}
	// Unknown routes also hide behind auth.
	mustStatus(t, h.do("GET", "/v1/secret-route", "", withoutAuth()), http.StatusUnauthorized)
	if h.tasks.called("Create")+h.tasks.called("Kill")+h.tasks.called("Cancel") != 0 {
		t.Fatal("a service method ran for an unauthenticated request")
	}
}

// routes exposes the table to tests.
func (h *harness) routes() []*route {
	return (&api{}).routeTable()
}

func login(t *testing.T, h *harness) *http.Cookie {
	t.Helper()
	r := h.do("POST", "/v1/session", `{"password":"`+testPassword+`"}`, withoutAuth())
	mustStatus(t, r, http.StatusOK)
	res := http.Response{Header: r.header}
	for _, c := range res.Cookies() {
		if c.Name == SessionCookieName {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", r.header)
	return nil
}

func TestSessionLoginSetsStrictHttpOnlyCookie(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/v1/session", `{"password":"`+testPassword+`"}`, withoutAuth())
	mustStatus(t, r, http.StatusOK)
	sc := r.header.Get("Set-Cookie")
	for _, want := range []string{SessionCookieName + "=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"} {
		if !strings.Contains(sc, want) {
			t.Fatalf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(string(r.body), testPassword) {
		t.Fatal("login response echoes the password")
	}
	// Only the token's hash is stored.
	c := login(t, h)
	for _, stored := range h.sess.hashes() {
		if strings.Contains(stored, c.Value) {
			t.Fatal("the session store holds the token itself")
		}
	}
	if strings.Contains(h.logs.String(), testPassword) || strings.Contains(h.logs.String(), c.Value) {
		t.Fatal("a log line carries the password or the session token")
	}
}

func TestSessionCookieReplacesBearerAndLogoutEndsIt(t *testing.T) {
	h := newHarness(t)
	c := login(t, h)
	mustStatus(t, h.do("GET", "/v1/tasks", "", withCookie(c)), http.StatusOK)
	id := h.createTask("codex", "t1", "hi")
	mustStatus(t, h.do("POST", "/v1/tasks/"+id+"/cancel", "", withCookie(c)), http.StatusOK)

	r := h.do("DELETE", "/v1/session", "", withCookie(c))
	mustStatus(t, r, http.StatusOK)
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("logout does not clear the cookie: %q", sc)
	}
	r = h.do("GET", "/v1/tasks", "", withCookie(c))
	mustStatus(t, r, http.StatusUnauthorized)
	r.errMsg(t)
}

func TestSessionExpiresAfter12Hours(t *testing.T) {
	h := newHarness(t)
	c := login(t, h)
	h.clock.Advance(12*time.Hour - time.Second)
	mustStatus(t, h.do("GET", "/v1/health", "", withCookie(c)), http.StatusOK)
	h.clock.Advance(time.Second)
	r := h.do("GET", "/v1/health", "", withCookie(c))
	mustStatus(t, r, http.StatusUnauthorized)
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("expired cookie is not cleared: %q", sc)
	}
}

func TestForgedAndMalformedCookiesAreRefused(t *testing.T) {
	h := newHarness(t)
	login(t, h)
	for _, v := range []string{"x", strings.Repeat("A", 43), strings.Repeat("A", 500), "../../etc"} {
		r := h.do("GET", "/v1/health", "", withCookie(&http.Cookie{Name: SessionCookieName, Value: v}))
		mustStatus(t, r, http.StatusUnauthorized)
	}
}

func TestWrongBearerWithValidCookieIsRefused(t *testing.T) {
	h := newHarness(t)
	c := login(t, h)
	r := h.do("GET", "/v1/health", "", withCookie(c), withBearer("wrong"))
	mustStatus(t, r, http.StatusUnauthorized)
}

// Another port of localhost is the same site, so SameSite=Strict alone
// lets its pages send the cookie; the browser's Sec-Fetch-Site / Origin
// give it away.
func TestCookieFromAnotherOriginIsRefused(t *testing.T) {
	h := newHarness(t)
	c := login(t, h)
	r := h.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"t","input_message":"x"}`,
		withCookie(c), withHeader("Sec-Fetch-Site", "same-site"))
	mustStatus(t, r, http.StatusForbidden)
	r = h.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"t","input_message":"x"}`,
		withCookie(c), withHeader("Origin", "http://localhost:3000"))
	mustStatus(t, r, http.StatusForbidden)
	if h.tasks.called("Create") != 0 {
		t.Fatal("a cross-origin request created a task")
	}
	// The page's own origin is fine.
	r = h.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"t","input_message":"x"}`,
		withCookie(c), withHeader("Origin", h.srv.URL), withHeader("Sec-Fetch-Site", "same-origin"))
	mustStatus(t, r, http.StatusOK)
}

func TestLoginBackoffAfterFiveFailures(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 5; i++ {
		mustStatus(t, h.do("GET", "/v1/health", "", withBearer("guess")), http.StatusUnauthorized)
	}
	// Throttled now: even the right password gets 429 with Retry-After.
	r := h.do("GET", "/v1/health", "")
	mustStatus(t, r, http.StatusTooManyRequests)
	r.errMsg(t)
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra != 1 {
		t.Fatalf("Retry-After = %q, want 1", r.header.Get("Retry-After"))
	}
	// Session login is the same door.
	mustStatus(t, h.do("POST", "/v1/session", `{"password":"`+testPassword+`"}`, withoutAuth()), http.StatusTooManyRequests)

	h.clock.Advance(time.Second)
	mustStatus(t, h.do("GET", "/v1/health", "", withBearer("guess")), http.StatusUnauthorized)
	r = h.do("GET", "/v1/health", "")
	mustStatus(t, r, http.StatusTooManyRequests)
	if ra := r.header.Get("Retry-After"); ra != "2" {
		t.Fatalf("second window Retry-After = %q, want 2 (exponential)", ra)
	}
	h.clock.Advance(2 * time.Second)
	mustStatus(t, h.do("GET", "/v1/health", ""), http.StatusOK)
	// A success resets the count.
	for i := 0; i < 4; i++ {
		mustStatus(t, h.do("GET", "/v1/health", "", withBearer("guess")), http.StatusUnauthorized)
	}
	mustStatus(t, h.do("GET", "/v1/health", ""), http.StatusOK)
}

func TestSessionLoginRules(t *testing.T) {
	h := newHarness(t)
	mustStatus(t, h.do("POST", "/v1/session", `{"password":"nope"}`, withoutAuth()), http.StatusUnauthorized)
	mustStatus(t, h.do("POST", "/v1/session", `{"password":""}`, withoutAuth()), http.StatusBadRequest)
	mustStatus(t, h.do("POST", "/v1/session", `{"password":"x","remember":true}`, withoutAuth()), http.StatusBadRequest)
	mustStatus(t, h.do("POST", "/v1/session", `{"password":"`+testPassword+`"}`, withoutAuth(), withoutKey()), http.StatusBadRequest)
	// The session routes validate the key but never replay: a second
	// login with the same key gets a fresh session.
	a := h.do("POST", "/v1/session", `{"password":"`+testPassword+`"}`, withoutAuth(), withKey("same"))
	b := h.do("POST", "/v1/session", `{"password":"`+testPassword+`"}`, withoutAuth(), withKey("same"))
	mustStatus(t, a, http.StatusOK)
	mustStatus(t, b, http.StatusOK)
	if a.header.Get("Set-Cookie") == b.header.Get("Set-Cookie") || b.header.Get("Set-Cookie") == "" {
		t.Fatal("a second login with the same key did not get its own session")
	}
	mustStatus(t, h.do("GET", "/v1/session", ""), http.StatusMethodNotAllowed)
	// Logout needs credentials.
	mustStatus(t, h.do("DELETE", "/v1/session", "", withoutAuth()), http.StatusUnauthorized)
}

func TestPasswordNeverLogged(t *testing.T) {
	h := newHarness(t)
	h.do("GET", "/v1/health", "")
	h.do("GET", "/v1/health", "", withBearer(testPassword+"-wrong"))
	h.do("POST", "/v1/session", `{"password":"`+testPassword+`"}`, withoutAuth())
	logs := h.logs.String()
	if strings.Contains(logs, testPassword) {
		t.Fatal("the password appears in the log")
	}
	if !strings.Contains(logs, `"path":"/v1/health"`) || !strings.Contains(logs, `"status":200`) {
		t.Fatalf("no access log line: %s", logs)
	}
}
