package bootstrap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// toolsTarget is the make target that installs the host tools these tests
// use (nftables, sudo/visudo, shellcheck); without them a test skips.
const toolsTarget = "make host-test-tools"

// needTool returns the path of tool or skips the test naming the make target.
func needTool(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed; `%s` installs it", tool, toolsTarget)
	}
	return p
}

// needRoot skips unless the test runs as root.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root: %s", why)
	}
}

// run runs a command with a timeout and returns combined output.
func run(t *testing.T, timeout time.Duration, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	return out.String(), err
}

// readFile reads one embedded bootstrap file.
func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := Files.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// writeTemp writes content to a new file in dir.
func writeTemp(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// scriptFunc runs `source bootstrap.sh; BODY` in bash and returns its
// output; the script's pure functions are what BODY calls.
func scriptFunc(t *testing.T, body string, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", `source "$1"; `+body, "bash", scriptPath(t))
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// scriptPath is bootstrap.sh on disk (the tests run in the package dir).
func scriptPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("bootstrap.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testAuthorizedKey generates a fresh ed25519 key pair and returns the
// public key in authorized_keys syntax.
func testAuthorizedKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var blob bytes.Buffer
	for _, part := range [][]byte{[]byte("ssh-ed25519"), pub} {
		_ = binary.Write(&blob, binary.BigEndian, uint32(len(part)))
		blob.Write(part)
	}
	return fmt.Sprintf("ssh-ed25519 %s %s", base64.StdEncoding.EncodeToString(blob.Bytes()), comment)
}

var hostdBuild struct {
	once sync.Once
	path string
	err  error
	out  string
}

// hostdBinary builds hostd once per test binary run.
func hostdBinary(t *testing.T) string {
	t.Helper()
	hostdBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "bootstrap-hostd-")
		if err != nil {
			hostdBuild.err = err
			return
		}
		hostdBuild.path = filepath.Join(dir, "hostd")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", hostdBuild.path, "../hostd/cmd/hostd")
		cmd.Env = append(os.Environ(), "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
		out, err := cmd.CombinedOutput()
		hostdBuild.out, hostdBuild.err = string(out), err
	})
	if hostdBuild.err != nil {
		t.Fatalf("build hostd: %v\n%s", hostdBuild.err, hostdBuild.out)
	}
	return hostdBuild.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if hostdBuild.path != "" {
		os.RemoveAll(filepath.Dir(hostdBuild.path))
	}
	os.Exit(code)
}

// startBackground starts a long-running process that the test owns: it is
// killed and reaped at cleanup. The channel yields its first stdout line.
func startBackground(t *testing.T, name string, args ...string) (<-chan string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		for sc.Scan() {
		}
	}()
	return first, nil
}
