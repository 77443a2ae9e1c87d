package adminapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id, event, data string
	comment         bool
}

type sseReader struct {
	t    *testing.T
	body io.ReadCloser
	ch   chan sseEvent
}

// openStream opens a live stream and parses it in the background.
func (h *harness) openStream(path string, mods ...reqMod) *sseReader {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testPassword)
	for _, m := range mods {
		m(req)
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		h.t.Fatalf("stream status %d: %s", res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		h.t.Fatalf("stream Content-Type %q", ct)
	}
	s := &sseReader{t: h.t, body: res.Body, ch: make(chan sseEvent, 1000)}
	go func() {
		defer close(s.ch)
		sc := bufio.NewScanner(res.Body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur != (sseEvent{}) {
					s.ch <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, ":"):
				cur.comment = true
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				cur.data = line[6:]
			}
		}
	}()
	return s
}

// next returns the next non-comment event, failing after a timeout.
func (s *sseReader) next() sseEvent {
	s.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-s.ch:
			if !ok {
				s.t.Fatal("stream ended")
			}
			if ev.comment || ev.id == "" {
				continue
			}
			return ev
		case <-timeout:
			s.t.Fatal("no event within 5 s")
		}
	}
}

func TestEventStreamSendsBacklogThenLiveEvents(t *testing.T) {
	h := newHarness(t)
	id := h.createTask("codex", "t1", "first")                                                 // seq 1
	h.tasks.Start(id)                                                                          // seq 2
	h.tasks.AddEvent("task.message", id, map[string]string{"message": "a", "source": "agent"}) // seq 3

	s := h.openStream("/v1/events/stream?since=1")
	ev := s.next()
	if ev.id != "2" || ev.event != "task.started" {
		t.Fatalf("first backlog event %+v", ev)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(ev.data), &obj); err != nil || obj["seq"].(float64) != 2 || obj["task_id"] != id {
		t.Fatalf("data %q", ev.data)
	}
	if ev := s.next(); ev.id != "3" {
		t.Fatalf("second backlog event %+v", ev)
	}
	// Live.
	h.tasks.Finish(id, "completed", "out")
	if ev := s.next(); ev.id != "4" || ev.event != "task.completed" {
		t.Fatalf("live event %+v", ev)
	}
	for i := 0; i < 250; i++ { // more than one page at once
		h.tasks.AddEvent("task.message", id, map[string]string{"message": "m", "source": "agent"})
	}
	for want := 5; want < 255; want++ {
		if ev := s.next(); ev.id != strconv.Itoa(want) {
			t.Fatalf("event %s, want %d (no gaps, no repeats)", ev.id, want)
		}
	}
}

func TestEventStreamResumesFromLastEventID(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 6; i++ {
		h.tasks.AddEvent("agent_runtime.active", "", map[string]string{"agent_runtime": "codex"})
	}
	s := h.openStream("/v1/events/stream?since=1", withHeader("Last-Event-ID", "4"))
	if ev := s.next(); ev.id != "5" {
		t.Fatalf("resumed at %s, want 5", ev.id)
	}
	// Without since: every retained event.
	s = h.openStream("/v1/events/stream")
	if ev := s.next(); ev.id != "1" {
		t.Fatalf("start at %s, want 1", ev.id)
	}
	r := h.do("GET", "/v1/events/stream", "", withHeader("Last-Event-ID", "x"))
	mustStatus(t, r, http.StatusBadRequest)
}

func TestStreamHeartbeats(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Heartbeat = 20 * time.Millisecond })
	s := h.openStream("/v1/events/stream")
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-s.ch:
			if ev.comment {
				return
			}
		case <-timeout:
			t.Fatal("no keep-alive comment")
		}
	}
}

func TestStreamEndsOnShutdownAndOnClientDisconnect(t *testing.T) {
	h := newHarness(t)
	s := h.openStream("/v1/events/stream")
	waitFor(t, func() bool { return h.tasks.subscribers() == 1 })
	s.body.Close()
	waitFor(t, func() bool { return h.tasks.subscribers() == 0 })

	s = h.openStream("/v1/events/stream")
	waitFor(t, func() bool { return h.tasks.subscribers() == 1 })
	h.stop() // the API's Context: server shutdown
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-s.ch:
			if !ok {
				waitFor(t, func() bool { return h.tasks.subscribers() == 0 })
				return
			}
		case <-timeout:
			t.Fatal("stream did not end at shutdown")
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestNetworkEventStream(t *testing.T) {
	h := newHarness(t)
	h.net.addEvent(netstate.Event{Protocol: "https", Method: "GET", Host: "a.com", Port: 443, Path: "/", Decision: "denied", Reason: "no rule"})
	s := h.openStream("/v1/network/events/stream?since=0")
	ev := s.next()
	if ev.id != "1" || ev.event != "network_event" || !strings.Contains(ev.data, `"host":"a.com"`) {
		t.Fatalf("backlog %+v", ev)
	}
	h.net.addEvent(netstate.Event{Protocol: "https", Method: "GET", Host: "b.com", Port: 443, Path: "/", Decision: "allowed"})
	if ev := s.next(); ev.id != "2" || !strings.Contains(ev.data, "b.com") {
		t.Fatalf("live %+v", ev)
	}
}

func TestStreamNeedsCredentials(t *testing.T) {
	h := newHarness(t)
	mustStatus(t, h.do("GET", "/v1/events/stream", "", withoutAuth()), http.StatusUnauthorized)
	mustStatus(t, h.do("GET", "/v1/network/events/stream", "", withHost("evil.example")), http.StatusForbidden)
	// A browser session works (EventSource sends the cookie).
	c := login(t, h)
	h.openStream("/v1/events/stream", withCookie(c))
}

func TestLiveStreamsAreCapped(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxStreams = 2 })
	a := h.openStream("/v1/events/stream")
	h.openStream("/v1/network/events/stream")
	r := h.do("GET", "/v1/events/stream", "")
	mustStatus(t, r, http.StatusTooManyRequests)
	r.errMsg(t)
	a.body.Close()
	api := h.srv.Config.Handler.(*api)
	waitFor(t, func() bool { return len(api.streams) < 2 })
	h.openStream("/v1/events/stream")
}
