package bootstrap

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/app"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
	"github.com/trustyclaw/trustyclaw/hostd/proxy/service"
	"github.com/trustyclaw/trustyclaw/hostd/sudohelper"
)

// A symlink planted where a managed directory belongs is removed, never
// followed; wrong owner/mode (and set-id bits) are fixed; a file is refused.
func TestSanitizeDirRemovesPlantedSymlinks(t *testing.T) {
	needRoot(t, "chown to the service uids")
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "admin-state")
	if err := os.Symlink(victim, state); err != nil {
		t.Fatal(err)
	}
	if out, err := scriptFunc(t, fmt.Sprintf("sanitize_dir %q 47741 47741 0700", state)); err != nil {
		t.Fatalf("sanitize_dir: %v\n%s", err, out)
	}
	fi, err := os.Lstat(state)
	if err != nil || !fi.IsDir() || fi.Mode()&os.ModeSymlink != 0 {
		t.Fatalf("admin-state is not a real directory now: %v %v", fi, err)
	}
	if got := statOwnerMode(t, state); got != "47741:47741:700" {
		t.Errorf("admin-state is %s", got)
	}
	if got := statOwnerMode(t, victim); got != "0:0:755" {
		t.Errorf("the symlink target was changed: %s", got)
	}

	loose := filepath.Join(dir, "loose")
	if err := os.Mkdir(loose, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o2777); err != nil {
		t.Fatal(err)
	}
	if out, err := scriptFunc(t, fmt.Sprintf("sanitize_dir %q 0 0 0711", loose)); err != nil {
		t.Fatalf("sanitize_dir: %v\n%s", err, out)
	}
	if got := statOwnerMode(t, loose); got != "0:0:711" {
		t.Errorf("loose dir is %s, want 0:0:711 (set-gid cleared)", got)
	}

	file := writeTemp(t, dir, "afile", "data", 0o600)
	if out, err := scriptFunc(t, fmt.Sprintf("sanitize_dir %q 0 0 0700", file)); err == nil || !strings.Contains(out, "not a directory") {
		t.Errorf("a file in a managed directory's place was not refused: %v %s", err, out)
	}
	if b, _ := os.ReadFile(file); string(b) != "data" {
		t.Error("the refused file was changed")
	}
}

func statOwnerMode(t *testing.T, p string) string {
	t.Helper()
	out, err := run(t, 5e9, "", "stat", "-c", "%u:%g:%a", p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// install_root_file replaces a planted symlink instead of writing through it.
func TestInstallRootFileDoesNotFollowSymlinks(t *testing.T) {
	needRoot(t, "chown root")
	dir := t.TempDir()
	target := writeTemp(t, dir, "precious", "keep me", 0o644)
	dest := filepath.Join(dir, "requirements.toml")
	if err := os.Symlink(target, dest); err != nil {
		t.Fatal(err)
	}
	src := writeTemp(t, dir, "src", "new content\n", 0o600)
	if out, err := scriptFunc(t, fmt.Sprintf("install_root_file %q %q 0644", src, dest)); err != nil {
		t.Fatalf("install_root_file: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me" {
		t.Errorf("symlink target overwritten: %q", b)
	}
	fi, err := os.Lstat(dest)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("dest is %v %v", fi, err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "new content\n" {
		t.Errorf("dest = %q", b)
	}
}

// Volumes are found by the NVMe serial (the volume id without its dash),
// also with the namespace suffix, else by the requested device name; a
// missing attachment times out with an error naming the volume.
func TestFindVolumeDeviceByNVMeSerial(t *testing.T) {
	dir := t.TempDir()
	byID := filepath.Join(dir, "disk", "by-id")
	if err := os.MkdirAll(byID, 0o755); err != nil {
		t.Fatal(err)
	}
	dev1 := writeTemp(t, dir, "nvme1n1", "", 0o600)
	dev2 := writeTemp(t, dir, "nvme2n1", "", 0o600)
	xvdf := writeTemp(t, dir, "xvdf", "", 0o600)
	for link, target := range map[string]string{
		"nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0":         dev1,
		"nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0-part1":   dev2,
		"nvme-Amazon_Elastic_Block_Store_vol0fedcba9876543210_1":       dev2,
		"nvme-Amazon_Elastic_Block_Store_vol0aaaaaaaaaaaaaaaa":         xvdf,
		"nvme-Amazon_Elastic_Block_Store_vol0fedcba98765432100_unused": dev1,
	} {
		if err := os.Symlink(target, filepath.Join(byID, link)); err != nil {
			t.Fatal(err)
		}
	}
	sdf := filepath.Join(dir, "sdf")
	if err := os.Symlink(xvdf, sdf); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		vol, fallback, want, errPart string
	}{
		{"vol-0123456789abcdef0", "", dev1, ""},
		{"vol-0fedcba9876543210", "", dev2, ""},
		{"vol-0bbbbbbbbbbbbbbbb", sdf, xvdf, ""},
		{"vol-0bbbbbbbbbbbbbbbb", "", "", "vol-0bbbbbbbbbbbbbbbb is not attached"},
		{"vol-0bbbbbbbbbbbbbbbb", filepath.Join(dir, "sdg"), "", "is not attached"},
		{"vol-../../etc", "", "", "not an EBS volume id"},
		{"/dev/sda", "", "", "not an EBS volume id"},
	}
	for _, c := range cases {
		out, err := scriptFunc(t, fmt.Sprintf("find_volume_device %q %q %q 1", c.vol, byID, c.fallback))
		lastLine := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
		switch {
		case c.errPart == "" && (err != nil || lastLine != c.want):
			t.Errorf("%s: got %q (%v), want %s", c.vol, out, err, c.want)
		case c.errPart != "" && (err == nil || !strings.Contains(out, c.errPart)):
			t.Errorf("%s: got %q (%v), want an error with %q", c.vol, out, err, c.errPart)
		}
	}
}

// fstab_set keeps one line per mount point (or swap device), leaves other
// lines alone and does not rewrite an unchanged file.
func TestFstabSetIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	orig := "# static file system information\nLABEL=cloudimg-rootfs / ext4 defaults 0 1\n" +
		"UUID=old /mnt/trustyclaw-admin ext4 defaults 0 2\n/dev/sdb none swap sw 0 0\n"
	fstab := writeTemp(t, dir, "fstab", orig, 0o644)
	body := fmt.Sprintf(`fstab_set %[1]q 2 /mnt/trustyclaw-admin "UUID=new /mnt/trustyclaw-admin ext4 defaults,nofail 0 2"
fstab_set %[1]q 1 /swapfile "/swapfile none swap sw 0 0"`, fstab)
	for i := 0; i < 2; i++ {
		if out, err := scriptFunc(t, body); err != nil {
			t.Fatalf("fstab_set: %v\n%s", err, out)
		}
	}
	b, _ := os.ReadFile(fstab)
	want := "# static file system information\nLABEL=cloudimg-rootfs / ext4 defaults 0 1\n" +
		"UUID=new /mnt/trustyclaw-admin ext4 defaults,nofail 0 2\n/dev/sdb none swap sw 0 0\n/swapfile none swap sw 0 0\n"
	if string(b) != want {
		t.Fatalf("fstab after two runs:\n%s\nwant:\n%s", b, want)
	}
	// An inode number can be reused once the old file is gone, so
	// SameFile alone could miss a rewrite: the file is also held open
	// across the run, which keeps its inode from being recycled.
	held, err := os.Open(fstab)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	fi1, _ := held.Stat()
	if out, err := scriptFunc(t, body); err != nil {
		t.Fatal(out)
	}
	fi2, _ := os.Stat(fstab)
	if !os.SameFile(fi1, fi2) {
		t.Error("an unchanged fstab was rewritten")
	}
}

// The deploy key goes, the operator key stays; running again changes
// nothing; removing the last key is refused.
func TestRemoveDeployKey(t *testing.T) {
	needTool(t, "ssh-keygen")
	dir := t.TempDir()
	op, deploy := testAuthorizedKey(t, "operator"), testAuthorizedKey(t, "deploy")
	fpr := func(key string) string {
		out, err := scriptFunc(t, "key_fingerprint <<<\"$KEY\"", "KEY="+key)
		if err != nil || !strings.HasPrefix(out, "SHA256:") {
			t.Fatalf("key_fingerprint: %v %q", err, out)
		}
		return strings.TrimSpace(out)
	}
	ak := writeTemp(t, dir, "authorized_keys", "# keys\n"+op+"\n"+`from="10.0.0.0/8" `+deploy+"\n", 0o600)
	for i := 0; i < 2; i++ {
		if out, err := scriptFunc(t, fmt.Sprintf("remove_authorized_key %q %q", ak, fpr(deploy))); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out)
		}
		b, _ := os.ReadFile(ak)
		if string(b) != "# keys\n"+op+"\n" {
			t.Fatalf("run %d: authorized_keys = %q", i, b)
		}
	}
	fi, _ := os.Stat(ak)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	only := writeTemp(t, dir, "only", deploy+"\n", 0o600)
	if out, err := scriptFunc(t, fmt.Sprintf("remove_authorized_key %q %q", only, fpr(deploy))); err == nil || !strings.Contains(out, "without any key") {
		t.Errorf("removing the last key was not refused: %v %s", err, out)
	}
	if b, _ := os.ReadFile(only); string(b) != deploy+"\n" {
		t.Error("refused removal still changed the file")
	}
	if out, err := scriptFunc(t, fmt.Sprintf("remove_authorized_key %q %q", ak, "MD5:aa:bb")); err == nil {
		t.Errorf("a non-SHA256 fingerprint was accepted: %s", out)
	}
}

// The empty policy bootstrap writes is one the policy parser accepts, and
// it allows nothing.
func TestInitialPolicyIsTheEmptyPolicy(t *testing.T) {
	m := regexp.MustCompile(`printf '%s\\n' '(\{[^']*\})' \|\s*\n\s*"\$HOSTD" helper update-network-policy`).FindStringSubmatch(readFile(t, "bootstrap.sh"))
	if m == nil {
		t.Fatal("initial policy not found in bootstrap.sh")
	}
	p, err := policy.Parse([]byte(m[1]))
	if err != nil {
		t.Fatalf("initial policy %s: %v", m[1], err)
	}
	if len(p.Allowed) != 0 || p.ProviderEnabled(policy.ProviderOpenAI) || p.ProviderEnabled(policy.ProviderClaude) {
		t.Errorf("initial policy allows something: %+v", p)
	}
}

// bootstrap.sh's fixed layout is hostd's fixed layout.
func TestScriptLayoutMatchesHostd(t *testing.T) {
	script := readFile(t, "bootstrap.sh")
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^readonly ([A-Z_]+)=(\S+)$`).FindAllStringSubmatch(script, -1) {
		vars[m[1]] = m[2]
	}
	expand := func(v string) string {
		return regexp.MustCompile(`\$([A-Z_]+)`).ReplaceAllStringFunc(v, func(s string) string { return vars[s[1:]] })
	}
	want := map[string]string{
		"ADMIN_STATE":        app.DefaultAdminStateDir,
		"PROXY_STATE":        service.DefaultStateDir,
		"AGENT_HOME":         app.DefaultAgentHome,
		"HELPER_DIR":         sudohelper.DefaultDir,
		"PASSWORD_HASH_FILE": filepath.Join(app.DefaultAdminStateDir, app.PasswordHashFile),
		"PROXY_CA_DEST":      "/usr/local/share/ca-certificates/trustyclaw-proxy-ca.crt",
		"HOSTD":              hostdPath,
	}
	for k, v := range want {
		if got := expand(expand(vars[k])); got != v {
			t.Errorf("bootstrap.sh %s = %q, want %q", k, got, v)
		}
	}
	// The CA path is the one the runtime helpers give the agent CLIs.
	b, err := os.ReadFile("../hostd/cmd/hostd/helpers_runtime.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"`+want["PROXY_CA_DEST"]+`"`) {
		t.Error("helpers_runtime.go does not use the CA path bootstrap installs")
	}
	// The pinned CLI versions are the Makefile's.
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"CODEX_VERSION", "CLAUDE_VERSION"} {
		m := regexp.MustCompile(`(?m)^` + v + `\s*:=\s*(\S+)`).FindSubmatch(mk)
		if m == nil || vars[v] != string(m[1]) {
			t.Errorf("%s: bootstrap.sh %q, Makefile %q", v, vars[v], m)
		}
	}
}

// Inputs are validated before anything happens: a bad agent name or volume
// id, or a missing deploy key, stops the script with a message naming the
// variable (it never gets to step 1, so this runs anywhere).
func TestScriptRefusesBadInputs(t *testing.T) {
	hostd := writeTemp(t, t.TempDir(), "hostd", "#!/bin/sh\n", 0o755)
	base := []string{"TRUSTYCLAW_AGENT_NAME=ok", "TRUSTYCLAW_ADMIN_VOLUME_ID=vol-0123456789abcdef0",
		"TRUSTYCLAW_AGENT_VOLUME_ID=vol-0123456789abcdef1", "TRUSTYCLAW_DEPLOY_KEY_FINGERPRINT=SHA256:" + strings.Repeat("A", 43),
		"TRUSTYCLAW_HOSTD_BIN=" + hostd}
	with := func(kv string) []string {
		k, _, _ := strings.Cut(kv, "=")
		var out []string
		for _, e := range base {
			if !strings.HasPrefix(e, k+"=") {
				out = append(out, e)
			}
		}
		return append(out, kv)
	}
	cases := map[string]struct{ env []string }{
		"TRUSTYCLAW_AGENT_NAME":             {with("TRUSTYCLAW_AGENT_NAME=bad name;rm")},
		"TRUSTYCLAW_ADMIN_VOLUME_ID":        {with("TRUSTYCLAW_ADMIN_VOLUME_ID=/dev/sda")},
		"the admin and agent volume ids":    {with("TRUSTYCLAW_AGENT_VOLUME_ID=vol-0123456789abcdef0")},
		"TRUSTYCLAW_DEPLOY_KEY_FINGERPRINT": {with("TRUSTYCLAW_DEPLOY_KEY_FINGERPRINT=")},
		"TRUSTYCLAW_HOSTD_BIN":              {with("TRUSTYCLAW_HOSTD_BIN=/nonexistent/hostd")},
	}
	for want, c := range cases {
		out, err := scriptFunc(t, "read_inputs </dev/null", c.env...)
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("%s: got %v %q", want, err, out)
		}
	}
	if out, err := scriptFunc(t, `read_inputs <<<"pw-from-stdin-123"; echo "[$ADMIN_PASSWORD] $AGENT_NAME"`, base...); err != nil ||
		!strings.Contains(out, "[pw-from-stdin-123] ok") {
		t.Errorf("valid inputs: %v %q", err, out)
	}
}
