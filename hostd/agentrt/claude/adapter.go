// Package claude drives the Claude Code CLI: one `claude -p` stream-json
// process per turn (resumed by session id), steering as further user
// lines, interrupt by control request with a process-group kill as the
// fallback, `claude auth status` probes and the `claude auth login` flow.
//
// It owns the processes it starts and never leaves one behind; it never
// edits Claude's own settings or credentials.
package claude

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// Options configures an Adapter.
type Options struct {
	// Starter starts claude processes (dev: direct exec; host: helper).
	Starter agentproc.Starter
	// ProbeTimeout bounds `claude auth status` (default 30 s).
	ProbeTimeout time.Duration
	// StartTimeout bounds the login's wait for its URL (default 30 s).
	StartTimeout time.Duration
	// LoginTTL is how long a login waits for the operator's code
	// (default 10 min).
	LoginTTL time.Duration
	// InterruptGrace: how long Kill waits for the interrupt control
	// request to end the turn before killing the process (default 500 ms).
	InterruptGrace time.Duration
	Now            func() time.Time
	Log            zerolog.Logger
}

// Adapter is the Claude Code runtime adapter.
type Adapter struct {
	opts Options

	mu      sync.Mutex
	running map[*turn]struct{}
	epoch   int // counts CloseAll calls (see StartTurn)
}

var _ agentrt.LoginAdapter = (*Adapter)(nil)

// New returns an adapter.
func New(o Options) *Adapter {
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 30 * time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.LoginTTL <= 0 {
		o.LoginTTL = 10 * time.Minute
	}
	if o.InterruptGrace <= 0 {
		o.InterruptGrace = 500 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Log = o.Log.With().Str(logging.FieldRuntime, string(agentrt.ClaudeCode)).Logger()
	return &Adapter{opts: o, running: map[*turn]struct{}{}}
}

// Type implements agentrt.Adapter.
func (a *Adapter) Type() agentrt.Type { return agentrt.ClaudeCode }

// TurnArgs is the fixed argument list of a turn process; resume adds
// --resume <id>. The host-mode helper builds the same list itself.
func TurnArgs(resume string) []string {
	args := []string{
		"-p",
		"--input-format", "stream-json",
		"--output-format", "stream-json",
		"--verbose", // stream-json output requires it
		"--strict-mcp-config",
		"--permission-mode", "bypassPermissions",
		// Each user line is echoed when the CLI takes it up: how the
		// adapter knows which result covers the last steer.
		"--replay-user-messages",
	}
	if resume != "" {
		args = append(args, "--resume", resume)
	}
	return args
}

// uuidRE is the shape of a Claude session id.
var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ValidSessionID reports whether s can be passed to --resume.
func ValidSessionID(s string) bool { return uuidRE.MatchString(s) }

func turnSpec(resume string) agentproc.Spec {
	var helper []string
	if resume != "" {
		helper = []string{"--resume", resume}
	}
	return agentproc.Spec{Runtime: agentrt.ClaudeCode, Args: TurnArgs(resume), HelperArgs: helper}
}

// Probe runs `claude auth status`, which prints JSON and exits 1 when
// logged out.
func (a *Adapter) Probe(ctx context.Context) (agentrt.ProbeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, a.opts.ProbeTimeout)
	defer cancel()
	out, err := a.runShort(ctx, []string{"auth", "status"})
	var st struct {
		LoggedIn   *bool  `json:"loggedIn"`
		AuthMethod string `json:"authMethod"`
	}
	if jerr := json.Unmarshal(out, &st); jerr != nil || st.LoggedIn == nil {
		if err == nil {
			err = fmt.Errorf("output is not the status JSON")
		}
		return agentrt.ProbeResult{}, fmt.Errorf("claude auth status: %w", err)
	}
	return agentrt.ProbeResult{LoggedIn: *st.LoggedIn, Detail: "auth method " + st.AuthMethod}, nil
}

// runShort runs a claude subcommand to completion and returns its stdout
// (bounded to 1 MiB).
func (a *Adapter) runShort(ctx context.Context, args []string) ([]byte, error) {
	p, err := a.opts.Starter.Start(ctx, agentproc.Spec{Runtime: agentrt.ClaudeCode, Args: args, HelperArgs: args})
	if err != nil {
		return nil, err
	}
	p.CloseStdin()
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := readLimited(p, 1<<20)
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		<-p.Done()
		_ = p.Kill(kctx)
		if r.err != nil {
			return r.b, r.err
		}
		return r.b, p.ExitErr()
	case <-ctx.Done():
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = p.Kill(kctx)
		<-ch
		return nil, fmt.Errorf("claude %v: %w", args, ctx.Err())
	}
}

// CloseAll kills every running turn and returns after they exited.
func (a *Adapter) CloseAll(ctx context.Context) error {
	a.mu.Lock()
	a.epoch++
	turns := make([]*turn, 0, len(a.running))
	for t := range a.running {
		turns = append(turns, t)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(turns))
	for i, t := range turns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.Kill(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
