package claude

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

const fakeSession = "11111111-2222-3333-4444-555555555555"

// fakeClaude plays `claude` for scenario: TestMain runs it when
// TC_FAKE_CLAUDE is set. It appends "start pid=N args=..." and each stdin
// line to TC_FAKE_LOG.
func fakeClaude(scenario string, args []string) int {
	logf, _ := os.OpenFile(os.Getenv("TC_FAKE_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	record := func(s string) {
		if logf != nil {
			fmt.Fprintln(logf, s)
		}
	}
	record(fmt.Sprintf("start pid=%d args=%s", os.Getpid(), strings.Join(args, " ")))
	out := bufio.NewWriter(os.Stdout)
	send := func(v map[string]any) {
		b, _ := json.Marshal(v)
		out.Write(append(b, '\n'))
		out.Flush()
	}
	joined := strings.Join(args, " ")
	switch {
	case joined == "auth status":
		logged := scenario != "logged-out"
		send(map[string]any{"loggedIn": logged, "authMethod": "claude.ai"})
		if !logged {
			return 1
		}
		return 0
	case strings.HasPrefix(joined, "auth login"):
		fmt.Fprint(out, "Opening browser to sign in…\nIf the browser didn't open, visit: https://claude.com/cai/oauth/authorize?code=true&state=abc\nPaste code here if prompted > ")
		out.Flush()
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			if in.Text() == "good#code" {
				fmt.Fprintln(out, "Login successful.")
				out.Flush()
				return 0
			}
			fmt.Fprint(out, "That doesn't look like the full code.\nPaste code here if prompted > ")
			out.Flush()
		}
		return 1
	}
	session := fakeSession
	for i, a := range args {
		if a == "--resume" && i+1 < len(args) {
			session = args[i+1]
		}
	}
	lines := make(chan map[string]any, 16)
	go func() {
		in := bufio.NewScanner(os.Stdin)
		in.Buffer(make([]byte, 1<<20), 1<<20)
		for in.Scan() {
			record("stdin " + in.Text())
			var m map[string]any
			if json.Unmarshal(in.Bytes(), &m) == nil {
				lines <- m
			}
		}
		close(lines)
	}()
	text := func(m map[string]any) string {
		msg, _ := m["message"].(map[string]any)
		s, _ := msg["content"].(string)
		return s
	}
	echo := func(m map[string]any) {
		send(map[string]any{"type": "user", "message": m["message"], "session_id": session, "isReplay": true})
	}
	assistant := func(s string) {
		send(map[string]any{"type": "assistant", "session_id": session, "message": map[string]any{"role": "assistant", "content": []any{
			map[string]any{"type": "text", "text": s}, map[string]any{"type": "tool_use", "name": "Bash"}}}})
	}
	result := func(s string) {
		send(map[string]any{"type": "result", "subtype": "success", "is_error": false, "result": s, "session_id": session})
	}
	for m := range lines {
		if m["type"] == "control_request" {
			if scenario == "interruptible" {
				send(map[string]any{"type": "control_response", "response": map[string]any{"subtype": "success", "request_id": m["request_id"]}})
				send(map[string]any{"type": "result", "subtype": "error_during_execution", "is_error": true, "session_id": session})
			}
			continue
		}
		send(map[string]any{"type": "system", "subtype": "init", "session_id": session})
		switch scenario {
		case "ok", "logged-out":
			echo(m)
			fmt.Fprintln(out, "not json at all")
			send(map[string]any{"type": "stream_event", "whatever": 1})
			assistant("thinking about " + text(m))
			assistant("reply to: " + text(m))
			result("reply to: " + text(m))
		case "queued":
			// Text-only turn: a line written meanwhile runs as the next turn.
			echo(m)
			time.Sleep(300 * time.Millisecond)
			assistant("reply to: " + text(m))
			result("reply to: " + text(m))
		case "inject":
			// Tool-using turn: a second line is injected into this turn.
			echo(m)
			select {
			case m2, ok := <-lines:
				if ok {
					echo(m2)
					assistant("saw: " + text(m) + " + " + text(m2))
					result("saw: " + text(m) + " + " + text(m2))
				}
			case <-time.After(5 * time.Second):
				result("no injection")
			}
		case "die":
			echo(m)
			assistant("partial")
			return 3
		case "unknown-session":
			// The real CLI prints this result (no echo, no init) and exits 1.
			send(map[string]any{"type": "result", "subtype": "error_during_execution", "is_error": true, "errors": []string{"No conversation found with session ID: " + session}, "session_id": session})
			return 1
		case "error-result":
			echo(m)
			send(map[string]any{"type": "result", "subtype": "error_during_execution", "is_error": true, "result": "API Error: 401 unauthorized", "session_id": session})
		case "hang", "interruptible":
			echo(m)
			cmd := exec.Command("sleep", "1000")
			_ = cmd.Start()
			record(fmt.Sprintf("child pid=%d", cmd.Process.Pid))
		}
	}
	record("stdin closed")
	if scenario == "hang" {
		time.Sleep(time.Hour)
	}
	if scenario == "error-result" || scenario == "unknown-session" {
		return 1
	}
	return 0
}
