package bootstrap

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shell files are valid bash/sh, and shellcheck finds nothing.
func TestShellSyntax(t *testing.T) {
	needTool(t, "bash")
	dir := t.TempDir()
	ud, err := RenderUserData(UserData{OperatorPublicKey: testAuthorizedKey(t, "op"), DeployPublicKey: testAuthorizedKey(t, "deploy")})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"bootstrap.sh": readFile(t, "bootstrap.sh"), "user-data.sh": ud}
	helpers, err := fs.ReadDir(Files, "helpers")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range helpers {
		files["helper-"+h.Name()] = readFile(t, "helpers/"+h.Name())
	}
	for name, content := range files {
		p := writeTemp(t, dir, name, content, 0o755)
		shell := "bash"
		if strings.HasPrefix(content, "#!/bin/sh\n") {
			shell = "sh"
		}
		if out, err := run(t, 10*time.Second, "", shell, "-n", p); err != nil {
			t.Errorf("%s -n %s: %v\n%s", shell, name, err, out)
		}
	}
	if _, err := os.Stat("/usr/bin/shellcheck"); err != nil {
		t.Logf("shellcheck not installed (`%s`); syntax checked with bash -n only", toolsTarget)
		return
	}
	for name := range files {
		if out, err := run(t, 60*time.Second, "", "shellcheck", "-f", "gcc", filepath.Join(dir, name)); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", name, err, out)
		}
	}
}

// Helper wrappers are executable in the bundle (infra copies modes) and
// each execs exactly its own helper through the fixed hostd path.
func TestHelperWrappersExecTheirOwnHelper(t *testing.T) {
	helpers, err := fs.ReadDir(Files, "helpers")
	if err != nil {
		t.Fatal(err)
	}
	if len(helpers) == 0 {
		t.Fatal("no helper wrappers")
	}
	for _, h := range helpers {
		body := readFile(t, "helpers/"+h.Name())
		fi, err := os.Stat(filepath.Join("helpers", h.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("helpers/%s has mode %v, want 0755", h.Name(), fi.Mode().Perm())
		}
		want := "/usr/local/lib/trustyclaw/hostd helper " + h.Name() + ` "$@"`
		if !strings.Contains(body, want) {
			t.Errorf("helpers/%s does not exec %q", h.Name(), want)
		}
		if n := strings.Count(body, "hostd helper "); n != 1 {
			t.Errorf("helpers/%s names hostd helper %d times, want once", h.Name(), n)
		}
		// Agent CLIs run in the resource-limited slice.
		inSlice := strings.Contains(body, "--slice=trustyclaw-agent.slice")
		if strings.HasPrefix(h.Name(), "run-") != inSlice {
			t.Errorf("helpers/%s: runs in the agent slice = %v; want it exactly for the run-* helpers", h.Name(), inSlice)
		}
	}
}
