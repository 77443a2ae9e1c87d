package service

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// ParseDevUpstreams turns repeated `--dev-upstream HOST=ADDR` values into
// the map Options.DevUpstreams takes. HOST is normalised like a policy
// key and must not be an IP literal; ADDR must be HOST:PORT with a port;
// a host given twice is an error.
func ParseDevUpstreams(values []string) (map[string]string, error) {
	out := make(map[string]string, len(values))
	for _, v := range values {
		host, addr, ok := strings.Cut(v, "=")
		if !ok || host == "" || addr == "" {
			return nil, fmt.Errorf("--dev-upstream %q: want HOST=ADDR, e.g. model.e2e.test=127.0.0.1:9443", v)
		}
		n, err := policy.NormalizeHost(host)
		if err != nil {
			return nil, fmt.Errorf("--dev-upstream %q: host: %w", v, err)
		}
		h, p, err := net.SplitHostPort(addr)
		if err != nil || h == "" {
			return nil, fmt.Errorf("--dev-upstream %q: address must be HOST:PORT, e.g. 127.0.0.1:9443", v)
		}
		if port, err := strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("--dev-upstream %q: port must be 1-65535", v)
		}
		if _, dup := out[n]; dup {
			return nil, fmt.Errorf("--dev-upstream: host %q given twice", n)
		}
		out[n] = addr
	}
	return out, nil
}
