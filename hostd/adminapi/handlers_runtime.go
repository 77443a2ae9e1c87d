package adminapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/hostinfo"
)

// health: GET /v1/health. status is "degraded" when network controls are
// in error (or their state cannot be read) or any runtime is in error;
// deactivated, loading and awaiting_login runtimes are normal states.
func (a *api) health(r *http.Request, _ params) (reply, error) {
	ctx, cancel := callCtx(r, false)
	defer cancel()
	rts := a.runtimeViews()
	net := a.networkControls(ctx)
	out := healthJSON{
		Status:          "ok",
		AgentName:       a.cfg.AgentName,
		AgentRuntime:    runtimesJSON{Runtimes: rts},
		NetworkControls: net,
		HostRuntime:     hostRuntimeView(a.hostSnapshot()),
	}
	if net.Status != "active" {
		out.Status = "degraded"
	}
	for _, rt := range rts {
		if rt.Status == string(agentrt.StatusError) {
			out.Status = "degraded"
		}
	}
	return ok(out)
}

func (a *api) networkControls(ctx context.Context) statusJSON {
	st, err := a.cfg.Network.Status(ctx)
	if err != nil {
		a.log.Error().Err(err).Msg("read network controls status")
		return statusJSON{Status: "error", ErrorMessage: "the network state could not be read; see the admin service log"}
	}
	if st.Active() {
		return statusJSON{Status: "active"}
	}
	msg := st.PolicyError
	if st.PolicyValid {
		msg = "the network proxy is not listening"
	} else if msg == "" {
		msg = "the stored network policy is invalid"
	}
	return statusJSON{Status: "error", ErrorMessage: msg}
}

func (a *api) hostSnapshot() hostinfo.Snapshot {
	if a.cfg.HostInfo == nil {
		return hostinfo.Snapshot{}
	}
	s, err := a.cfg.HostInfo.Snapshot()
	if err != nil {
		a.log.Warn().Err(err).Msg("read host figures")
	}
	return s
}

func (a *api) runtimeViews() []runtimeJSON {
	states := a.cfg.Runtimes.States()
	out := make([]runtimeJSON, 0, len(states))
	for _, st := range states {
		ids := a.cfg.Tasks.ActiveTaskIDs(st.Type)
		if ids == nil {
			ids = []string{}
		}
		v := runtimeJSON{Type: string(st.Type), Status: string(st.Status), ActiveTaskIDs: ids}
		if st.Status == agentrt.StatusError {
			v.ErrorMessage = st.ErrorMessage
			if v.ErrorMessage == "" {
				v.ErrorMessage = "the runtime is in error"
			}
		}
		out = append(out, v)
	}
	return out
}

// runtimeStatus: GET /v1/agent-runtime/status.
func (a *api) runtimeStatus(*http.Request, params) (reply, error) {
	return ok(runtimesJSON{Runtimes: a.runtimeViews()})
}

// accounts: GET /v1/agent-runtime/account (no query parameters).
func (a *api) accounts(r *http.Request, _ params) (reply, error) {
	ctx, cancel := callCtx(r, false)
	defer cancel()
	list := a.cfg.Runtimes.Accounts(ctx)
	out := accountsJSON{Accounts: make([]accountJSON, 0, len(list))}
	for _, acc := range list {
		out.Accounts = append(out.Accounts, accountView(acc))
	}
	return ok(out)
}

// startLogin: POST /v1/agent-runtime/{codex,claude}-oauth-login.
func (a *api) startLogin(t agentrt.Type) handlerFunc {
	return func(r *http.Request, _ params) (reply, error) {
		if _, err := emptyBody(r); err != nil {
			return reply{}, err
		}
		if err := a.awaitingLogin(t); err != nil {
			return reply{}, err
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), loginCallTimeout)
		defer cancel()
		info, err := a.cfg.Runtimes.StartLogin(ctx, t)
		if err != nil {
			return reply{}, a.loginError(t, err)
		}
		return ok(loginView(info))
	}
}

// currentLogin: GET /v1/agent-runtime/{codex,claude}-oauth-login.
func (a *api) currentLogin(t agentrt.Type) handlerFunc {
	return func(r *http.Request, _ params) (reply, error) {
		if err := a.awaitingLogin(t); err != nil {
			return reply{}, err
		}
		ctx, cancel := callCtx(r, false)
		defer cancel()
		info, err := a.cfg.Runtimes.CurrentLogin(ctx, t)
		if err != nil {
			return reply{}, a.loginError(t, err)
		}
		return ok(loginView(info))
	}
}

// completeClaudeLogin: POST /v1/agent-runtime/claude-oauth-login/complete
// {"code"}.
func (a *api) completeClaudeLogin(r *http.Request, _ params) (reply, error) {
	body, err := readBody(r)
	if err != nil {
		return reply{}, err
	}
	code, err := decodeLoginCode(body)
	if err != nil {
		return reply{}, err
	}
	if err := a.awaitingLogin(agentrt.ClaudeCode); err != nil {
		return reply{}, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), loginCallTimeout)
	defer cancel()
	info, err := a.cfg.Runtimes.CompleteLogin(ctx, agentrt.ClaudeCode, code)
	if err != nil {
		return reply{}, a.loginError(agentrt.ClaudeCode, err)
	}
	return ok(loginView(info))
}

// decodeLoginCode decodes {"code"}: the code is written to the waiting
// CLI's stdin, so it must be one line of printable text — a newline would
// let a caller type further input into the CLI (pure; fuzzed).
func decodeLoginCode(body []byte) (string, error) {
	f, err := decodeFields(body, []string{"code"}, nil)
	if err != nil {
		return "", err
	}
	if strings.IndexFunc(f["code"], unicode.IsControl) >= 0 {
		return "", badRequest("code must be a single line without control characters")
	}
	code := strings.Trim(f["code"], " ")
	if code == "" || len(code) > maxLoginCodeLen {
		return "", badRequest("code must be 1 to %d characters", maxLoginCodeLen)
	}
	return code, nil
}

// awaitingLogin is the API's own check of the spec rule "login routes
// answer 409 unless that runtime is awaiting_login" (also when it is
// deactivated), made before the supervisor is asked; the supervisor checks
// again under its own lock.
func (a *api) awaitingLogin(t agentrt.Type) error {
	if st := a.cfg.Runtimes.State(t); st.Status != agentrt.StatusAwaitingLogin {
		return a.loginError(t, agentrt.ErrLoginState)
	}
	return nil
}

// loginError explains a failed login call:
//   - not awaiting_login → 409 naming the runtime's status (or the
//     supervisor's own reason when it is awaiting_login, e.g. no login in
//     progress);
//   - a step the runtime does not have → 409;
//   - anything else (the CLI failed, the code was refused) → 500 saying
//     the login failed; the detail, which may quote CLI output, goes only
//     to the log.
func (a *api) loginError(t agentrt.Type, err error) error {
	switch {
	case errors.Is(err, agentrt.ErrLoginState):
		st := a.cfg.Runtimes.State(t)
		if st.Status == agentrt.StatusAwaitingLogin {
			return errorf(http.StatusConflict, "%s", strip(err, agentrt.ErrLoginState))
		}
		return errorf(http.StatusConflict, "%s login is not possible now: the runtime is %s (logins need awaiting_login)", t, st.Status)
	case errors.Is(err, agentrt.ErrNotSupported):
		return errorf(http.StatusConflict, "%s does not support this login step", t)
	}
	e := errorf(http.StatusInternalServerError, "the %s login failed; see the admin service log", t)
	e.cause = err
	return e
}
