package main

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/trustyclaw/trustyclaw/bootstrap"
)

// Default bundle locations, relative to the project root (the directory of
// Pulumi.yaml). Build the binary with:
//
//	GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -o bin/linux-amd64/hostd ./hostd/cmd/hostd
const (
	defaultHostdBinary  = "bin/linux-amd64/hostd"
	defaultBootstrapDir = "bootstrap"

	bootstrapEntry   = bootstrap.ScriptPath
	userDataTemplate = "user-data.sh.tmpl"
)

// releaseBundle is what the bootstrap step copies to the host: the hostd
// binary and the bootstrap directory. Hash identifies its content; a
// change of Hash replaces the instance and re-runs the bootstrap.
type releaseBundle struct {
	HostdBinary  string // absolute path
	BootstrapDir string // absolute path
	Hash         string // hex sha256 over the files that matter, see bundleHash
	UserDataTmpl string // content of bootstrap/user-data.sh.tmpl
}

// bundleExcluded reports whether a bootstrap/ entry is left out of the
// hash: Go sources and test data exist only for the repository's tests and
// are never run on the host, so editing them must not replace the host.
func bundleExcluded(d fs.DirEntry) bool {
	if d.IsDir() {
		return d.Name() == "testdata"
	}
	return strings.HasSuffix(d.Name(), ".go")
}

// loadBundle checks the bundle and hashes it. It is called before any
// resource is declared so a missing or wrong binary fails the run early.
func loadBundle(hostdBinary, bootstrapDir string) (releaseBundle, error) {
	b := releaseBundle{HostdBinary: hostdBinary, BootstrapDir: bootstrapDir}
	if err := checkLinuxAMD64(hostdBinary); err != nil {
		return b, fmt.Errorf("%s (set %s, or build it: GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -o %s ./hostd/cmd/hostd): %w",
			hostdBinary, keyHostdBinary, defaultHostdBinary, err)
	}
	st, err := os.Stat(filepath.Join(bootstrapDir, bootstrapEntry))
	if err != nil || !st.Mode().IsRegular() {
		return b, fmt.Errorf("bootstrap entry %s missing (set %s to the bootstrap directory)", filepath.Join(bootstrapDir, bootstrapEntry), keyBootstrapDir)
	}
	tmpl, err := os.ReadFile(filepath.Join(bootstrapDir, userDataTemplate))
	if err != nil {
		return b, fmt.Errorf("read the user-data template: %w", err)
	}
	b.UserDataTmpl = string(tmpl)
	b.Hash, err = bundleHash(hostdBinary, bootstrapDir)
	if err != nil {
		return b, err
	}
	return b, nil
}

// checkLinuxAMD64 makes sure the file is an x86-64 ELF executable: the host
// is amd64 Linux, and a binary built for the operator's laptop would only
// fail later, on the host, after the old instance was already gone.
func checkLinuxAMD64(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("not a Linux ELF binary: %w", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		return fmt.Errorf("built for %v, need linux/amd64 (x86-64)", f.Machine)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("ELF type %v is not an executable", f.Type)
	}
	return nil
}

// bundleHash is a sha256 over, in order: the hostd binary's digest, then for
// every file of the bootstrap directory in lexical path order its slash
// path, whether it is executable, and its digest. Symlinks and special
// files are refused: the copy to the host must be exactly what was hashed.
func bundleHash(hostdBinary, bootstrapDir string) (string, error) {
	h := sha256.New()
	d, err := fileDigest(hostdBinary)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "hostd\x00%s\n", d)

	type entry struct{ rel, line string }
	var entries []entry
	err = filepath.WalkDir(bootstrapDir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(bootstrapDir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if bundleExcluded(de) {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if de.IsDir() {
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("bootstrap bundle: %s is not a regular file (symlinks and special files are refused)", p)
		}
		d, err := fileDigest(p)
		if err != nil {
			return err
		}
		entries = append(entries, entry{rel, fmt.Sprintf("file\x00%s\x00%t\x00%s\n", rel, info.Mode().Perm()&0o111 != 0, d)})
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash the bootstrap directory: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].rel < entries[j].rel })
	for _, e := range entries {
		io.WriteString(h, e.line)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// userDataInput is what the user-data template may see: public keys only.
type userDataInput struct {
	OperatorPublicKey string
	DeployPublicKey   string
}

// maxUserData is EC2's limit on user data (16 KiB before base64).
const maxUserData = 16 << 10

// renderUserData renders bootstrap/user-data.sh.tmpl. Both keys must be
// single-line public keys; the result must stay within EC2's size limit.
func renderUserData(tmpl string, in userDataInput) (string, error) {
	for name, k := range map[string]string{"operator": in.OperatorPublicKey, "deploy": in.DeployPublicKey} {
		if k == "" || strings.ContainsAny(k, "\r\n") || strings.Contains(k, "PRIVATE") {
			return "", fmt.Errorf("user data: the %s key must be one public key line", name)
		}
	}
	t, err := template.New(userDataTemplate).Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", userDataTemplate, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, in); err != nil {
		return "", fmt.Errorf("render %s: %w", userDataTemplate, err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "#!") && !strings.HasPrefix(out, "#cloud-config") {
		return "", errors.New("user data: the rendered template must start with #! or #cloud-config")
	}
	if len(out) > maxUserData {
		return "", fmt.Errorf("user data: %d bytes exceeds EC2's %d-byte limit", len(out), maxUserData)
	}
	return out, nil
}
