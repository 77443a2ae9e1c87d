package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeELF returns a minimal 64-bit little-endian ELF header for machine m:
// enough for debug/elf, and for the bundle check, without a real binary.
func fakeELF(m elf.Machine, typ elf.Type) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), byte(elf.ELFOSABI_NONE)})
	b.Write(make([]byte, 8))
	le := binary.LittleEndian
	binary.Write(&b, le, uint16(typ))
	binary.Write(&b, le, uint16(m))
	binary.Write(&b, le, uint32(elf.EV_CURRENT))
	binary.Write(&b, le, uint64(0x400000)) // entry
	binary.Write(&b, le, uint64(0))        // phoff
	binary.Write(&b, le, uint64(0))        // shoff
	binary.Write(&b, le, uint32(0))        // flags
	binary.Write(&b, le, uint16(64))       // ehsize
	binary.Write(&b, le, uint16(56))       // phentsize
	binary.Write(&b, le, uint16(0))        // phnum
	binary.Write(&b, le, uint16(64))       // shentsize
	binary.Write(&b, le, uint16(0))        // shnum
	binary.Write(&b, le, uint16(0))        // shstrndx
	return b.Bytes()
}

const fixtureTemplate = `#!/bin/bash
set -euo pipefail
install -d -m 0700 /home/trustyclaw-operator/.ssh
cat > /home/trustyclaw-operator/.ssh/authorized_keys <<'KEYS'
{{.OperatorPublicKey}}
{{.DeployPublicKey}}
KEYS
`

// writeBundle lays out a release bundle in a temp dir: hostd plus a
// bootstrap/ directory with the entry, the user-data template, a unit, a
// Go file and test data.
func writeBundle(t *testing.T) (hostd, dir string) {
	t.Helper()
	root := t.TempDir()
	hostd = filepath.Join(root, "hostd")
	mustWrite(t, hostd, fakeELF(elf.EM_X86_64, elf.ET_EXEC), 0o755)
	dir = filepath.Join(root, "bootstrap")
	mustWrite(t, filepath.Join(dir, bootstrapEntry), []byte("#!/bin/bash\necho bootstrap\n"), 0o755)
	mustWrite(t, filepath.Join(dir, userDataTemplate), []byte(fixtureTemplate), 0o644)
	mustWrite(t, filepath.Join(dir, "systemd", "x.service"), []byte("[Service]\n"), 0o644)
	mustWrite(t, filepath.Join(dir, "doc.go"), []byte("package bootstrap\n"), 0o644)
	mustWrite(t, filepath.Join(dir, "testdata", "case.txt"), []byte("x"), 0o644)
	return hostd, dir
}

func mustWrite(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestLoadBundle(t *testing.T) {
	hostd, dir := writeBundle(t)
	b, err := loadBundle(hostd, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Hash) != 64 || b.UserDataTmpl != fixtureTemplate {
		t.Errorf("got %+v", b)
	}
}

func TestBundleHashTracksWhatShips(t *testing.T) {
	hostd, dir := writeBundle(t)
	base, err := bundleHash(hostd, dir)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := bundleHash(hostd, dir)
	if again != base {
		t.Fatal("hash is not deterministic")
	}

	changes := []struct {
		name   string
		change func(t *testing.T)
		same   bool
	}{
		{"hostd content", func(t *testing.T) { mustWrite(t, hostd, append(fakeELF(elf.EM_X86_64, elf.ET_EXEC), 1), 0o755) }, false},
		{"script content", func(t *testing.T) {
			mustWrite(t, filepath.Join(dir, bootstrapEntry), []byte("#!/bin/bash\necho v2\n"), 0o755)
		}, false},
		{"exec bit", func(t *testing.T) {
			mustWrite(t, filepath.Join(dir, "systemd", "x.service"), []byte("[Service]\n"), 0o755)
		}, false},
		{"new file", func(t *testing.T) {
			mustWrite(t, filepath.Join(dir, "nftables.conf"), []byte("table inet x {}\n"), 0o644)
		}, false},
		{"renamed file", func(t *testing.T) {
			if err := os.Rename(filepath.Join(dir, "systemd", "x.service"), filepath.Join(dir, "systemd", "y.service")); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"Go source only", func(t *testing.T) {
			mustWrite(t, filepath.Join(dir, "doc.go"), []byte("package bootstrap // v2\n"), 0o644)
		}, true},
		{"Go test only", func(t *testing.T) {
			mustWrite(t, filepath.Join(dir, "x_test.go"), []byte("package bootstrap\n"), 0o644)
		}, true},
		{"testdata only", func(t *testing.T) { mustWrite(t, filepath.Join(dir, "testdata", "case.txt"), []byte("y"), 0o644) }, true},
	}
	prev := base
	for _, c := range changes {
		c.change(t)
		h, err := bundleHash(hostd, dir)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.same && h != prev {
			t.Errorf("%s changed the hash: an unshipped file must not replace the host", c.name)
		}
		if !c.same && h == prev {
			t.Errorf("%s did not change the hash: the host would keep the old bundle", c.name)
		}
		prev = h
	}
}

func TestBundleRefusesSymlinks(t *testing.T) {
	hostd, dir := writeBundle(t)
	if err := os.Symlink("/etc/shadow", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := bundleHash(hostd, dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("symlink accepted: %v", err)
	}
}

func TestLoadBundleChecks(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, hostd, dir string)
		want string
	}{
		{"hostd missing", func(t *testing.T, hostd, _ string) { os.Remove(hostd) }, keyHostdBinary},
		{"hostd is a script", func(t *testing.T, hostd, _ string) { mustWrite(t, hostd, []byte("#!/bin/sh\n"), 0o755) }, "not a Linux ELF"},
		{"hostd for arm64", func(t *testing.T, hostd, _ string) { mustWrite(t, hostd, fakeELF(elf.EM_AARCH64, elf.ET_EXEC), 0o755) }, "need linux/amd64"},
		{"hostd is an object file", func(t *testing.T, hostd, _ string) { mustWrite(t, hostd, fakeELF(elf.EM_X86_64, elf.ET_REL), 0o755) }, "not an executable"},
		{"no bootstrap.sh", func(t *testing.T, _, dir string) { os.Remove(filepath.Join(dir, bootstrapEntry)) }, keyBootstrapDir},
		{"no user-data template", func(t *testing.T, _, dir string) { os.Remove(filepath.Join(dir, userDataTemplate)) }, userDataTemplate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hostd, dir := writeBundle(t)
			tc.edit(t, hostd, dir)
			_, err := loadBundle(hostd, dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestRenderUserData(t *testing.T) {
	op, dep := testAuthorizedKey(t), testAuthorizedKey(t)
	out, err := renderUserData(fixtureTemplate, userDataInput{OperatorPublicKey: op, DeployPublicKey: dep})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, op+"\n"+dep+"\n") {
		t.Errorf("keys not rendered:\n%s", out)
	}

	bad := []struct {
		name string
		tmpl string
		in   userDataInput
		want string
	}{
		{"private key as deploy key", fixtureTemplate, userDataInput{op, "-----BEGIN OPENSSH PRIVATE KEY-----"}, "deploy key"},
		{"two-line key", fixtureTemplate, userDataInput{op + "\n" + dep, dep}, "operator key"},
		{"unknown field", "#!/bin/sh\n{{.AdminPassword}}\n", userDataInput{op, dep}, "render"},
		{"no shebang", "echo {{.OperatorPublicKey}}", userDataInput{op, dep}, "must start with"},
		{"too big", "#!/bin/sh\n" + strings.Repeat("#", maxUserData), userDataInput{op, dep}, "limit"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := renderUserData(tc.tmpl, tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error with %q", err, tc.want)
			}
		})
	}
}

// The real template from bootstrap/ must render with the two keys and
// nothing else.
func TestRenderRepositoryUserDataTemplate(t *testing.T) {
	tmpl, err := os.ReadFile(filepath.Join("..", defaultBootstrapDir, userDataTemplate))
	if os.IsNotExist(err) {
		t.Skip("bootstrap/user-data.sh.tmpl is not in this checkout yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	op, dep := testAuthorizedKey(t), testAuthorizedKey(t)
	out, err := renderUserData(string(tmpl), userDataInput{OperatorPublicKey: op, DeployPublicKey: dep})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, op) || !strings.Contains(out, dep) {
		t.Error("rendered user data lacks one of the keys")
	}
	if strings.Contains(out, "PRIVATE KEY") {
		t.Error("rendered user data contains a private key")
	}
}
