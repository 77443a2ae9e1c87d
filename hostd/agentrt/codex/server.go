package codex

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// appServer is one running `codex app-server` process and its connection.
type appServer struct {
	proc *agentproc.Process
	conn *conn
	log  zerolog.Logger
	// readDone is closed when the read loop ended.
	readDone chan struct{}

	// Pool bookkeeping, guarded by the adapter's pool lock.
	hostThread string // host thread id it is bound to
	codexID    string // Codex thread id loaded in it
	lastUsed   time.Time
}

// startServer starts an app-server and completes the handshake.
func (a *Adapter) startServer(ctx context.Context) (*appServer, error) {
	proc, err := a.opts.Starter.Start(ctx, agentproc.Spec{Runtime: agentrt.Codex, Args: AppServerArgs()})
	if err != nil {
		return nil, fmt.Errorf("start codex app-server: %w", err)
	}
	log := a.opts.Log.With().Int(logging.FieldPID, proc.Pid()).Logger()
	s := &appServer{proc: proc, log: log, readDone: make(chan struct{})}
	s.conn = newConn(proc.Stdin, log)
	s.conn.onRequest = s.answerServerRequest
	go func() {
		defer close(s.readDone)
		err := s.conn.readLoop(proc.Stdout)
		proc.Stdout.Close()
		log.Debug().Err(err).Msg("codex app-server: read loop ended")
	}()
	hctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	var init struct {
		UserAgent string `json:"userAgent"`
	}
	err = s.conn.call(hctx, "initialize", map[string]any{
		"clientInfo":   map[string]string{"name": "trustyclaw", "title": "TrustyClaw", "version": a.opts.ClientVersion},
		"capabilities": map[string]any{"experimentalApi": true},
	}, &init)
	if err == nil {
		err = s.conn.notify("initialized", nil)
	}
	if err != nil {
		s.close(context.WithoutCancel(ctx), 0)
		return nil, fmt.Errorf("codex app-server handshake: %w", s.explain(err))
	}
	log.Debug().Str("user_agent", init.UserAgent).Msg("codex app-server: ready")
	return s, nil
}

// explain adds the process's exit to an error caused by its death.
func (s *appServer) explain(err error) error {
	select {
	case <-s.proc.Done():
		return fmt.Errorf("%w (process ended: %v)", err, exitText(s.proc.ExitErr()))
	default:
		return err
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// alive reports whether the process and its connection are usable.
func (s *appServer) alive() bool {
	select {
	case <-s.proc.Done():
		return false
	default:
	}
	return s.conn.err() == nil
}

// close ends the process: stdin closed (Codex exits within ~0.1 s), then
// the group is killed after grace. It returns after the process exited.
func (s *appServer) close(ctx context.Context, grace time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, grace+10*time.Second)
	defer cancel()
	if err := s.proc.Stop(ctx, grace); err != nil {
		s.log.Warn().Err(err).Msg("codex app-server: stop")
	}
	<-s.readDone
}

// answerServerRequest answers Codex's requests to the client. The host
// runs Codex in full auto, so approvals are granted (approval_policy is
// "never", so they should not even come); anything that needs a human or
// credentials the host does not hand out is refused.
func (s *appServer) answerServerRequest(method string, _ json.RawMessage) (any, *rpcError) {
	s.log.Info().Str(logging.FieldMethod, method).Msg("codex app-server: server request")
	switch method {
	case "item/commandExecution/requestApproval", "item/fileChange/requestApproval":
		return map[string]any{"decision": "accept"}, nil
	case "execCommandApproval", "applyPatchApproval":
		return map[string]any{"decision": "approved"}, nil
	case "item/permissions/requestApproval":
		// Grant nothing beyond the configured sandbox.
		return map[string]any{"permissions": map[string]any{}, "scope": "turn"}, nil
	case "mcpServer/elicitation/request":
		return map[string]any{"action": "decline"}, nil
	case "item/tool/requestUserInput":
		return map[string]any{"answers": map[string]any{}}, nil
	}
	return nil, &rpcError{Code: codeMethodNotFound, Message: "not supported by this host: " + method}
}
