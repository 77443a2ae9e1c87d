package proxystate

import (
	"context"
	"fmt"
	"path/filepath"
)

// ProxyState is everything the proxy needs from its state directory: the
// policy in force (Current) and the decision log (Record). It satisfies
// PolicySource and EventSink.
type ProxyState struct {
	*Watcher
	*EventLog
	Dir *Dir
}

// OpenProxyState opens the state directory at path for the proxy.
func OpenProxyState(ctx context.Context, path string, opts EventLogOptions) (*ProxyState, error) {
	d := NewDir(path, opts.Now)
	log, err := OpenEventLog(ctx, filepath.Join(path, EventsFileName), opts)
	if err != nil {
		return nil, fmt.Errorf("open proxy state in %s: %w", path, err)
	}
	return &ProxyState{Watcher: NewWatcher(d), EventLog: log, Dir: d}, nil
}

// Close closes the event log.
func (s *ProxyState) Close() error { return s.EventLog.Close() }

var (
	_ PolicySource = (*ProxyState)(nil)
	_ EventSink    = (*ProxyState)(nil)
)
