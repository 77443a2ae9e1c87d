package policy

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
)

// checkPathGuards is check 7; it returns a denial reason or "".
func checkPathGuards(ru *rule, target string) string {
	if hasDotSegment(target) {
		return "request path contains a dot segment (\".\" or \"..\", possibly percent-encoded), which path guards do not allow"
	}
	for _, g := range ru.guards {
		if g.MatchString(target) {
			return ""
		}
	}
	if ru.managed != "" {
		return "the managed " + ru.managed + " bundle does not allow this path on " + ru.key
	}
	return "no path guard of \"" + ru.key + "\" matches the request target"
}

// hasDotSegment reports whether the path part of target has a "." or ".."
// segment once %2e, %2f and %5c are decoded and '\' is read as '/', the
// way a lenient upstream might normalise it.
func hasDotSegment(target string) bool {
	path, _, _ := strings.Cut(target, "?")
	var b strings.Builder
	b.Grow(len(path))
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '%' && i+2 < len(path) {
			switch strings.ToLower(path[i+1 : i+3]) {
			case "2e":
				c = '.'
				i += 2
			case "2f", "5c":
				c = '/'
				i += 2
			}
		}
		if c == '\\' {
			c = '/'
		}
		b.WriteByte(c)
	}
	for _, seg := range strings.Split(b.String(), "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// headerValues returns every value of a header, matching the name without
// regard to case, so a non-canonical map key cannot hide a copy.
func headerValues(h http.Header, name string) []string {
	var out []string
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			out = append(out, vs...)
		}
	}
	return out
}

// checkOpenAIAccount is check 8; it returns a denial reason or "".
func checkOpenAIAccount(h http.Header, pinned string) string {
	if pinned == "" {
		return "no OpenAI account is pinned yet; log Codex in through the admin API first"
	}
	vals := headerValues(h, "chatgpt-account-id")
	if len(vals) == 0 {
		return "missing chatgpt-account-id header (OpenAI account guard)"
	}
	for _, v := range vals {
		if subtle.ConstantTimeCompare([]byte(v), []byte(pinned)) != 1 {
			return "chatgpt-account-id does not match the pinned OpenAI account"
		}
	}
	return ""
}

// checkAnthropicAccount is check 9; it returns a denial reason or "".
func checkAnthropicAccount(method, target string, h http.Header, pin string) string {
	path, _, _ := strings.Cut(target, "?")
	if (method == http.MethodGet || method == http.MethodHead) && path == anthropicHelloPath {
		return ""
	}
	if len(headerValues(h, "x-api-key")) > 0 {
		return "x-api-key credentials are not allowed; the Anthropic account guard admits only the pinned OAuth account"
	}
	token, reason := bearerToken(h)
	if reason != "" {
		return reason
	}
	if pin == "" {
		if method == http.MethodGet && slices.Contains(anthropicBootstrapPaths(), path) {
			return ""
		}
		return "no Claude account is pinned yet; only the login bootstrap reads pass"
	}
	sum := sha256.Sum256([]byte(token))
	got := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(strings.ToLower(pin))) != 1 {
		return "bearer token is not the pinned Claude account's"
	}
	return ""
}

// bearerToken returns the token of the one Authorization header, or a
// denial reason.
func bearerToken(h http.Header) (string, string) {
	vals := headerValues(h, "authorization")
	switch {
	case len(vals) == 0:
		return "", "missing Authorization: Bearer credentials (Anthropic account guard)"
	case len(vals) > 1:
		return "", "more than one Authorization header"
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return "", "Authorization is not a Bearer token (Anthropic account guard)"
	}
	return token, ""
}
