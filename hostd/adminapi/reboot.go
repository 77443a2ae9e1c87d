package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// rebootTimeout bounds the reboot helper run.
const rebootTimeout = 2 * time.Minute

// reboot: POST /v1/host-runtime/reboot → {"status":"accepted"}; the reboot
// runs after the response has been sent and its idempotency record
// committed, so a replay of the same key never reboots again.
func (a *api) reboot(r *http.Request, _ params) (reply, error) {
	if _, err := emptyBody(r); err != nil {
		return reply{}, err
	}
	if err := a.cfg.Rebooter.Available(); err != nil {
		return reply{}, errorf(http.StatusConflict, "%s", err.Error())
	}
	reqID := infoOf(r).id
	ctx := context.WithoutCancel(r.Context())
	return reply{status: http.StatusOK, body: accepted, after: func() {
		ctx, cancel := context.WithTimeout(ctx, rebootTimeout)
		defer cancel()
		a.log.Warn().Str(fieldRequestID, reqID).Msg("rebooting the host on the operator's request")
		if err := a.cfg.Rebooter.Reboot(ctx); err != nil {
			a.log.Error().Err(err).Str(fieldRequestID, reqID).Msg("reboot failed")
		}
	}}, nil
}

// ErrRebootUnavailable is what LocalRebooter answers.
var ErrRebootUnavailable = errors.New("reboot is not available in local mode")

// LocalRebooter is the dev-mode Rebooter: a laptop is never rebooted.
type LocalRebooter struct{}

// Available always refuses.
func (LocalRebooter) Available() error { return ErrRebootUnavailable }

// Reboot always refuses.
func (LocalRebooter) Reboot(context.Context) error { return ErrRebootUnavailable }

// HelperRunner runs one root-owned helper by name (sudohelper.Runner
// satisfies it).
type HelperRunner interface {
	Run(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error)
}

// RebootHelper is the helper HelperRebooter runs.
const RebootHelper = "reboot-host"

// HelperRebooter is the host-mode Rebooter: it runs the reboot-host helper
// (no arguments, no input) through the sudo helper runner.
type HelperRebooter struct {
	Runner HelperRunner
}

// Available reports whether a runner is configured.
func (h HelperRebooter) Available() error {
	if h.Runner == nil {
		return errors.New("reboot is not configured on this host")
	}
	return nil
}

// Reboot runs the helper and waits for it.
func (h HelperRebooter) Reboot(ctx context.Context) error {
	if err := h.Available(); err != nil {
		return err
	}
	if _, err := h.Runner.Run(ctx, RebootHelper, nil, nil); err != nil {
		return fmt.Errorf("run the %s helper: %w", RebootHelper, err)
	}
	return nil
}
