package proxystate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// ReadEvents reads a page of the event log at path without the writer
// (for the read-network-state helper and in-process readers). A log that
// does not exist yet is empty; a log from a newer schema is refused.
func ReadEvents(ctx context.Context, path string, since int64, limit int) ([]netstate.Event, error) {
	if err := checkPage(since, limit); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return []netstate.Event{}, nil
	} else if err != nil {
		return nil, fmt.Errorf("stat network event log: %w", err)
	}
	db, err := openEventReaderDB(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return nil, fmt.Errorf("read network event log schema version: %w", err)
	}
	switch {
	case v > eventsSchemaVersion:
		return nil, fmt.Errorf("network event log has schema version %d but this hostd understands only up to %d: %w",
			v, eventsSchemaVersion, ErrNewerSchema)
	case v < eventsSchemaVersion:
		return []netstate.Event{}, nil // created but not yet initialised
	}
	return queryEvents(ctx, db, since, limit)
}
