package fakemodel

import (
	"errors"
	"os"
	"path/filepath"
)

// CLIDirEnv names the directory `make agent-clis` installs into.
const CLIDirEnv = "TRUSTYCLAW_AGENT_CLI_DIR"

// FindCLI returns the installed pinned CLI binary ("codex" or "claude"):
// from $TRUSTYCLAW_AGENT_CLI_DIR, else .cache/agent-clis under the module
// root (found by walking up from the working directory to go.mod).
func FindCLI(name string) (string, error) {
	dir := os.Getenv(CLIDirEnv)
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, ".cache", "agent-clis")
				break
			}
			if filepath.Dir(d) == d {
				return "", errors.New("module root not found")
			}
		}
	}
	bin := filepath.Join(dir, "node_modules", ".bin", name)
	if _, err := os.Stat(bin); err != nil {
		return "", errors.New(name + " not installed in " + dir + " (run `make agent-clis`)")
	}
	return bin, nil
}
