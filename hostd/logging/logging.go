// Package logging builds the zerolog loggers every hostd component uses, so
// that field names stay stable across the codebase. It never decides what
// to log; callers must never pass a password, token or key as a field.
package logging

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// Stable field names. Use these constants instead of literals so a log
// query written today still works tomorrow.
const (
	FieldComponent = "component"
	FieldTaskID    = "task_id"
	FieldThreadID  = "thread_id"
	FieldRuntime   = "runtime"
	FieldHost      = "host"
	FieldDecision  = "decision"
	FieldReason    = "reason"
	FieldMethod    = "method"
	FieldPath      = "path"
	FieldStatus    = "status"
	FieldSeq       = "seq"
	FieldPID       = "pid"
	FieldAddr      = "addr"
)

// Options chooses where and how logs are written.
type Options struct {
	Writer  io.Writer // default os.Stderr
	Console bool      // human-readable console output instead of JSON lines
	Level   zerolog.Level
}

// New returns the root logger.
func New(o Options) zerolog.Logger {
	w := o.Writer
	if w == nil {
		w = os.Stderr
	}
	if o.Console {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(o.Level).With().Timestamp().Logger()
}

// Nop is a logger that drops everything, for tests that do not read logs.
func Nop() zerolog.Logger { return zerolog.Nop() }
