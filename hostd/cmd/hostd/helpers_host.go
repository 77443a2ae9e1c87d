package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// hostHelpers: reboot-host.
func hostHelpers() map[string]helperFunc {
	return map[string]helperFunc{"reboot-host": rebootHostHelper(realRebootDeps())}
}

// rebootDeps are what reboot-host touches, swappable in tests.
type rebootDeps struct {
	euid func() int
	// systemctl lists where systemctl may live; the first that exists is
	// used. Fixed absolute paths: the helper never consults PATH.
	systemctl []string
	exists    func(path string) bool
	run       func(ctx context.Context, path string, args []string) ([]byte, error)
}

func realRebootDeps() rebootDeps {
	return rebootDeps{
		euid:      os.Geteuid,
		systemctl: []string{"/usr/bin/systemctl", "/bin/systemctl"},
		exists: func(p string) bool {
			fi, err := os.Stat(p)
			return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
		},
		run: func(ctx context.Context, path string, args []string) ([]byte, error) {
			cmd := exec.CommandContext(ctx, path, args...)
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
			cmd.Stdin = nil
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			return out.Bytes(), err
		},
	}
}

// rebootHostHelper is `hostd helper reboot-host`: it takes no arguments
// and no input, must run as root (through its sudoers entry), and runs
// exactly `systemctl reboot`. Nothing the caller passes can change what it
// does.
func rebootHostHelper(d rebootDeps) helperFunc {
	return func(ctx context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
		if len(args) != 0 {
			return fmt.Errorf("%w: reboot-host takes no arguments", errUsage)
		}
		if d.euid() != 0 {
			return errors.New("reboot-host must run as root (through sudo)")
		}
		path := ""
		for _, p := range d.systemctl {
			if d.exists(p) {
				path = p
				break
			}
		}
		if path == "" {
			return fmt.Errorf("reboot-host: systemctl not found at %s", strings.Join(d.systemctl, " or "))
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		out, err := d.run(ctx, path, []string{"reboot"})
		if err != nil {
			msg := strings.TrimSpace(string(out))
			if len(msg) > 512 {
				msg = msg[:512]
			}
			return fmt.Errorf("reboot-host: systemctl reboot: %w: %s", err, msg)
		}
		_, _ = fmt.Fprintln(stdout, "reboot requested")
		return nil
	}
}
