package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/adminapi/auth"
	"github.com/trustyclaw/trustyclaw/hostd/app"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/sudohelper"
)

// runAdminAPI runs the admin API service (host mode).
func runAdminAPI(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("hostd admin-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o app.HostOptions
	fs.StringVar(&o.AgentName, "agent-name", "", "the host's agent_name (required)")
	fs.StringVar(&o.StateDir, "state-dir", app.DefaultAdminStateDir, "admin state directory")
	fs.StringVar(&o.Listen, "listen", app.DefaultAdminListen, "admin API address")
	fs.StringVar(&o.ProxyAddr, "proxy-addr", app.DefaultProxyAddr, "address of the proxy service (health probes it)")
	fs.StringVar(&o.HelperDir, "helper-dir", sudohelper.DefaultDir, "directory of the root-owned sudo helpers")
	fs.StringVar(&o.AgentHome, "agent-home", app.DefaultAgentHome, "the agent user's home")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := refuseRoot("hostd admin-api", "trustyclaw-admin"); err != nil {
		return err
	}
	o.Log = logging.New(logging.Options{Writer: stderr, Level: zerolog.InfoLevel})
	return app.RunAdminHost(ctx, o) // app.ErrUsage is errUsage: exits 2
}

// runHashPassword reads the admin password from stdin and writes its
// argon2id hash to --out (0600, atomically). The bootstrap uses it so the
// host stores only the hash.
func runHashPassword(_ context.Context, args []string, stdin io.Reader, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("hostd hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", filepath.Join(app.DefaultAdminStateDir, app.PasswordHashFile), "file to write the hash to")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(stdin, 4097))
	if err != nil {
		return fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(string(raw), "\r\n")
	switch {
	case len(raw) > 4096:
		return fmt.Errorf("%w: password longer than 4096 bytes", errUsage)
	case len(pw) < 12:
		return fmt.Errorf("%w: the admin password must be at least 12 characters", errUsage)
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".admin-password-*")
	if err != nil {
		return fmt.Errorf("write hash: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(hash + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("write hash: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write hash: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write hash: %w", err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("write hash: %w", err)
	}
	return nil
}

// parseFlags parses a subcommand's flags and refuses stray arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
