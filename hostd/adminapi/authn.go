package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/adminapi/auth"
)

// principal says how a request authenticated.
type principal int

const (
	anonymous principal = iota
	byBearer
	bySession
)

func (p principal) String() string {
	switch p {
	case byBearer:
		return "bearer"
	case bySession:
		return "session"
	}
	return "none"
}

// maxSessionCookies bounds how many session cookies of one request are
// looked up (a browser may hold a stale one next to a fresh one).
const maxSessionCookies = 4

// authenticate checks a request's credentials:
//  1. an Authorization header, if present, decides alone: exactly one,
//     "Bearer <password>", checked by the Authenticator (which applies the
//     per-source back-off → 429 with Retry-After);
//  2. otherwise a session cookie: well-formed, hashed, and valid in the
//     session store now; a page of another origin (Sec-Fetch-Site
//     cross-site/same-site, or a foreign Origin) may not use it → 403;
//  3. nothing presented → 401.
//
// Invalid or expired session cookies are cleared in the 401 answer.
func (a *api) authenticate(w http.ResponseWriter, r *http.Request) (principal, error) {
	if vals := r.Header.Values("Authorization"); len(vals) > 0 {
		if len(vals) > 1 {
			return anonymous, errorf(http.StatusUnauthorized, "send exactly one Authorization header")
		}
		password, ok := parseBearer(vals[0])
		if !ok {
			return anonymous, errorf(http.StatusUnauthorized, `the Authorization header must be "Bearer <admin password>"`)
		}
		if err := a.checkPassword(r.Context(), r, password); err != nil {
			return anonymous, err
		}
		return byBearer, nil
	}

	tokens := sessionTokens(r)
	if len(tokens) == 0 {
		return anonymous, errorf(http.StatusUnauthorized,
			"missing credentials: send Authorization: Bearer <admin password>, or log in with POST /v1/session")
	}
	if err := sameOrigin(r); err != nil {
		return anonymous, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), serviceCallTimeout)
	defer cancel()
	now := a.cfg.Now()
	for _, tok := range tokens {
		if !auth.ValidSessionToken(tok) {
			continue
		}
		valid, err := a.cfg.Sessions.SessionValid(ctx, auth.HashSessionToken(tok), now)
		if err != nil {
			return anonymous, fmt.Errorf("look up session: %w", err)
		}
		if valid {
			return bySession, nil
		}
	}
	http.SetCookie(w, clearedSessionCookie())
	return anonymous, errorf(http.StatusUnauthorized, "the session has expired or was logged out; log in again")
}

// checkPassword runs the Authenticator and maps its answer.
func (a *api) checkPassword(ctx context.Context, r *http.Request, password string) error {
	err := a.cfg.Auth.CheckPassword(ctx, clientSource(r), password)
	var te *auth.ThrottledError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrWrongPassword):
		a.log.Warn().Str("source", clientSource(r)).Msg("failed admin login")
		return errorf(http.StatusUnauthorized, "wrong admin password")
	case errors.As(err, &te):
		secs := int((te.RetryAfter + time.Second - 1) / time.Second)
		e := errorf(http.StatusTooManyRequests, "too many failed logins from this address; retry in %d s", secs)
		e.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
		return e
	default:
		return err
	}
}

// parseBearer accepts "Bearer <password>" (scheme case-insensitive, one or
// more spaces). The password is everything after the spaces, verbatim.
func parseBearer(v string) (string, bool) {
	scheme, rest, found := strings.Cut(v, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	pw := strings.TrimLeft(rest, " ")
	if pw == "" || len(pw) > maxPasswordLen {
		return "", false
	}
	return pw, true
}

// sessionTokens returns the values of the session cookies a request
// carries (at most maxSessionCookies).
func sessionTokens(r *http.Request) []string {
	var out []string
	for _, c := range r.Cookies() {
		if c.Name == SessionCookieName {
			out = append(out, c.Value)
			if len(out) == maxSessionCookies {
				break
			}
		}
	}
	return out
}

// sameOrigin refuses cookie-authenticated requests that a page of another
// origin made. SameSite=Strict keeps other sites' pages out, but another
// port of localhost is the same site; browsers say where a request came
// from in Sec-Fetch-Site and Origin.
func sameOrigin(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return errorf(http.StatusForbidden, "refused: a page of another origin may not use the admin session")
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host && o != "https://"+r.Host {
		return errorf(http.StatusForbidden, "refused: a page of another origin may not use the admin session")
	}
	return nil
}

// clientSource is the back-off key: the client's IP address.
func clientSource(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func sessionCookie(token string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookieName,
		Value:    token,
		Path:     "/",
		Expires:  expires.UTC(),
		MaxAge:   int(SessionLifetime / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}
}

func clearedSessionCookie() *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}
}

type sessionJSON struct {
	Status    string `json:"status"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

// login: POST /v1/session {"password"} → a session cookie. The password is
// checked (and backed off) exactly like a bearer.
func (a *api) login(r *http.Request, _ params) (reply, error) {
	body, err := readBody(r)
	if err != nil {
		return reply{}, err
	}
	f, err := decodeFields(body, []string{"password"}, nil)
	if err != nil {
		return reply{}, err
	}
	pw := f["password"]
	if pw == "" || len(pw) > maxPasswordLen {
		return reply{}, badRequest("password must be 1 to %d bytes", maxPasswordLen)
	}
	if err := a.checkPassword(r.Context(), r, pw); err != nil {
		return reply{}, err
	}
	token, hash, err := auth.NewSessionToken()
	if err != nil {
		return reply{}, err
	}
	expires := a.cfg.Now().Add(SessionLifetime)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), serviceCallTimeout)
	defer cancel()
	if err := a.cfg.Sessions.CreateSession(ctx, hash, expires); err != nil {
		return reply{}, fmt.Errorf("store session: %w", err)
	}
	h := http.Header{}
	h.Add("Set-Cookie", sessionCookie(token, expires).String())
	return reply{status: http.StatusOK, body: sessionJSON{Status: "ok", ExpiresAt: formatTime(expires)}, header: h}, nil
}

// logout: DELETE /v1/session ends every session cookie the request
// carries and clears the cookie. Needs credentials like any /v1 route.
func (a *api) logout(r *http.Request, _ params) (reply, error) {
	if _, err := emptyBody(r); err != nil {
		return reply{}, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), serviceCallTimeout)
	defer cancel()
	for _, tok := range sessionTokens(r) {
		if !auth.ValidSessionToken(tok) {
			continue
		}
		if err := a.cfg.Sessions.DeleteSession(ctx, auth.HashSessionToken(tok)); err != nil {
			return reply{}, fmt.Errorf("delete session: %w", err)
		}
	}
	h := http.Header{}
	h.Add("Set-Cookie", clearedSessionCookie().String())
	return reply{status: http.StatusOK, body: sessionJSON{Status: "logged_out"}, header: h}, nil
}
