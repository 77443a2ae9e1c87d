package proxy

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
	"github.com/trustyclaw/trustyclaw/hostd/proxy/ca"
)

// The memory benchmark runs the proxy in a child process (this test
// binary re-executed) so its RSS is the proxy's alone, not the load
// generator's or the fake upstream's.
const childEnv = "TRUSTYCLAW_PROXY_BENCH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		if err := runProxyChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "proxy child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type staticPolicy struct{ c *policy.Compiled }

func (s staticPolicy) Current() (*policy.Compiled, policy.Pins, error) {
	return s.c, policy.Pins{}, nil
}

type discardEvents struct{}

func (discardEvents) Record(netstate.Event) {}

// runProxyChild serves a proxy configured from files in dir until its
// stdin closes. It prints "ADDR host:port" once listening.
func runProxyChild(dir string) error {
	auth, err := ca.LoadOrCreate(filepath.Join(dir, "proxy-ca"), time.Now())
	if err != nil {
		return err
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, "upstream-ca.pem"))
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)
	upstream, err := os.ReadFile(filepath.Join(dir, "upstream-addr"))
	if err != nil {
		return err
	}
	pol, err := policy.Parse([]byte(policyJSON(`"bench.example.test": {"allow_http_methods": ["GET"]}`)))
	if err != nil {
		return err
	}
	comp, err := policy.Compile(pol)
	if err != nil {
		return err
	}
	p, err := New(Config{
		Policy: staticPolicy{comp}, Events: discardEvents{}, CA: auth, UpstreamRoots: roots,
		DevUpstreams: map[string]string{"bench.example.test": strings.TrimSpace(string(upstream))},
		Logger:       logging.Nop(),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return p.Serve(ctx, ln)
}

// proxyChild is a running child proxy.
type proxyChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startProxyChild(tb testing.TB, dir string) *proxyChild {
	tb.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	c := &proxyChild{cmd: cmd, stdin: stdin}
	tb.Cleanup(c.stop)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		tb.Fatalf("proxy child did not start: %q %v", line, err)
	}
	c.addr = strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	return c
}

func (c *proxyChild) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// rssKiB reads VmRSS of pid from /proc.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
