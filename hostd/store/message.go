package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// truncationMarker ends a stored message that was cut to the size cap.
// The %d is the size of the original message in bytes.
const truncationMarker = "\n[truncated by TrustyClaw: the message had %d bytes]"

// capMessage bounds a message to limit bytes. A longer message is cut at a
// UTF-8 character boundary and ends with the truncation marker, so the
// result is at most limit bytes and still valid UTF-8.
func capMessage(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	marker := fmt.Sprintf(truncationMarker, len(s))
	keep := limit - len(marker)
	if keep < 0 {
		keep = 0
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + marker, true
}

// Message sources of task.message events.
const (
	SourceUser  = "user"
	SourceAgent = "agent"
)

type messagePayload struct {
	Message string `json:"message"`
	Source  string `json:"source"`
}

type errorPayload struct {
	ErrorMessage string `json:"error_message"`
}

type runtimePayload struct {
	AgentRuntime string `json:"agent_runtime"`
}

var emptyPayload = []byte("{}")

// marshalPayload encodes v as compact JSON without HTML escaping, so a
// message reads in the event log as it was written.
func marshalPayload(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding an event payload: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
