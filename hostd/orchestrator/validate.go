package orchestrator

import (
	"fmt"
	"unicode/utf8"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// MaxThreadIDLen is the longest thread_id.
const MaxThreadIDLen = 128

// validRuntime accepts exactly the API spellings of the runtimes.
func validRuntime(rt agentrt.Type) error {
	if _, ok := agentrt.ParseType(string(rt)); !ok {
		return fmt.Errorf("%w: agent_runtime %q is not one of \"codex\", \"claude_code\"", tasks.ErrInvalid, rt)
	}
	return nil
}

// validThreadID: 1–128 characters of [A-Za-z0-9._:-].
func validThreadID(id string) error {
	if id == "" || len(id) > MaxThreadIDLen {
		return fmt.Errorf("%w: thread_id must be 1–%d characters, got %d", tasks.ErrInvalid, MaxThreadIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return fmt.Errorf("%w: thread_id may contain only letters, digits and . _ : - (found %q at position %d)", tasks.ErrInvalid, c, i+1)
		}
	}
	return nil
}

// validText: valid UTF-8, 1–MaxInputChars characters (not bytes).
func validText(field, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", tasks.ErrInvalid, field)
	}
	n := utf8.RuneCountInString(s)
	if n == 0 || n > tasks.MaxInputChars {
		return fmt.Errorf("%w: %s must be 1–%d characters, got %d", tasks.ErrInvalid, field, tasks.MaxInputChars, n)
	}
	return nil
}
