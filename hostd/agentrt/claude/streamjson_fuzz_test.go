package claude

import (
	"testing"
)

// FuzzStreamJSONEvent: any line parses or is rejected without panicking,
// and text extraction never panics on odd content shapes.
func FuzzStreamJSONEvent(f *testing.F) {
	f.Add([]byte(`{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"hi"}]}}`))
	f.Add([]byte(`{"type":"assistant","message":{"content":"plain"}}`))
	f.Add([]byte(`{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"x"}`))
	f.Add([]byte(`{"type":"user","message":null,"isReplay":true}`))
	f.Add([]byte(`{"type":"control_response","response":{"subtype":"success"}}`))
	f.Add([]byte(`{"type":1}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := parseEvent(line)
		if err != nil {
			return
		}
		if e.Type == "" {
			t.Fatal("accepted an event without a type")
		}
		_ = e.text()
	})
}

func TestTextJoinsOnlyTextBlocks(t *testing.T) {
	e, err := parseEvent([]byte(`{"type":"assistant","message":{"content":[{"type":"text","text":"a"},{"type":"tool_use","name":"Bash"},{"type":"thinking","thinking":"x"},{"type":"text","text":"b"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.text(); got != "a\n\nb" {
		t.Fatalf("text %q", got)
	}
}
