// Package agentrt defines what the host needs of an agent runtime (a CLI
// such as Codex or Claude Code): the runtime types and statuses, the Adapter
// interface that each CLI adapter implements, and the login and account
// shapes the admin API exposes.
//
// The orchestrator talks only to these interfaces and never knows which CLI
// runs a turn. This package holds no processes and does no I/O.
//
// (The directory is agentrt rather than runtime so that it does not shadow
// the standard library's runtime package.)
package agentrt

import (
	"context"
	"errors"
	"time"
)

// Type names a runtime as the API spells it.
type Type string

// The two runtimes the product offers.
const (
	Codex      Type = "codex"
	ClaudeCode Type = "claude_code"
)

// Types lists every product runtime in the order the API reports them.
var Types = []Type{Codex, ClaudeCode}

// ParseType accepts exactly the API spellings.
func ParseType(s string) (Type, bool) {
	switch Type(s) {
	case Codex, ClaudeCode:
		return Type(s), true
	}
	return "", false
}

// Provider is the managed provider (policy key and account-pin name) that
// a runtime's model traffic depends on: "openai" or "claude".
func (t Type) Provider() string {
	switch t {
	case Codex:
		return "openai"
	case ClaudeCode:
		return "claude"
	}
	return ""
}

// Status is a runtime's place in the status machine of runtimes.md.
type Status string

// Runtime statuses.
const (
	StatusDeactivated   Status = "deactivated"
	StatusLoading       Status = "loading"
	StatusAwaitingLogin Status = "awaiting_login"
	StatusActive        Status = "active"
	StatusError         Status = "error"
)

// State is one runtime's current status as health and the status route
// report it.
type State struct {
	Type         Type
	Status       Status
	ErrorMessage string // only when Status == StatusError
}

// Outcome is how a turn ended.
type Outcome string

// Turn outcomes.
const (
	OutcomeCompleted   Outcome = "completed"
	OutcomeFailed      Outcome = "failed"
	OutcomeInterrupted Outcome = "interrupted"
)

// Errors adapters and supervisors return; callers test with errors.Is.
var (
	// ErrTurnEnded: the turn is over (or past its last steering point) and
	// cannot take a steer.
	ErrTurnEnded = errors.New("turn has ended")
	// ErrNotSupported: the runtime has no such operation (for example,
	// completing a login with a code on Codex).
	ErrNotSupported = errors.New("not supported by this runtime")
	// ErrLoginState: a login route was called while the runtime is not in a
	// state that allows it (the API answers 409).
	ErrLoginState = errors.New("runtime is not awaiting login")
)

// ProbeResult is what a status probe learned.
type ProbeResult struct {
	LoggedIn bool
	// Detail is a short, secret-free description (auth method, account
	// kind) for logs.
	Detail string
}

// TurnRequest describes one agent turn.
type TurnRequest struct {
	// ThreadID is the host's thread id; adapters key warm processes on it.
	ThreadID string
	// SessionID is the runtime's own conversation id recorded for the
	// thread (Codex thread id, Claude session id); empty starts a new
	// conversation.
	SessionID string
	// Input is the task text.
	Input string
	// OnSession is called as soon as the runtime conversation id is known
	// (possibly more than once with the same id). May be nil.
	OnSession func(sessionID string)
	// OnMessage is called for each completed agent message, in order.
	// May be nil. Callbacks run on the adapter's goroutine and must not
	// block for long.
	OnMessage func(text string)
}

// Result is the end of a turn.
type Result struct {
	Outcome Outcome
	// Output is the last completed agent message of the turn.
	Output string
	// Error explains a failed turn in words safe to show an operator.
	Error string
	// SessionID is the runtime conversation id the turn ran in.
	SessionID string
}

// Turn is one running agent turn.
type Turn interface {
	// Steer delivers more user input into the running turn. It returns
	// ErrTurnEnded when the turn can no longer take it; the caller then
	// keeps the steer as recorded but undelivered.
	Steer(ctx context.Context, text string) error
	// Kill ends the turn at once by terminating its process (and process
	// group) and returns only after the process has exited. Wait then
	// returns OutcomeInterrupted. Safe to call more than once and after
	// the turn ended.
	Kill(ctx context.Context) error
	// Wait blocks until the turn ends. When it returns, no process of this
	// turn is still writing on its behalf: it has exited or is idle in the
	// adapter's warm pool.
	Wait(ctx context.Context) (Result, error)
}

// Adapter drives one agent CLI.
type Adapter interface {
	Type() Type
	// Probe reports whether the CLI is logged in. It leaves no process
	// behind.
	Probe(ctx context.Context) (ProbeResult, error)
	// StartTurn starts one turn and returns once the input was handed to
	// the CLI. The turn runs until it completes, fails or is killed; the
	// ctx bounds only the start.
	StartTurn(ctx context.Context, req TurnRequest) (Turn, error)
	// CloseAll stops every process the adapter keeps (running turns end as
	// interrupted, warm servers exit) and returns after they exited.
	CloseAll(ctx context.Context) error
}

// LoginInfo is the state of a provider login in progress, as the login
// routes return it.
type LoginInfo struct {
	// Status is "awaiting_login" (Codex device code) or "awaiting_code"
	// (Claude, waiting for the pasted browser code).
	Status     string
	DeviceCode string // Codex only
	LoginURL   string
	ExpiresAt  time.Time
}

// Account is the account metadata read from the agent home after a login.
// TokenSHA256 is the pin for the Anthropic guard; it is a hash, never the
// token.
type Account struct {
	AccountID      string
	OrganizationID string
	Email          string
	TokenSHA256    string
}

// AccountInfo is one entry of GET /v1/agent-runtime/account.
type AccountInfo struct {
	Type    Type
	Status  Status
	Account Account
}

// Supervisor owns each runtime's status machine, the status poller, the
// login flows and the account pins. The admin API and the orchestrator use
// it through this interface.
type Supervisor interface {
	// States reports every runtime, in the order of Types.
	States() []State
	// State reports one runtime.
	State(t Type) State
	// Accounts reports the stored account metadata of every runtime.
	Accounts(ctx context.Context) []AccountInfo
	// StartLogin starts a login flow; ErrLoginState unless the runtime is
	// awaiting_login.
	StartLogin(ctx context.Context, t Type) (LoginInfo, error)
	// CurrentLogin returns the login in progress; ErrLoginState when there
	// is none or the runtime is not awaiting_login.
	CurrentLogin(ctx context.Context, t Type) (LoginInfo, error)
	// CompleteLogin hands the operator's browser code to the waiting CLI
	// (Claude); ErrNotSupported for Codex.
	CompleteLogin(ctx context.Context, t Type, code string) (LoginInfo, error)
	// ProvidersChanged tells the supervisor which managed providers the
	// newly stored policy turns on (keys "openai", "claude"); it
	// deactivates, clears pins and re-probes as needed.
	ProvidersChanged(ctx context.Context, enabled map[string]bool)
}

// StatusListener is told of every status change, after it happened. The
// orchestrator implements it: leaving active fails that runtime's running
// tasks and closes its processes; entering active lets queued tasks run.
type StatusListener interface {
	RuntimeStatusChanged(t Type, from, to Status)
}

// LoginFlow is one provider login in progress, owned by the supervisor.
// (Added by the runtimes work: the adapters start logins, the supervisor
// drives them.)
type LoginFlow interface {
	// Info is what the login routes show (code, URL, expiry).
	Info() LoginInfo
	// SubmitCode hands the operator's browser code to the waiting CLI
	// (Claude); ErrNotSupported for Codex's device-code flow.
	SubmitCode(ctx context.Context, code string) error
	// Done is closed when the flow ended (success, failure or expiry).
	Done() <-chan struct{}
	// Err is nil when the login succeeded; valid after Done.
	Err() error
	// Close abandons the flow and ends its process.
	Close()
}

// LoginAdapter is an Adapter that can also start a login flow.
type LoginAdapter interface {
	Adapter
	StartLogin(ctx context.Context) (LoginFlow, error)
}
