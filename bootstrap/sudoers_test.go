package bootstrap

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

const helperDir = "/usr/local/lib/trustyclaw/helpers"

func TestSudoersPassesVisudo(t *testing.T) {
	visudo := needTool(t, "visudo")
	p := writeTemp(t, t.TempDir(), "trustyclaw-host", readFile(t, "sudoers"), 0o440)
	if out, err := run(t, 10*time.Second, "", visudo, "-cf", p); err != nil {
		t.Fatalf("visudo -cf: %v\n%s", err, out)
	}
}

// sudoersRules is the sudoers file without its comment lines.
func sudoersRules(t *testing.T) string {
	t.Helper()
	var keep []string
	for _, line := range strings.Split(readFile(t, "sudoers"), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// sudoersHelpers returns the helper names the sudoers file allows.
func sudoersHelpers(t *testing.T) map[string]bool {
	t.Helper()
	body := sudoersRules(t)
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`(/\S+)`).FindAllStringSubmatch(body, -1) {
		p := m[1]
		if strings.HasPrefix(p, "/usr/sbin") || p == "/sbin:/bin\"" || strings.HasPrefix(p, "/etc/sudoers.d") {
			continue
		}
		if !strings.HasPrefix(p, helperDir+"/") {
			t.Errorf("sudoers names %q, outside the helper directory", p)
			continue
		}
		names[strings.TrimPrefix(p, helperDir+"/")] = true
	}
	return names
}

// The sudoers entry, the wrappers bootstrap installs and the helpers hostd
// implements are the same set, and the admin user is the only grantee.
func TestSudoersHelpersWrappersAndHostdAgree(t *testing.T) {
	inSudoers := sudoersHelpers(t)
	wrappers := map[string]bool{}
	ents, err := fs.ReadDir(Files, "helpers")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		wrappers[e.Name()] = true
	}
	out, _ := run(t, 30*time.Second, "", hostdBinary(t), "helper")
	m := regexp.MustCompile(`names: ([a-z0-9, -]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("`hostd helper` did not list helper names:\n%s", out)
	}
	inHostd := map[string]bool{}
	for _, n := range strings.Split(m[1], ", ") {
		inHostd[strings.TrimSpace(n)] = true
	}
	keys := func(m map[string]bool) string {
		var s []string
		for k := range m {
			s = append(s, k)
		}
		sort.Strings(s)
		return strings.Join(s, " ")
	}
	if keys(inSudoers) != keys(wrappers) || keys(wrappers) != keys(inHostd) {
		t.Fatalf("helper sets differ:\n sudoers  %s\n wrappers %s\n hostd    %s", keys(inSudoers), keys(wrappers), keys(inHostd))
	}
	body := sudoersRules(t)
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "Defaults") ||
			strings.HasPrefix(line, "Cmnd_Alias") || strings.HasPrefix(line, helperDir) {
			continue
		}
		if !strings.HasPrefix(line, "trustyclaw-admin ALL=(root) NOPASSWD: TRUSTYCLAW_") {
			t.Errorf("unexpected sudoers rule: %q", line)
		}
	}
	for _, bad := range []string{"trustyclaw-agent", "trustyclaw-proxy", "NOPASSWD: ALL", "SETENV", "!env_reset"} {
		if strings.Contains(body, bad) {
			t.Errorf("sudoers contains %q", bad)
		}
	}
}

// sudo itself decides: in a private mount namespace the test's sudoers,
// passwd and helper directory are bind-mounted over the real ones, and
// `sudo -l -U trustyclaw-admin CMD` says whether CMD is allowed.
func TestSudoAllowsExactlyTheHelperArgumentShapes(t *testing.T) {
	needRoot(t, "bind mounts in a private mount namespace")
	sudo := needTool(t, "sudo")
	needTool(t, "unshare")
	dir := t.TempDir()
	writeTemp(t, dir, "sudoers", "root ALL=(ALL:ALL) ALL\n"+readFile(t, "sudoers"), 0o440)
	for _, f := range []string{"passwd", "group"} {
		b, err := os.ReadFile("/etc/" + f)
		if err != nil {
			t.Fatal(err)
		}
		extra := "trustyclaw-admin:x:47741:47741::/nonexistent:/usr/sbin/nologin\n"
		if f == "group" {
			extra = "trustyclaw-admin:x:47741:\n"
		}
		writeTemp(t, dir, f, string(b)+extra, 0o644)
	}
	lib := filepath.Join(dir, "lib", "trustyclaw", "helpers")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, _ := fs.ReadDir(Files, "helpers")
	for _, e := range ents {
		writeTemp(t, lib, e.Name(), readFile(t, "helpers/"+e.Name()), 0o755)
	}
	const uuid = "123e4567-e89b-12d3-a456-426614174000"
	cases := []struct {
		allow bool
		cmd   string
	}{
		{true, "run-codex-app-server"},
		{true, "run-claude-code"},
		{true, "run-claude-code --resume " + uuid},
		{true, "run-claude-code --session-id " + strings.ToUpper(uuid)},
		{true, "run-claude-code auth status"},
		{true, "run-claude-code auth login --claudeai"},
		{true, "read-codex-account-id"},
		{true, "read-claude-account"},
		{true, "update-network-policy"},
		{true, "read-network-state policy"},
		{true, "read-network-state status"},
		{true, "read-network-state pins"},
		{true, "read-network-state events 0 100"},
		{true, "update-provider-account openai"},
		{true, "update-provider-account claude"},
		{true, "reboot-host"},
		{false, "run-codex-app-server -c web_search=\"live\""},
		{false, "run-claude-code --resume " + uuid[:35]},
		{false, "run-claude-code --resume " + uuid + " --mcp-config /tmp/x"},
		{false, "run-claude-code --resume ../../etc/shadow-e89b-12d3-a456-4266141740"},
		{false, "run-claude-code auth logout"},
		{false, "run-claude-code --dangerously-skip-permissions"},
		{false, "read-codex-account-id --home /root"},
		{false, "update-network-policy --state-dir /tmp"},
		{false, "read-network-state"},
		{false, "update-provider-account github"},
		{false, "reboot-host now"},
		{false, "/bin/sh"},
		{false, "/usr/local/lib/trustyclaw/hostd helper reboot-host"},
		{false, "/usr/bin/systemctl reboot"},
	}
	var script strings.Builder
	fmt.Fprintf(&script, `set -eu
mount --bind %[1]q/sudoers /etc/sudoers
mount --bind %[1]q/passwd /etc/passwd
mount --bind %[1]q/group /etc/group
mount --bind %[1]q/lib /usr/local/lib
try() { if %[2]q -n -l -U trustyclaw-admin "$@" >/dev/null 2>&1; then echo "ALLOW $*"; else echo "DENY $*"; fi; }
`, dir, sudo)
	full := func(cmd string) string {
		if strings.HasPrefix(cmd, "/") {
			return cmd
		}
		return helperDir + "/" + cmd
	}
	for _, c := range cases {
		fmt.Fprintf(&script, "try %s\n", full(c.cmd))
	}
	out, err := run(t, 60*time.Second, "", "unshare", "-m", "--propagation", "private", "bash", "-c", script.String())
	if err != nil {
		t.Fatalf("sudo policy check: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != len(cases) {
		t.Fatalf("got %d answers for %d cases:\n%s", len(got), len(cases), out)
	}
	for i, c := range cases {
		want := "DENY "
		if c.allow {
			want = "ALLOW "
		}
		if !strings.HasPrefix(got[i], want) {
			t.Errorf("%s: sudo says %q", c.cmd, got[i])
		}
	}
}
