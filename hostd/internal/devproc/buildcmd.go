package devproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var (
	cmdMu     sync.Mutex
	cmdBuilds = map[string]*cmdBuild{}
)

type cmdBuild struct {
	once sync.Once
	path string
	err  error
}

// BuildCommand compiles the main package at importPath once per test
// process (without the race detector: it is a test fixture, not the code
// under test) and returns the binary's path. Fakes such as a scripted
// agent CLI are built this way and handed to hostd with --codex-bin.
func BuildCommand(t testing.TB, importPath string) string {
	t.Helper()
	cmdMu.Lock()
	b := cmdBuilds[importPath]
	if b == nil {
		b = &cmdBuild{}
		cmdBuilds[importPath] = b
	}
	cmdMu.Unlock()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "devproc-cmd-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, path.Base(importPath))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", b.path, importPath).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", importPath, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}
