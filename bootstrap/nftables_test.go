package bootstrap

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// renderedRuleset renders nftables.conf with bootstrap.sh's own function.
func renderedRuleset(t *testing.T, resolver, timesync int) string {
	t.Helper()
	out, err := scriptFunc(t, fmt.Sprintf(`render_nftables %d %d <"$(dirname "$1")/nftables.conf"`, resolver, timesync))
	if err != nil {
		t.Fatalf("render_nftables: %v\n%s", err, out)
	}
	return out
}

func TestNftablesRenderFillsEveryPlaceholder(t *testing.T) {
	out := renderedRuleset(t, 991, 992)
	for _, want := range []string{"define RESOLVER_UID = 991", "define TIMESYNC_UID = 992"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered ruleset lacks %q", want)
		}
	}
	if regexp.MustCompile(`@[A-Z_]+@`).MatchString(out) {
		t.Error("rendered ruleset still has a placeholder")
	}
	if msg, err := scriptFunc(t, `render_nftables x 1 </dev/null`); err == nil {
		t.Errorf("non-numeric uid accepted: %s", msg)
	}
	if msg, err := scriptFunc(t, `echo 'define X = @NEW_THING@' | render_nftables 1 2`); err == nil || !strings.Contains(msg, "@NEW_THING@") {
		t.Errorf("unknown placeholder not refused: %v %s", err, msg)
	}
}

// nft -c loads the rendered ruleset (in a throwaway network namespace, so
// the machine's own ruleset is never touched).
func TestNftablesRulesetLoads(t *testing.T) {
	nft := needTool(t, "nft")
	needTool(t, "unshare")
	dir := t.TempDir()
	for _, uids := range [][2]int{{991, 992}, {0, 0}} {
		p := writeTemp(t, dir, fmt.Sprintf("nft-%d.conf", uids[0]), renderedRuleset(t, uids[0], uids[1]), 0o644)
		args := []string{"-n", nft, "-c", "-f", p}
		if os.Geteuid() != 0 {
			args = append([]string{"-r"}, args...)
		}
		if out, err := run(t, 20*time.Second, "", "unshare", args...); err != nil {
			t.Fatalf("nft -c -f (uids %v): %v\n%s", uids, err, out)
		}
	}
}

// The ruleset enforced for real: two network namespaces joined by a veth
// ("host" 10.200.0.1, "outside" 10.200.0.2), the ruleset loaded in "host",
// servers on the ports that matter, and connections made as each uid with
// setpriv.
func TestNftablesEnforcesEgressByUID(t *testing.T) {
	needRoot(t, "network namespaces")
	for _, tool := range []string{"nft", "ip", "setpriv"} {
		needTool(t, tool)
	}
	// A system python the test uids can execute (not a per-user shim).
	python := "/usr/bin/python3"
	if _, err := exec.LookPath(python); err != nil {
		t.Skip("needs /usr/bin/python3 for the test servers and clients")
	}
	const (
		admin, proxy, agent = 47741, 47742, 47743
		resolver, timesync  = 47790, 47791
		other               = 47799
	)
	dir := t.TempDir()
	rules := writeTemp(t, dir, "nft.conf", renderedRuleset(t, resolver, timesync), 0o644)
	id := os.Getpid()
	hostNS, outNS := fmt.Sprintf("tcbh%d", id), fmt.Sprintf("tcbo%d", id)
	vethH, vethO := fmt.Sprintf("tcvh%d", id%100000), fmt.Sprintf("tcvo%d", id%100000)
	sh := func(args ...string) {
		t.Helper()
		if out, err := run(t, 20*time.Second, "", args[0], args[1:]...); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	sh("ip", "netns", "add", hostNS)
	t.Cleanup(func() { _, _ = run(t, 10*time.Second, "", "ip", "netns", "del", hostNS) })
	sh("ip", "netns", "add", outNS)
	t.Cleanup(func() { _, _ = run(t, 10*time.Second, "", "ip", "netns", "del", outNS) })
	sh("ip", "link", "add", vethH, "netns", hostNS, "type", "veth", "peer", "name", vethO, "netns", outNS)
	sh("ip", "-n", hostNS, "addr", "add", "10.200.0.1/30", "dev", vethH)
	sh("ip", "-n", outNS, "addr", "add", "10.200.0.2/30", "dev", vethO)
	for _, ns := range [][2]string{{hostNS, vethH}, {outNS, vethO}} {
		sh("ip", "-n", ns[0], "link", "set", ns[1], "up")
		sh("ip", "-n", ns[0], "link", "set", "lo", "up")
	}
	// One python process per namespace listens on every port and answers
	// each connection with "ok" (TCP) or echoes a datagram (UDP).
	server := `
import socket, sys, threading
def tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"ok"); c.close()
def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], port))
    while True:
        d, a = s.recvfrom(512); s.sendto(b"ok", a)
for p in sys.argv[2].split(","):
    threading.Thread(target=tcp, args=(int(p),), daemon=True).start()
for p in sys.argv[3].split(","):
    threading.Thread(target=udp, args=(int(p),), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
`
	srv := writeTemp(t, dir, "srv.py", server, 0o644)
	startServer(t, outNS, python, srv, "10.200.0.2", "80,443,8080,53,22", "53,123")
	startServer(t, hostNS, python, srv, "127.0.0.1", "7443,7445,8081,53,22", "53")
	sh("ip", "netns", "exec", hostNS, "nft", "-f", rules)

	// Passed with -c: the test's temp dir is not readable by the test uids.
	client := (`
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if proto == "tcp":
        s = socket.create_connection((host, port), timeout=2); d = s.recv(8)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
        s.connect((host, port)); s.send(b"q"); d = s.recv(8)
    print("OPEN" if d == b"ok" else "ODD")
except Exception as e:
    print("BLOCKED", type(e).__name__)
`)
	cases := []struct {
		uid        int
		proto, dst string
		port       int
		open       bool
	}{
		// The agent: only the proxy port on loopback.
		{agent, "tcp", "127.0.0.1", 7445, true},
		{agent, "tcp", "127.0.0.1", 7443, false},
		{agent, "tcp", "127.0.0.1", 8081, false},
		{agent, "tcp", "127.0.0.1", 22, false},
		{agent, "udp", "127.0.0.1", 53, false},
		{agent, "tcp", "10.200.0.2", 443, false},
		{agent, "tcp", "10.200.0.2", 80, false},
		{agent, "udp", "10.200.0.2", 53, false},
		// The admin service: loopback yes, but no egress and no DNS.
		{admin, "tcp", "127.0.0.1", 7445, true},
		{admin, "tcp", "127.0.0.1", 7443, true},
		{admin, "udp", "127.0.0.1", 53, false},
		{admin, "tcp", "10.200.0.2", 443, false},
		{admin, "udp", "10.200.0.2", 53, false},
		// The proxy: web ports to public addresses and DNS; 10.200.0.2 is
		// private, so the web ports are refused there (second layer).
		{proxy, "tcp", "10.200.0.2", 443, false},
		{proxy, "tcp", "10.200.0.2", 8080, false},
		{proxy, "udp", "10.200.0.2", 53, true},
		{proxy, "tcp", "10.200.0.2", 53, true},
		{proxy, "udp", "127.0.0.1", 53, true},
		// Resolver and time daemon: DNS and NTP only.
		{resolver, "udp", "10.200.0.2", 53, true},
		{resolver, "tcp", "10.200.0.2", 443, false},
		{timesync, "udp", "10.200.0.2", 123, true},
		{timesync, "udp", "127.0.0.1", 53, true},
		{timesync, "tcp", "10.200.0.2", 80, false},
		// Anyone else: nothing out, no DNS on loopback.
		{other, "tcp", "10.200.0.2", 443, false},
		{other, "udp", "127.0.0.1", 53, false},
		// Root: everything.
		{0, "tcp", "10.200.0.2", 443, true},
		{0, "tcp", "10.200.0.2", 8080, true},
	}
	for _, c := range cases {
		name := fmt.Sprintf("uid%d_%s_%s_%d", c.uid, c.proto, c.dst, c.port)
		args := []string{"netns", "exec", hostNS, "setpriv", fmt.Sprintf("--reuid=%d", c.uid), fmt.Sprintf("--regid=%d", c.uid),
			"--clear-groups", python, "-c", client, c.proto, c.dst, fmt.Sprint(c.port)}
		out, err := run(t, 15*time.Second, "", "ip", args...)
		if err != nil {
			t.Fatalf("%s: client: %v\n%s", name, err, out)
		}
		gotOpen := strings.HasPrefix(out, "OPEN")
		if gotOpen != c.open {
			t.Errorf("%s: got %q, want open=%v", name, strings.TrimSpace(out), c.open)
		}
	}
	// The proxy is allowed out on the web ports to a public address: the
	// rule exists and is not the private-range reject.
	nftList, err := run(t, 10*time.Second, "", "ip", "netns", "exec", hostNS, "nft", "list", "chain", "inet", "trustyclaw", "output")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(nftList, fmt.Sprintf("meta skuid %d tcp dport { 80, 443 } accept", proxy)) {
		t.Errorf("no proxy web-port accept rule in the loaded ruleset:\n%s", nftList)
	}
}

// startServer runs the python server in a namespace until the test ends.
func startServer(t *testing.T, ns, python, script, addr, tcpPorts, udpPorts string) {
	t.Helper()
	out, err := startBackground(t, "ip", "netns", "exec", ns, python, "-u", script, addr, tcpPorts, udpPorts)
	if err != nil {
		t.Fatalf("server in %s: %v", ns, err)
	}
	select {
	case line := <-out:
		if !strings.HasPrefix(line, "ready") {
			t.Fatalf("server in %s: %q", ns, line)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("server in %s did not start", ns)
	}
}
