package proxystate

import (
	"strings"
	"unicode/utf8"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// Per-field length caps of a stored event (bytes, marker included).
const (
	MaxEventHost     = 253
	MaxEventPath     = 2048
	MaxEventQuery    = 2048
	MaxEventReason   = 512
	MaxEventMethod   = 32
	MaxEventProtocol = 8
	truncMarker      = "...[truncated]"
)

// capEvent bounds every string field of an event, so a hostile request
// line cannot make one event (or the log) large.
func capEvent(ev netstate.Event) netstate.Event {
	ev.Host = capField(ev.Host, MaxEventHost)
	ev.Path = capField(ev.Path, MaxEventPath)
	ev.Query = capField(ev.Query, MaxEventQuery)
	ev.Reason = capField(ev.Reason, MaxEventReason)
	ev.Method = capField(ev.Method, MaxEventMethod)
	ev.Protocol = capField(ev.Protocol, MaxEventProtocol)
	ev.Decision = capField(ev.Decision, 16)
	return ev
}

// capField makes s valid UTF-8 and at most limit bytes, ending in
// truncMarker when it was cut (cut on a rune boundary).
func capField(s string, limit int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= limit {
		return s
	}
	if limit <= len(truncMarker) {
		return truncMarker[:limit]
	}
	cut := limit - len(truncMarker)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncMarker
}
