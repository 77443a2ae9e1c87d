package proxy

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The upstream writes one event and then waits until the client has seen
// it: a proxy that buffers the response would deadlock this test.
func TestSSEEventsArriveBeforeTheUpstreamFinishes(t *testing.T) {
	e := startOpenAI(t)
	seen := make(chan struct{})
	up := tlsUpstream(t, e.uca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		fmt.Fprint(w, "event: response.created\ndata: {\"type\":\"response.created\"}\n\n")
		fl.Flush()
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
			return
		}
		for i := range 3 {
			fmt.Fprintf(w, "event: delta\ndata: {\"n\":%d}\n\n", i)
			fl.Flush()
		}
		fmt.Fprint(w, "event: response.completed\ndata: {}\n\n")
	}))
	e.p.cfg.DevUpstreams = map[string]string{"api.openai.com": up.Listener.Addr().String()}

	req, _ := http.NewRequest("POST", "https://api.openai.com/v1/responses", strings.NewReader(allowedBody))
	req.Header.Set("chatgpt-account-id", "acct-pinned")
	resp, err := e.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	first := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: ") {
				first <- sc.Text()
				return
			}
		}
		close(first)
	}()
	select {
	case ev := <-first:
		if ev != "event: response.created" {
			t.Fatalf("first event %q", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("first SSE event did not arrive while the upstream was still streaming: the proxy buffers")
	}
	close(seen)
	var events []string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "event: ") {
			events = append(events, sc.Text())
		}
	}
	if len(events) != 4 || events[3] != "event: response.completed" {
		t.Fatalf("rest of the stream: %q", events)
	}
}
