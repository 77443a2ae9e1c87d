package app

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrUsage marks a start-up failure caused by the command line (bad flag
// values); the command maps it to exit code 2.
var ErrUsage = errors.New("usage")

// devPassword returns the admin password for dev mode: fromEnv when set,
// else the one stored in path, else a new random one written to path
// (0600, never overwritten). generated reports the last case, the only
// one in which the password is printed.
func devPassword(fromEnv, path string) (password string, generated bool, err error) {
	if fromEnv != "" {
		return fromEnv, false, nil
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		pw := strings.TrimSpace(string(data))
		if pw == "" {
			return "", false, fmt.Errorf("%s is empty: delete it to generate a new admin password, or set %s", path, PasswordEnv)
		}
		return pw, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("read admin password: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("generate admin password: %w", err)
	}
	pw := base64.RawURLEncoding.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("store admin password: %w", err)
	}
	if _, err := f.WriteString(pw + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("store admin password: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", false, fmt.Errorf("store admin password: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("store admin password: %w", err)
	}
	return pw, true, nil
}

// writeListenJSON publishes the chosen addresses atomically, so a script
// polling for the file never reads half of it.
func writeListenJSON(path, admin, proxyAddr string) error {
	data, err := json.Marshal(map[string]string{"admin": admin, "proxy": proxyAddr})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".listen-*.json")
	if err != nil {
		return fmt.Errorf("write listen.json: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write listen.json: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write listen.json: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write listen.json: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write listen.json: %w", err)
	}
	return nil
}

// dialProbeTimeout bounds the proxy liveness probe of host-mode health.
const dialProbeTimeout = 500 * time.Millisecond
