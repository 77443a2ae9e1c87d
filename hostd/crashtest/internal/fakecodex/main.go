// Command fakecodex is a scripted stand-in for `codex app-server` (JSON-RPC
// lines over stdio) used by the binary-level crash and benchmark tests. It
// answers the handshake, says no OpenAI login is needed, starts and resumes
// threads, and runs each turn as its input text asks. The input is
// whitespace-separated tokens; the first is a label, the others are
// optional directives:
//
//	msgs=N      emit N agent messages before completing (default 1); the
//	            last one is "done:<label>"
//	delay=D     wait D (a Go duration) before emitting and completing
//	hang        never complete on its own: only turn/interrupt ends it;
//	            steers are answered and echoed as agent messages
//	fail        end the turn as failed
//
// It exits when stdin closes, which is how it notices that hostd died.
// When TC_FAKECODEX_PIDDIR is set, it creates <dir>/<pid> at start so a test
// can check afterwards that no fake outlived its hostd.
//
// Test support only: nothing in the product imports or runs it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

type server struct {
	mu  sync.Mutex // guards out and the turn state
	out *bufio.Writer

	turnSeq int
	// active is the id of the turn in progress ("" when none): a delayed
	// completion of a turn that was interrupted meanwhile does nothing.
	active string
	thread string
}

type script struct {
	label string
	msgs  int
	delay time.Duration
	hang  bool
	fail  bool
}

func parseScript(input string) script {
	s := script{msgs: 1}
	for i, tok := range strings.Fields(input) {
		if i == 0 {
			s.label = tok
			continue
		}
		k, v, _ := strings.Cut(tok, "=")
		switch k {
		case "msgs":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				s.msgs = n
			}
		case "delay":
			if d, err := time.ParseDuration(v); err == nil && d >= 0 {
				s.delay = d
			}
		case "hang":
			s.hang = true
		case "fail":
			s.fail = true
		}
	}
	return s
}

func main() {
	if dir := os.Getenv("TC_FAKECODEX_PIDDIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o600)
	}
	s := &server{out: bufio.NewWriterSize(os.Stdout, 64<<10)}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 4<<20)
	for in.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal(in.Bytes(), &m) != nil || m.Method == "" {
			continue // responses to server requests: none are sent
		}
		s.handle(m.ID, m.Method, m.Params)
	}
}

// send writes one message; s.mu must be held.
func (s *server) send(v any) {
	b, _ := json.Marshal(v)
	s.out.Write(append(b, '\n'))
}

func (s *server) flush() { _ = s.out.Flush() }

func (s *server) reply(id json.RawMessage, result any) {
	s.send(map[string]any{"id": id, "result": result})
}

func (s *server) notify(method string, params any) {
	s.send(map[string]any{"method": method, "params": params})
}

func (s *server) agentMessage(turn, text string) {
	s.notify("item/completed", map[string]any{"threadId": s.thread, "turnId": turn,
		"item": map[string]any{"type": "agentMessage", "id": "m", "text": text}})
}

// endTurn reports the turn finished; s.mu must be held.
func (s *server) endTurn(turn, status string) {
	t := map[string]any{"id": turn, "status": status, "items": []any{}}
	if status == "failed" {
		t["error"] = map[string]any{"message": "scripted failure"}
	}
	s.notify("turn/completed", map[string]any{"threadId": s.thread, "turn": t})
	s.active = ""
}

func (s *server) handle(id json.RawMessage, method string, raw json.RawMessage) {
	var p struct {
		ThreadID string `json:"threadId"`
		Input    []struct {
			Text string `json:"text"`
		} `json:"input"`
	}
	_ = json.Unmarshal(raw, &p)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.flush()
	switch method {
	case "initialize":
		s.reply(id, map[string]any{"userAgent": "fakecodex/1", "codexHome": os.Getenv("HOME")})
	case "initialized":
	case "account/read":
		// An API-key provider: usable without an OpenAI login.
		s.reply(id, map[string]any{"account": nil, "requiresOpenaiAuth": false})
	case "thread/start":
		s.thread = fmt.Sprintf("fake-%d-%d", os.Getpid(), time.Now().UnixNano())
		s.reply(id, map[string]any{"thread": map[string]any{"id": s.thread}})
	case "thread/resume":
		s.thread = p.ThreadID
		s.reply(id, map[string]any{"thread": map[string]any{"id": s.thread}})
	case "turn/start":
		s.turnSeq++
		turn := "turn-" + strconv.Itoa(s.turnSeq)
		s.active = turn
		text := ""
		if len(p.Input) > 0 {
			text = p.Input[0].Text
		}
		sc := parseScript(text)
		s.reply(id, map[string]any{"turn": map[string]any{"id": turn, "status": "inProgress"}})
		s.notify("turn/started", map[string]any{"threadId": s.thread, "turn": map[string]any{"id": turn}})
		if sc.hang {
			return
		}
		if sc.delay == 0 {
			s.run(turn, sc)
			return
		}
		time.AfterFunc(sc.delay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			defer s.flush()
			if s.active == turn {
				s.run(turn, sc)
			}
		})
	case "turn/steer":
		if s.active == "" {
			s.send(map[string]any{"id": id, "error": map[string]any{"code": -32600, "message": "no active turn"}})
			return
		}
		text := ""
		if len(p.Input) > 0 {
			text = p.Input[0].Text
		}
		s.reply(id, map[string]any{"turnId": s.active})
		s.agentMessage(s.active, "steered:"+text)
	case "turn/interrupt":
		s.reply(id, map[string]any{})
		if s.active != "" {
			s.endTurn(s.active, "interrupted")
		}
	default:
		s.send(map[string]any{"id": id, "error": map[string]any{"code": -32601, "message": "unknown method " + method}})
	}
}

// run emits the scripted messages and ends the turn; s.mu must be held.
func (s *server) run(turn string, sc script) {
	for i := 1; i < sc.msgs; i++ {
		s.agentMessage(turn, fmt.Sprintf("message %d of %s", i, sc.label))
		if s.out.Buffered() > 32<<10 {
			s.flush()
		}
	}
	if sc.msgs > 0 {
		s.agentMessage(turn, "done:"+sc.label)
	}
	if sc.fail {
		s.endTurn(turn, "failed")
		return
	}
	s.endTurn(turn, "completed")
}
