package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// ErrIPLiteral marks a host that is an IP address (or is shaped like one a
// resolver would read as an address, e.g. an all-numeric last label).
// Policy keys are names only, and the proxy denies IP-literal targets.
var ErrIPLiteral = errors.New("IP literals are not allowed; use a DNS name")

const (
	maxHostLen  = 253
	maxLabelLen = 63
)

// NormalizeHost is the one place host names are normalised (lower case,
// punycode, trailing dot dropped); every matcher calls it.
//
// A name must be ASCII (a non-ASCII name is refused with its punycode form
// as the fix, so that what the operator typed and what the client sends
// can never differ), made of labels of letters, digits, '-' and '_' (no
// leading or trailing '-'), at most 63 bytes per label and 253 in total.
// IP literals, bracketed or not, and names whose last label is numeric
// give an error wrapping ErrIPLiteral. Error messages do not repeat the
// name, so callers can prefix it.
func NormalizeHost(h string) (string, error) {
	if h == "" {
		return "", errors.New("empty host name")
	}
	if isIPLiteral(h) {
		return "", ErrIPLiteral
	}
	if !isASCII(h) {
		if !utf8.ValidString(h) {
			return "", errors.New("invalid UTF-8 in host name")
		}
		if a, err := idna.Lookup.ToASCII(strings.TrimSuffix(h, ".")); err == nil && a != "" && isASCII(a) {
			return "", fmt.Errorf("non-ASCII name: use %q", a)
		}
		return "", errors.New("non-ASCII name that has no valid punycode form")
	}
	n := strings.ToLower(strings.TrimSuffix(h, "."))
	if n == "" {
		return "", errors.New("empty host name")
	}
	if len(n) > maxHostLen {
		return "", fmt.Errorf("name longer than %d bytes", maxHostLen)
	}
	punycode := false
	last := ""
	for rest := n; ; {
		l, tail, more := strings.Cut(rest, ".")
		if err := checkLabel(l); err != nil {
			return "", err
		}
		if strings.HasPrefix(l, "xn--") {
			punycode = true
		}
		if !more {
			last = l
			break
		}
		rest = tail
	}
	if isNumericLabel(last) {
		return "", ErrIPLiteral
	}
	if punycode {
		if _, err := idna.Lookup.ToUnicode(n); err != nil {
			return "", errors.New("invalid punycode label")
		}
	}
	return n, nil
}

func checkLabel(l string) error {
	switch {
	case l == "":
		return errors.New("empty label")
	case len(l) > maxLabelLen:
		return fmt.Errorf("label longer than %d bytes", maxLabelLen)
	case l[0] == '-' || l[len(l)-1] == '-':
		return errors.New("label starts or ends with '-'")
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' {
			continue
		}
		return fmt.Errorf("invalid character %q", c)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isNumericLabel: a last label of digits (or 0x-hex) would be read as an
// address by inet_aton-style parsers ("127.1", "0x7f.1").
func isNumericLabel(l string) bool {
	if strings.HasPrefix(l, "0x") {
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return l != ""
}

func isIPLiteral(h string) bool {
	s := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	return strings.HasPrefix(h, "[")
}

// normalizeKey validates one allowed_network_access key and returns its
// normal form ("*.example.com" or "api.example.com"). The error message is
// meant to follow the key's field name.
func normalizeKey(key string) (string, error) {
	if key == "" {
		return "", errors.New("empty domain key")
	}
	if strings.Contains(key, "://") {
		return "", fmt.Errorf("schemes are not allowed; use the host name only%s", suggest(key))
	}
	if isIPLiteral(key) {
		return "", ErrIPLiteral
	}
	if strings.ContainsAny(key, "/") {
		return "", fmt.Errorf("paths are not allowed in domain keys; use path_guards%s", suggest(key))
	}
	if strings.ContainsAny(key, "^$()[]{}\\|+?") {
		return "", errors.New(`regular expressions are not allowed in domain keys; use an exact name or a "*.example.com" wildcard`)
	}
	if strings.Contains(key, ":") {
		return "", fmt.Errorf("ports are not allowed; the proxy allows only 80 (http) and 443 (https, wss)%s", suggest(key))
	}
	rest, wildcard := strings.CutPrefix(key, "*.")
	if strings.Contains(rest, "*") {
		return "", errors.New(`"*" is allowed only as the whole first label, as in "*.example.com"`)
	}
	if strings.ContainsAny(rest, " \t\r\n") {
		return "", errors.New("whitespace is not allowed in domain keys")
	}
	n, err := NormalizeHost(rest)
	if err != nil {
		return "", err
	}
	if !strings.Contains(n, ".") {
		if wildcard {
			return "", errors.New("a wildcard over a whole top-level domain is too broad; name a registrable domain, as in \"*.example." + n + "\"")
		}
		return "", errors.New("a single-label name is not allowed; use the fully qualified name")
	}
	if wildcard {
		if ps, icann := publicsuffix.PublicSuffix(n); icann && ps == n {
			return "", fmt.Errorf("%q is a public suffix; a wildcard over it is too broad; name a registrable domain, as in \"*.example.%s\"", n, n)
		}
	}
	if r := reservedFor(n); r != "" {
		return "", fmt.Errorf("%q is managed by the %s provider bundle; use managed_ai_provider_network_access.%s instead", reservedDomainOf(n), r, r)
	}
	if wildcard {
		return "*." + n, nil
	}
	return n, nil
}

// suggest offers the bare host name of a key that carried a scheme, path
// or port, when one can be recovered.
func suggest(key string) string {
	s := key
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[:i], ":") {
		s = s[:i]
	}
	rest, wildcard := strings.CutPrefix(s, "*.")
	n, err := NormalizeHost(rest)
	if err != nil || !strings.Contains(n, ".") {
		return ""
	}
	if wildcard {
		n = "*." + n
	}
	return fmt.Sprintf(": use %q", n)
}

// matchesDomain reports whether host is domain or a subdomain of it.
func matchesDomain(host, domain string) bool {
	return host == domain || strings.HasSuffix(host, "."+domain)
}
