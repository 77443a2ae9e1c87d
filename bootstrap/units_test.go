package bootstrap

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/app"
	"github.com/trustyclaw/trustyclaw/hostd/proxy/service"
	"github.com/trustyclaw/trustyclaw/hostd/sudohelper"
)

const hostdPath = "/usr/local/lib/trustyclaw/hostd"

// unitFile is a parsed unit: section → key → values in order.
type unitFile map[string]map[string][]string

func (u unitFile) get(section, key string) []string { return u[section][key] }

func (u unitFile) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Fatalf("[%s] %s: %d values %q, want exactly one", section, key, len(v), v)
	}
	return v[0]
}

func parseUnit(t *testing.T, name string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(readFile(t, "systemd/"+name)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not KEY=VALUE in a section: %q", name, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func unitNames(t *testing.T) []string {
	t.Helper()
	ents, err := fs.ReadDir(Files, "systemd")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func services(t *testing.T) map[string]unitFile {
	t.Helper()
	out := map[string]unitFile{}
	for _, n := range unitNames(t) {
		if strings.HasSuffix(n, ".service") {
			out[n] = parseUnit(t, n)
		}
	}
	if len(out) != 2 {
		t.Fatalf("want the proxy and admin API services, have %v", out)
	}
	return out
}

// systemd-analyze verify accepts every unit with no warning at all (it
// exits 0 on unknown keys and bad values, so stderr must be empty). The
// ExecStart binary is pointed at a freshly built hostd.
func TestUnitsPassSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (package systemd)")
	}
	hostd := hostdBinary(t)
	dir := t.TempDir()
	var paths []string
	for _, n := range unitNames(t) {
		body := strings.ReplaceAll(readFile(t, "systemd/"+n), hostdPath, hostd)
		paths = append(paths, writeTemp(t, dir, n, body, 0o644))
	}
	out, err := run(t, 60*time.Second, "", analyze, append([]string{"verify"}, paths...)...)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// Every ExecStart runs the installed hostd with a subcommand that exists and
// only flags that subcommand really has (asked from the built binary).
func TestExecStartNamesRealHostdSubcommandsAndFlags(t *testing.T) {
	hostd := hostdBinary(t)
	flagRE := regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)
	for name, u := range services(t) {
		argv := strings.Fields(u.one(t, "Service", "ExecStart"))
		if len(argv) < 2 || argv[0] != hostdPath {
			t.Fatalf("%s: ExecStart %q does not run %s SUBCOMMAND", name, argv, hostdPath)
		}
		sub := argv[1]
		help, err := run(t, 30*time.Second, "", hostd, sub, "-h")
		if err != nil {
			t.Fatalf("%s: hostd %s -h: %v\n%s", name, sub, err, help)
		}
		have := map[string]bool{}
		for _, m := range flagRE.FindAllStringSubmatch(help, -1) {
			have[m[1]] = true
		}
		if len(have) == 0 {
			t.Fatalf("%s: no flags found in `hostd %s -h`:\n%s", name, sub, help)
		}
		for i := 2; i < len(argv); i++ {
			a := argv[i]
			if !strings.HasPrefix(a, "-") {
				t.Fatalf("%s: stray argument %q in ExecStart", name, a)
			}
			flag := strings.TrimLeft(a, "-")
			flag, _, inline := strings.Cut(flag, "=")
			if !have[flag] {
				t.Errorf("%s: hostd %s has no flag --%s (has %v)", name, sub, flag, have)
			}
			if !inline {
				i++ // the value
			}
		}
	}
}

// The flag values in the units are the layout hostd and the helpers use.
func TestUnitPathsMatchHostdDefaults(t *testing.T) {
	flags := func(u unitFile) map[string]string {
		argv := strings.Fields(u.one(t, "Service", "ExecStart"))
		m := map[string]string{}
		for i := 2; i+1 < len(argv); i += 2 {
			m[argv[i]] = argv[i+1]
		}
		return m
	}
	svc := services(t)
	proxy := flags(svc["trustyclaw-network-proxy.service"])
	admin := flags(svc["trustyclaw-admin-api.service"])
	want := []struct{ got, want, what string }{
		{proxy["--state-dir"], service.DefaultStateDir, "proxy --state-dir"},
		{proxy["--listen"], service.DefaultListen, "proxy --listen"},
		{admin["--state-dir"], app.DefaultAdminStateDir, "admin --state-dir"},
		{admin["--listen"], app.DefaultAdminListen, "admin --listen"},
		{admin["--proxy-addr"], service.DefaultListen, "admin --proxy-addr"},
		{admin["--helper-dir"], sudohelper.DefaultDir, "admin --helper-dir"},
		{admin["--agent-home"], app.DefaultAgentHome, "admin --agent-home"},
		{admin["--agent-name"], "${TRUSTYCLAW_AGENT_NAME}", "admin --agent-name"},
	}
	for _, w := range want {
		if w.got != w.want {
			t.Errorf("%s = %q, want %q", w.what, w.got, w.want)
		}
	}
	// The agent name comes from the env file bootstrap writes.
	if got := svc["trustyclaw-admin-api.service"].one(t, "Service", "EnvironmentFile"); got != "/etc/trustyclaw/host.env" {
		t.Errorf("EnvironmentFile = %q", got)
	}
	script := readFile(t, "bootstrap.sh")
	for _, s := range []string{"readonly HOST_ENV=$ETC_DIR/host.env", "readonly ETC_DIR=/etc/trustyclaw", `printf 'TRUSTYCLAW_AGENT_NAME=%s\n' "$AGENT_NAME"`} {
		if !strings.Contains(script, s) {
			t.Errorf("bootstrap.sh does not contain %q", s)
		}
	}
}

// Service users are the architecture's fixed-uid users, and every place
// that names a uid agrees on it.
func TestServiceUsersHaveTheFixedUIDs(t *testing.T) {
	fixed := map[string]int{"trustyclaw-admin": 47741, "trustyclaw-proxy": 47742, "trustyclaw-agent": 47743}
	wantUser := map[string]string{
		"trustyclaw-admin-api.service":     "trustyclaw-admin",
		"trustyclaw-network-proxy.service": "trustyclaw-proxy",
	}
	for name, u := range services(t) {
		user := u.one(t, "Service", "User")
		if user != wantUser[name] {
			t.Errorf("%s runs as %q, want %q", name, user, wantUser[name])
		}
		if g := u.one(t, "Service", "Group"); g != user {
			t.Errorf("%s Group=%q, want %q", name, g, user)
		}
	}
	script := readFile(t, "bootstrap.sh")
	nft := readFile(t, "nftables.conf")
	for user, uid := range fixed {
		role := strings.ToUpper(strings.TrimPrefix(user, "trustyclaw-"))
		decl := fmt.Sprintf("readonly %s_USER=%s %s_UID=%d", role, user, role, uid)
		if !strings.Contains(script, decl) {
			t.Errorf("bootstrap.sh lacks %q", decl)
		}
		if def := fmt.Sprintf("define %s_UID = %d", role, uid); !strings.Contains(nft, def) {
			t.Errorf("nftables.conf lacks %q", def)
		}
	}
	// hostd's helpers demote to the same uids.
	src := map[string]string{"proxyUID": "../hostd/cmd/hostd/helpers_network.go", "agentUID": "../hostd/cmd/hostd/helpers_runtime.go"}
	wantUID := map[string]int{"proxyUID": 47742, "agentUID": 47743}
	for name, path := range src {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(name + `\s*=\s*(\d+)`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s not found in %s", name, path)
		}
		if got, _ := strconv.Atoi(string(m[1])); got != wantUID[name] {
			t.Errorf("%s in %s = %d, want %d", name, path, got, wantUID[name])
		}
	}
}

// The admin API runs the helpers through sudo, so nothing in its unit may
// set no_new_privs: NoNewPrivileges=yes, or any setting systemd.exec(5)
// says implies it for a unit with User=.
func TestAdminUnitKeepsSudoWorking(t *testing.T) {
	u := services(t)["trustyclaw-admin-api.service"]
	impliesNNP := []string{"NoNewPrivileges", "PrivateDevices", "ProtectClock", "ProtectHostname",
		"ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "RestrictAddressFamilies",
		"RestrictNamespaces", "LockPersonality", "MemoryDenyWriteExecute", "RestrictRealtime",
		"RestrictSUIDSGID", "SystemCallFilter", "SystemCallArchitectures", "SystemCallLog", "DynamicUser",
		"CapabilityBoundingSet", "AmbientCapabilities"}
	for _, k := range impliesNNP {
		for _, v := range u.get("Service", k) {
			if k == "NoNewPrivileges" && v == "no" {
				continue
			}
			t.Errorf("admin unit sets %s=%s, which would break sudo for the helpers", k, v)
		}
	}
	// ...but it is still confined to the state it (and its helpers) use.
	if got := u.one(t, "Service", "ProtectSystem"); got != "strict" {
		t.Errorf("ProtectSystem=%s, want strict", got)
	}
	rw := strings.Fields(u.one(t, "Service", "ReadWritePaths"))
	wantRW := []string{app.DefaultAdminStateDir, service.DefaultStateDir, app.DefaultAgentHome, "-/run/sudo", "-/var/lib/sudo"}
	if strings.Join(rw, " ") != strings.Join(wantRW, " ") {
		t.Errorf("ReadWritePaths=%v, want %v", rw, wantRW)
	}
	for _, k := range []string{"ProtectHome", "PrivateTmp", "ProtectControlGroups"} {
		if got := u.one(t, "Service", k); got != "yes" {
			t.Errorf("%s=%s, want yes", k, got)
		}
	}
}

// The proxy needs no privilege at all and writes only its state directory.
func TestProxyUnitIsLockedDown(t *testing.T) {
	u := services(t)["trustyclaw-network-proxy.service"]
	want := map[string]string{
		"NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
		"ProtectSystem": "strict", "ReadWritePaths": service.DefaultStateDir, "ProtectHome": "yes",
		"PrivateTmp": "yes", "PrivateDevices": "yes", "RestrictSUIDSGID": "yes", "MemoryDenyWriteExecute": "yes",
	}
	for k, v := range want {
		if got := u.one(t, "Service", k); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return
	}
	dir := t.TempDir()
	p := writeTemp(t, dir, "trustyclaw-network-proxy.service",
		strings.ReplaceAll(readFile(t, "systemd/trustyclaw-network-proxy.service"), hostdPath, hostdBinary(t)), 0o644)
	out, err := run(t, 60*time.Second, "", analyze, "security", "--offline=yes", "--threshold=20", p)
	if err != nil {
		t.Fatalf("systemd-analyze security: exposure above 2.0 or error: %v\n%s", err, lastLines(out, 3))
	}
	t.Logf("%s", lastLines(out, 1))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Order and restart: nftables first, then the proxy, then the admin API;
// each restarts on failure, starts at boot and needs its volume mounted.
func TestServiceOrderingAndRestart(t *testing.T) {
	svc := services(t)
	proxy, admin := svc["trustyclaw-network-proxy.service"], svc["trustyclaw-admin-api.service"]
	has := func(u unitFile, key, want string) bool {
		for _, v := range u.get("Unit", key) {
			for _, f := range strings.Fields(v) {
				if f == want {
					return true
				}
			}
		}
		return false
	}
	checks := []struct {
		u         unitFile
		key, want string
	}{
		{proxy, "After", "nftables.service"}, {proxy, "Requires", "nftables.service"},
		{proxy, "Before", "trustyclaw-admin-api.service"},
		{proxy, "RequiresMountsFor", service.DefaultStateDir},
		{admin, "After", "nftables.service"}, {admin, "Requires", "nftables.service"},
		{admin, "After", "trustyclaw-network-proxy.service"},
		{admin, "RequiresMountsFor", app.DefaultAdminStateDir}, {admin, "RequiresMountsFor", app.DefaultAgentHome},
	}
	for _, c := range checks {
		if !has(c.u, c.key, c.want) {
			t.Errorf("%s lacks %s=%s", c.u.one(t, "Unit", "Description"), c.key, c.want)
		}
	}
	for name, u := range svc {
		if got := u.one(t, "Service", "Restart"); got != "on-failure" {
			t.Errorf("%s Restart=%s", name, got)
		}
		if got := u.one(t, "Install", "WantedBy"); got != "multi-user.target" {
			t.Errorf("%s WantedBy=%s", name, got)
		}
	}
	// bootstrap.sh restarts them in this order after nftables.
	script := readFile(t, "bootstrap.sh")
	i := strings.Index(script, "systemctl restart nftables.service")
	j := strings.Index(script, "systemctl restart trustyclaw-network-proxy.service")
	k := strings.Index(script, "systemctl restart trustyclaw-admin-api.service")
	if i < 0 || j < i || k < j {
		t.Errorf("bootstrap.sh does not restart nftables, proxy, admin API in that order (%d %d %d)", i, j, k)
	}
}

// The agent slice limits CPU, memory and tasks.
func TestAgentSliceLimits(t *testing.T) {
	u := parseUnit(t, "trustyclaw-agent.slice")
	for _, k := range []string{"CPUWeight", "MemoryHigh", "MemoryMax", "TasksMax"} {
		if v := u.get("Slice", k); len(v) != 1 || v[0] == "" || v[0] == "infinity" {
			t.Errorf("agent slice %s = %q; want a limit", k, v)
		}
	}
	pct := func(k string) int {
		n, err := strconv.Atoi(strings.TrimSuffix(u.one(t, "Slice", k), "%"))
		if err != nil {
			t.Fatalf("%s is not a percentage: %v", k, err)
		}
		return n
	}
	if h, m := pct("MemoryHigh"), pct("MemoryMax"); !(h < m && m <= 80) {
		t.Errorf("MemoryHigh=%d%% MemoryMax=%d%%: want High < Max <= 80%% (room for the services and sshd)", h, m)
	}
	if w, _ := strconv.Atoi(u.one(t, "Slice", "CPUWeight")); w <= 0 || w >= 100 {
		t.Errorf("CPUWeight=%d, want below the default 100", w)
	}
	// The slice file name is what the run-* wrappers use.
	if _, err := os.Stat(filepath.Join("systemd", "trustyclaw-agent.slice")); err != nil {
		t.Fatal(err)
	}
}
