package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/proxystate"
	"github.com/trustyclaw/trustyclaw/hostd/sudohelper"
)

// The network helpers' fixed environment (docs/helpers.md).
const (
	proxyStateDir = "/mnt/trustyclaw-admin/proxy-state"
	proxyUser     = "trustyclaw-proxy"
	proxyUID      = 47742
	// helperStateDirEnv points the helpers at another state directory. It
	// is honoured only when the helper does not run as root (dev, tests)
	// or inside a Go test binary; under sudo (root; sudo resets the
	// environment anyway) the fixed directory is always used, so the
	// admin user cannot aim a helper at another directory.
	helperStateDirEnv = "TRUSTYCLAW_HELPER_STATE_DIR"
	// networkHelperTimeout bounds one helper run.
	networkHelperTimeout = 30 * time.Second
)

// networkHelpers: update-network-policy, read-network-state,
// update-provider-account (owned by the proxy work).
func networkHelpers() map[string]helperFunc {
	deps := realNetworkHelperDeps()
	out := map[string]helperFunc{}
	for _, name := range []string{proxystate.HelperUpdatePolicy, proxystate.HelperReadState, proxystate.HelperUpdateAccount} {
		out[name] = networkHelper(name, deps)
	}
	return out
}

// networkHelperDeps is what the helpers consult about their environment,
// swappable in tests.
type networkHelperDeps struct {
	euid      func() int
	getenv    func(string) string
	inTestBin func() bool
	demote    func() error
}

func realNetworkHelperDeps() networkHelperDeps {
	return networkHelperDeps{
		euid:      os.Geteuid,
		getenv:    os.Getenv,
		inTestBin: testing.Testing,
		demote:    func() error { return sudohelper.DemoteToUser(proxyUser, proxyUID) },
	}
}

// stateDir picks the state directory and whether to demote first.
func (d networkHelperDeps) stateDir() (dir string, demote bool) {
	root := d.euid() == 0
	if o := d.getenv(helperStateDirEnv); o != "" && (!root || d.inTestBin()) {
		return o, false
	}
	return proxyStateDir, root
}

// prepareNetworkHelper demotes (as root) and checks the state directory.
func prepareNetworkHelper(deps networkHelperDeps) error {
	dir, demote := deps.stateDir()
	if demote {
		if err := deps.demote(); err != nil {
			return fmt.Errorf("demote to %s: %w", proxyUser, err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("proxy state directory: %w", err)
	}
	if !fi.IsDir() {
		return errors.New("proxy state directory " + dir + " is not a directory")
	}
	return nil
}

// networkHelper runs one network helper: as root it demotes to the proxy
// user before touching anything, then runs the helper against the state
// directory. The helper prints one JSON object (result or error).
func networkHelper(name string, deps networkHelperDeps) helperFunc {
	return func(ctx context.Context, args []string, stdin io.Reader, stdout, _ io.Writer) error {
		if err := prepareNetworkHelper(deps); err != nil {
			_ = proxystate.WriteHelperError(stdout, err) // one JSON object, also now
			return err
		}
		dir, _ := deps.stateDir()
		ctx, cancel := context.WithTimeout(ctx, networkHelperTimeout)
		defer cancel()
		return proxystate.RunHelper(ctx, proxystate.NewDir(dir, nil), name, args, stdin, stdout)
	}
}
