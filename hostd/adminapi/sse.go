package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// Live streams are Server-Sent Events (text/event-stream):
//
//	retry: 3000                       once, at the start
//	id: <seq>                         per event
//	event: <event_type>               agent stream; "network_event" on the network stream
//	data: <the event as in the list routes, one line of JSON>
//
//	: keepalive                       comment every Config.Heartbeat
//
// A stream first sends every retained event with seq > since (the query
// parameter, or the Last-Event-ID header an EventSource sends when it
// reconnects, which wins), oldest first, then new events as they are
// committed. It ends when the client goes away or the API's Context is
// done (server shutdown).

// sseItem is one event ready to send.
type sseItem struct {
	seq  int64
	name string
	data []byte
}

// fetchFunc returns up to streamPageSize items with seq > since.
type fetchFunc func(ctx context.Context, since int64) ([]sseItem, error)

// streamSince reads where a stream starts: Last-Event-ID, else ?since=,
// else 0 (every retained event).
func streamSince(r *http.Request) (int64, error) {
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		return parseSeq("Last-Event-ID", v)
	}
	return parseSince(r.URL.Query())
}

// eventStream: GET /v1/events/stream?since=.
func (a *api) eventStream(w http.ResponseWriter, r *http.Request) error {
	since, err := streamSince(r)
	if err != nil {
		return err
	}
	notify, stop := a.cfg.Tasks.Subscribe()
	defer stop()
	fetch := func(ctx context.Context, since int64) ([]sseItem, error) {
		evs, err := a.cfg.Tasks.Events(ctx, tasks.EventQuery{Since: since, Limit: streamPageSize})
		if err != nil {
			return nil, err
		}
		items := make([]sseItem, 0, len(evs))
		for _, e := range evs {
			b, err := json.Marshal(eventView(e))
			if err != nil {
				return nil, fmt.Errorf("encode event %d: %w", e.Seq, err)
			}
			items = append(items, sseItem{seq: e.Seq, name: e.Type, data: b})
		}
		return items, nil
	}
	return a.runStream(w, r, since, notify, nil, fetch)
}

// networkEventStream: GET /v1/network/events/stream?since=.
func (a *api) networkEventStream(w http.ResponseWriter, r *http.Request) error {
	since, err := streamSince(r)
	if err != nil {
		return err
	}
	var notify <-chan struct{}
	var poll <-chan time.Time
	if n, ok := a.cfg.Network.(NetworkNotifier); ok {
		ch, stop := n.SubscribeNetworkEvents()
		defer stop()
		notify = ch
	} else {
		t := time.NewTicker(a.cfg.NetworkPoll)
		defer t.Stop()
		poll = t.C
	}
	fetch := func(ctx context.Context, since int64) ([]sseItem, error) {
		evs, err := a.cfg.Network.Events(ctx, since, streamPageSize)
		if err != nil {
			return nil, err
		}
		items := make([]sseItem, 0, len(evs))
		for _, e := range evs {
			b, err := json.Marshal(networkEventView(e))
			if err != nil {
				return nil, fmt.Errorf("encode network event %d: %w", e.Seq, err)
			}
			items = append(items, sseItem{seq: e.Seq, name: "network_event", data: b})
		}
		return items, nil
	}
	return a.runStream(w, r, since, notify, poll, fetch)
}

// runStream sends the backlog after since, then waits for notify, poll or
// the heartbeat, and sends what is new each time. Every write has a
// deadline, so a client that stops reading cannot pin the handler.
func (a *api) runStream(w http.ResponseWriter, r *http.Request, since int64,
	notify <-chan struct{}, poll <-chan time.Time, fetch fetchFunc) error {
	ctx := r.Context()
	// Fail before committing to 200 if the first page cannot be read.
	fctx, cancel := context.WithTimeout(ctx, serviceCallTimeout)
	first, err := fetch(fctx, since)
	cancel()
	if err != nil {
		return err
	}

	rc := http.NewResponseController(w)
	// The connection may serve another request after the stream ends;
	// leave no write deadline behind on it.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var buf bytes.Buffer
	buf.WriteString("retry: 3000\n\n")
	send := func() error {
		if buf.Len() == 0 {
			return nil
		}
		if err := rc.SetWriteDeadline(time.Now().Add(a.cfg.StreamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		buf.Reset()
		return rc.Flush()
	}
	appendItems := func(items []sseItem) {
		for _, it := range items {
			buf.WriteString("id: ")
			buf.WriteString(strconv.FormatInt(it.seq, 10))
			buf.WriteString("\nevent: ")
			buf.WriteString(it.name)
			buf.WriteString("\ndata: ")
			buf.Write(it.data)
			buf.WriteString("\n\n")
			since = it.seq
		}
	}
	appendItems(first)
	more := len(first) == streamPageSize

	heartbeat := time.NewTicker(a.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		for more { // drain the backlog page by page
			if err := send(); err != nil {
				return nil // the client went away
			}
			fctx, cancel := context.WithTimeout(ctx, serviceCallTimeout)
			items, err := fetch(fctx, since)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("read events for the stream: %w", err)
			}
			appendItems(items)
			more = len(items) == streamPageSize
		}
		if err := send(); err != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.cfg.Context.Done():
			return nil
		case <-heartbeat.C:
			buf.WriteString(": keepalive\n\n")
		case _, open := <-notify:
			if !open { // a closed subscription must not spin the loop
				notify = nil
			}
			more = true
		case <-poll:
			more = true
		}
	}
}
