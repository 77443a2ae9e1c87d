package policy

import (
	"strings"
	"testing"
)

func TestCheckWebSearch(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		ok     bool
		reason string
	}{
		{"empty body", ``, true, ""},
		{"no tools", `{"model":"gpt-5","input":"hi"}`, true, ""},
		{"function tool", `{"tools":[{"type":"function","name":"shell"}]}`, true, ""},
		{"preview tool", `{"tools":[{"type":"web_search_preview"}]}`, false, `"web_search_preview"`},
		{"dated preview tool", `{"tools":[{"type":"web_search_preview_2025_03_11"}]}`, false, "web_search_preview_2025_03_11"},
		{"web_search without flag", `{"tools":[{"type":"web_search"}]}`, false, "external_web_access"},
		{"web_search flag true", `{"tools":[{"type":"web_search","external_web_access":true}]}`, false, "external_web_access"},
		{"web_search flag string", `{"tools":[{"type":"web_search","external_web_access":"false"}]}`, false, "external_web_access"},
		{"web_search flag null", `{"tools":[{"type":"web_search","external_web_access":null}]}`, false, "external_web_access"},
		{"web_search flag 0", `{"tools":[{"type":"web_search","external_web_access":0}]}`, false, "external_web_access"},
		{"web_search cached only", `{"tools":[{"type":"web_search","external_web_access":false}]}`, true, ""},
		{"flag before type", `{"tools":[{"external_web_access":false,"type":"web_search"}]}`, true, ""},
		{"dated web_search needs flag", `{"tools":[{"type":"web_search_2025_08_26"}]}`, false, "web_search_2025_08_26"},
		{"dated web_search cached", `{"tools":[{"type":"web_search_2025_08_26","external_web_access":false}]}`, true, ""},
		{"history item is not a tool", `{"input":[{"type":"web_search_call","status":"completed"}]}`, true, ""},
		{"text mentioning web_search", `{"input":[{"type":"message","content":"please use web_search_preview"}]}`, true, ""},
		{"nested tools", `{"a":{"b":[{"c":{"tools":[{"type":"web_search_preview"}]}}]}}`, false, "web_search_preview"},
		{"tool outside a tools array", `{"tool_choice":{"type":"web_search_preview"}}`, false, "web_search_preview"},
		{"upper case type", `{"tools":[{"type":"WEB_SEARCH_PREVIEW"}]}`, false, "web_search_preview"},
		{"escaped type", `{"tools":[{"type":"web\u005fsearch\u005fpreview"}]}`, false, "web_search_preview"},
		{"escaped key", `{"tools":[{"\u0074ype":"web_search"}]}`, false, "external_web_access"},
		{"fully escaped letters", `{"tools":[{"type":"\u0077\u0065\u0062\u005f\u0073\u0065\u0061\u0072\u0063\u0068"}]}`, false, "external_web_access"},
		{"duplicate type keys, first bad", `{"tools":[{"type":"web_search_preview","type":"function"}]}`, false, "web_search_preview"},
		{"duplicate type keys, last bad", `{"tools":[{"type":"function","type":"web_search"}]}`, false, "external_web_access"},
		{"duplicate flag, one true", `{"tools":[{"type":"web_search","external_web_access":false,"external_web_access":true}]}`, false, "external_web_access"},
		{"upper-case flag key true", `{"tools":[{"type":"web_search","external_web_access":false,"External_Web_Access":true}]}`, false, "external_web_access"},
		{"second of several values", `{"ok":1}` + "\n" + `{"tools":[{"type":"web_search_preview"}]}`, false, "web_search_preview"},
		{"websocket message shape", `{"type":"response.create","response":{"tools":[{"type":"web_search"}]}}`, false, "external_web_access"},
		{"unparsable after a bad tool", `{"tools":[{"type":"web_search_preview"}`, false, "web_search_preview"},
		{"unparsable before the tool closes", `{"tools":[{"type":"web_search_preview"`, false, "not valid JSON"},
		{"unparsable with escaped letter", `{"tools":[{"type":"web\u005fsearch"`, false, "not valid JSON"},
		{"unparsable without mention", `{"tools":[`, true, ""},
		{"plain text without mention", `hello`, true, ""},
		{"plain text mentioning web_search", `use Web_Search please`, false, "not valid JSON"},
		{"harmless escape", `{"input":"line\u000aansi \u001b[0m"}`, true, ""},
		{"type not a string", `{"tools":[{"type":["web_search"]}]}`, true, ""},
		{"array of strings only", `["web_search","web_search_preview"]`, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := CheckWebSearch([]byte(tc.body))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (reason %q)", ok, tc.ok, reason)
			}
			if !strings.Contains(reason, tc.reason) {
				t.Fatalf("reason %q, want %q", reason, tc.reason)
			}
			if ok && reason != "" {
				t.Fatalf("allowed with a reason %q", reason)
			}
		})
	}
}

func TestCheckWebSearchDeepNestingIsBoundedAndDenied(t *testing.T) {
	body := strings.Repeat(`{"a":`, maxJSONDepth+1) + `"web_search"` + strings.Repeat(`}`, maxJSONDepth+1)
	ok, reason := CheckWebSearch([]byte(body))
	if ok || !strings.Contains(reason, "nested deeper") {
		t.Fatalf("ok=%v reason=%q", ok, reason)
	}
	// Deep but within bounds and clean.
	body = strings.Repeat(`[`, 500) + `{"type":"web_search","external_web_access":false}` + strings.Repeat(`]`, 500)
	if ok, reason := CheckWebSearch([]byte(body)); !ok {
		t.Fatalf("clean deep body denied: %s", reason)
	}
}

func TestMayMentionWebSearchPreFilterIsSound(t *testing.T) {
	// Everything the pre-filter lets through unparsed must be free of the
	// word after decoding; these must all go to the parser.
	for _, s := range []string{`web_search`, `WEB_SEARCH`, `wEb_SeArCh`, `\u0077`, `\u005F`, `\u0053`, `\u00`, `\uzzzz`} {
		if !mayMentionWebSearch([]byte(s)) {
			t.Errorf("pre-filter skipped %q", s)
		}
	}
	for _, s := range []string{``, `web search`, `websearch`, `\u001b`, `\u00e9`, `web_searc`} {
		if mayMentionWebSearch([]byte(s)) {
			t.Errorf("pre-filter flagged harmless %q", s)
		}
	}
}
