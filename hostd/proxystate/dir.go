package proxystate

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// Dir is the proxy state directory. Policy replacements are serialised by
// an in-process TryLock plus an flock on policy.lock (other processes, e.g.
// two helper runs); pin updates by a mutex plus pins.lock.
type Dir struct {
	path      string
	now       Clock
	replaceMu sync.Mutex
	pinsMu    sync.Mutex

	// The last policy file parsed and what it gave, so that health and
	// policy reads of an unchanged file cost a read and a compare, not a
	// parse (path guards are compiled while parsing). Callers treat the
	// returned *policy.Policy as read-only.
	cacheMu     sync.Mutex
	cacheRaw    []byte
	cachePolicy *policy.Policy
	cacheAt     time.Time
}

// NewDir uses the directory at path (which must exist) with clock now
// (time.Now when nil). Use one Dir per directory per process.
func NewDir(path string, now Clock) *Dir {
	if now == nil {
		now = time.Now
	}
	return &Dir{path: path, now: now}
}

// Path is the directory's path.
func (d *Dir) Path() string { return d.path }

// Validity reports whether the state the proxy enforces is usable: the
// policy and the pins both load. The error says what is wrong; the proxy
// denies everything until it is fixed.
func (d *Dir) Validity() error {
	if _, _, err := d.loadPolicy(); err != nil {
		return err
	}
	_, err := d.loadPins()
	return err
}

func marshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
