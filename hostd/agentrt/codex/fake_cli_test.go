package codex

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// The test binary doubles as a scripted fake `codex app-server`: when
// TC_FAKE_CODEX names a scenario, TestMain runs fakeAppServer instead of
// the tests. Every request method it receives is appended to the file in
// TC_FAKE_LOG, one per line, so tests can see what the adapter sent.

func fakeAppServer(scenario string) {
	logf, _ := os.OpenFile(os.Getenv("TC_FAKE_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	record := func(s string) {
		if logf != nil {
			fmt.Fprintln(logf, s)
		}
	}
	record(fmt.Sprintf("start pid=%d", os.Getpid()))
	out := bufio.NewWriter(os.Stdout)
	send := func(v any) {
		b, _ := json.Marshal(v)
		out.Write(append(b, '\n'))
		out.Flush()
	}
	raw := func(s string) { out.WriteString(s + "\n"); out.Flush() }
	notify := func(method string, params any) { send(map[string]any{"method": method, "params": params}) }
	agentMsg := func(thread, text string) {
		notify("item/completed", map[string]any{"threadId": thread, "turnId": "turn-1", "item": map[string]any{"type": "agentMessage", "id": "m", "text": text}})
	}
	completed := func(thread, status, errMsg string) {
		turn := map[string]any{"id": "turn-1", "status": status, "items": []any{}}
		if errMsg != "" {
			turn["error"] = map[string]any{"message": errMsg}
		}
		notify("turn/completed", map[string]any{"threadId": thread, "turn": turn})
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	thread := "th-new"
	var lastInput string
	for in.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params map[string]any  `json:"params"`
			Result map[string]any  `json:"result"`
		}
		if json.Unmarshal(in.Bytes(), &m) != nil {
			continue
		}
		if m.Method == "" { // a response to our server request
			record("response " + in.Text())
			if m.Result != nil {
				agentMsg(thread, fmt.Sprintf("approval answered: %v", m.Result["decision"]))
				completed(thread, "completed", "")
			}
			continue
		}
		record(m.Method)
		reply := func(result any) { send(map[string]any{"id": m.ID, "result": result}) }
		switch m.Method {
		case "initialize":
			notify("configWarning", map[string]any{"summary": "no bubblewrap"})
			reply(map[string]any{"userAgent": "fake/0.0", "codexHome": "/x"})
		case "initialized":
		case "account/read":
			if scenario == "logged-out" {
				reply(map[string]any{"account": nil, "requiresOpenaiAuth": true})
			} else {
				reply(map[string]any{"account": map[string]any{"type": "chatgpt", "email": "a@b", "planType": "plus"}, "requiresOpenaiAuth": true})
			}
		case "account/login/start":
			reply(map[string]any{"type": "chatgptDeviceCode", "loginId": "L1", "userCode": "ABCD-1234", "verificationUrl": "https://auth.example/device"})
			if scenario == "login-ok" {
				time.Sleep(50 * time.Millisecond)
				notify("account/login/completed", map[string]any{"loginId": "L1", "success": true})
			}
		case "account/login/cancel":
			reply(map[string]any{})
		case "thread/start":
			reply(map[string]any{"thread": map[string]any{"id": thread}})
		case "thread/resume":
			thread, _ = m.Params["threadId"].(string)
			reply(map[string]any{"thread": map[string]any{"id": thread}})
		case "turn/start":
			if inputs, ok := m.Params["input"].([]any); ok && len(inputs) > 0 {
				lastInput, _ = inputs[0].(map[string]any)["text"].(string)
			}
			reply(map[string]any{"turn": map[string]any{"id": "turn-1", "status": "inProgress"}})
			notify("turn/started", map[string]any{"threadId": thread, "turn": map[string]any{"id": "turn-1"}})
			switch scenario {
			case "ok", "logged-out":
				raw("this is not json")
				raw(`{"truncated":`)
				notify("some/unknownNotification", map[string]any{"x": 1})
				agentMsg(thread, "first")
				agentMsg(thread, "reply to: "+lastInput+" on "+thread)
				completed(thread, "completed", "")
			case "garbage-flood":
				for i := 0; i < 200; i++ {
					raw("garbage")
				}
			case "fail":
				notify("error", map[string]any{"threadId": thread, "turnId": "turn-1", "willRetry": false, "error": map[string]any{"message": "unexpected status 401"}})
				completed(thread, "failed", "")
			case "die":
				agentMsg(thread, "partial")
				os.Exit(3)
			case "hang":
				// A tool the turn started, in the same process group.
				cmd := exec.Command("sleep", "1000")
				_ = cmd.Start()
				record(fmt.Sprintf("child pid=%d", cmd.Process.Pid))
			case "approval":
				send(map[string]any{"id": "srv-1", "method": "item/commandExecution/requestApproval", "params": map[string]any{"threadId": thread, "turnId": "turn-1", "itemId": "i"}})
			}
		case "turn/steer":
			if scenario == "ok" {
				send(map[string]any{"id": m.ID, "error": map[string]any{"code": -32600, "message": "no active turn"}})
				continue
			}
			text := m.Params["input"].([]any)[0].(map[string]any)["text"].(string)
			reply(map[string]any{"turnId": "turn-1"})
			agentMsg(thread, "steered: "+text)
			completed(thread, "completed", "")
		case "turn/interrupt":
			reply(map[string]any{})
			if scenario == "interruptible" {
				completed(thread, "interrupted", "")
			}
		default:
			send(map[string]any{"id": m.ID, "error": map[string]any{"code": -32601, "message": "unknown method " + m.Method}})
		}
	}
	record("stdin closed")
	if scenario == "ignore-eof" {
		time.Sleep(time.Hour)
	}
}
