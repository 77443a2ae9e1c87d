package claude

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// event is one stdout line of `claude -p --output-format stream-json`,
// reduced to what the adapter needs.
type event struct {
	Type      string `json:"type"`
	Subtype   string `json:"subtype"`
	SessionID string `json:"session_id"`
	// assistant / user
	Message *struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"message"`
	IsReplay bool `json:"isReplay"`
	// result
	IsError bool     `json:"is_error"`
	Result  string   `json:"result"`
	Errors  []string `json:"errors"`
	// control_response
	Response *struct {
		Subtype   string `json:"subtype"`
		RequestID string `json:"request_id"`
		Error     string `json:"error"`
	} `json:"response"`
}

// parseEvent decodes one line. It is pure so the stream-json fuzz target
// can exercise it.
func parseEvent(line []byte) (event, error) {
	var e event
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return e, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return e, fmt.Errorf("bad JSON: %w", err)
	}
	if e.Type == "" {
		return e, errors.New("event without a type")
	}
	return e, nil
}

// text joins the text blocks of a message's content (a string or a list
// of blocks); tool use and thinking blocks are not agent messages.
func (e event) text() string {
	if e.Message == nil {
		return ""
	}
	var s string
	if json.Unmarshal(e.Message.Content, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(e.Message.Content, &blocks) != nil {
		return ""
	}
	var parts []string
	for _, b := range blocks {
		if b.Type == "text" && b.Text != "" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n\n")
}

// userLine is the stream-json input line for one user message.
func userLine(text string) ([]byte, error) {
	b, err := json.Marshal(map[string]any{
		"type":    "user",
		"message": map[string]any{"role": "user", "content": text},
	})
	if err != nil {
		return nil, fmt.Errorf("encode user message: %w", err)
	}
	return append(b, '\n'), nil
}

// interruptLine is the control request that interrupts the running turn.
func interruptLine(id string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type":       "control_request",
		"request_id": id,
		"request":    map[string]any{"subtype": "interrupt"},
	})
	return append(b, '\n')
}
