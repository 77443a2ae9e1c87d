package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testAuthorizedKey returns a fresh public key line in authorized_keys form.
func testAuthorizedKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

func validConfig(t *testing.T) map[string]string {
	return map[string]string{
		keyAgentName:     "alpha_1-x",
		keyRegion:        "eu-west-1",
		keySSHPublicKey:  testAuthorizedKey(t) + " operator@laptop",
		keySSHPortOpened: "true",
	}
}

func sourceOf(m map[string]string) configSource {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseConfigDefaults(t *testing.T) {
	m := validConfig(t)
	c, err := parseConfig(sourceOf(m), func(string) bool { return false })
	if err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	if c.AgentName != "alpha_1-x" || c.Region != "eu-west-1" {
		t.Errorf("got %+v", c)
	}
	if c.InstanceType != "t3.small" {
		t.Errorf("instanceType default = %q, want t3.small", c.InstanceType)
	}
	if c.ResetStorage {
		t.Error("resetStorageDangerousDelete must default to false")
	}
	if c.AdminPasswordSet {
		t.Error("adminPassword must default to unset (generated)")
	}
	if strings.Contains(c.SSHPublicKey, "operator@laptop") || !strings.HasPrefix(c.SSHPublicKey, "ssh-ed25519 AAAA") {
		t.Errorf("operator key not normalised to type+base64: %q", c.SSHPublicKey)
	}
}

func TestParseConfigOptionalKeys(t *testing.T) {
	m := validConfig(t)
	m[keyInstanceType] = "t3.medium"
	m[keyResetStorage] = "TRUE"
	m[keyAdminPassword] = "correct horse battery"
	m[keyHostdBinary] = "/tmp/hostd"
	c, err := parseConfig(sourceOf(m), func(k string) bool { return k == keyAdminPassword })
	if err != nil {
		t.Fatal(err)
	}
	if c.InstanceType != "t3.medium" || !c.ResetStorage || !c.AdminPasswordSet || c.HostdBinary != "/tmp/hostd" {
		t.Errorf("got %+v", c)
	}
}

func TestParseConfigErrorsNameTheKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	weakLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(weak)))
	two := testAuthorizedKey(t) + "\n" + testAuthorizedKey(t)

	tests := []struct {
		name    string
		edit    func(m map[string]string)
		secret  bool
		wantKey string
		want    string // part of the message
	}{
		{"agentName missing", func(m map[string]string) { delete(m, keyAgentName) }, false, keyAgentName, "required"},
		{"agentName empty", func(m map[string]string) { m[keyAgentName] = " " }, false, keyAgentName, "required"},
		{"agentName too long", func(m map[string]string) { m[keyAgentName] = strings.Repeat("a", 51) }, false, keyAgentName, "1-50"},
		{"agentName dot", func(m map[string]string) { m[keyAgentName] = "a.b" }, false, keyAgentName, "invalid"},
		{"agentName space", func(m map[string]string) { m[keyAgentName] = "a b" }, false, keyAgentName, "invalid"},
		{"agentName unicode", func(m map[string]string) { m[keyAgentName] = "hôte" }, false, keyAgentName, "invalid"},
		{"region missing", func(m map[string]string) { delete(m, keyRegion) }, false, keyRegion, "required"},
		{"region garbage", func(m map[string]string) { m[keyRegion] = "Europe" }, false, keyRegion, "not an AWS region"},
		{"sshPublicKey missing", func(m map[string]string) { delete(m, keySSHPublicKey) }, false, keySSHPublicKey, "required"},
		{"sshPublicKey path", func(m map[string]string) { m[keySSHPublicKey] = "~/.ssh/id_ed25519.pub" }, false, keySSHPublicKey, "not an SSH public key"},
		{"sshPublicKey private", func(m map[string]string) { m[keySSHPublicKey] = "-----BEGIN OPENSSH PRIVATE KEY-----" }, false, keySSHPublicKey, "private key"},
		{"sshPublicKey two keys", func(m map[string]string) { m[keySSHPublicKey] = two }, false, keySSHPublicKey, "one"},
		{"sshPublicKey weak rsa", func(m map[string]string) { m[keySSHPublicKey] = weakLine }, false, keySSHPublicKey, "too weak"},
		{"sshPortOpened missing", func(m map[string]string) { delete(m, keySSHPortOpened) }, false, keySSHPortOpened, "must be true"},
		{"sshPortOpened false", func(m map[string]string) { m[keySSHPortOpened] = "false" }, false, keySSHPortOpened, "false is refused"},
		{"sshPortOpened garbage", func(m map[string]string) { m[keySSHPortOpened] = "yes" }, false, keySSHPortOpened, "not a boolean"},
		{"adminPassword plaintext", func(m map[string]string) { m[keyAdminPassword] = "long enough password" }, false, keyAdminPassword, "--secret"},
		{"adminPassword short", func(m map[string]string) { m[keyAdminPassword] = "x7Q!zz" }, true, keyAdminPassword, "too short"},
		{"adminPassword newline", func(m map[string]string) { m[keyAdminPassword] = "long enough\npassword" }, true, keyAdminPassword, "control character"},
		{"adminPassword huge", func(m map[string]string) { m[keyAdminPassword] = strings.Repeat("x", 4097) }, true, keyAdminPassword, "too long"},
		{"instanceType garbage", func(m map[string]string) { m[keyInstanceType] = "small" }, false, keyInstanceType, "not an EC2 instance type"},
		{"reset garbage", func(m map[string]string) { m[keyResetStorage] = "1" }, false, keyResetStorage, "not a boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := validConfig(t)
			tc.edit(m)
			_, err := parseConfig(sourceOf(m), func(string) bool { return tc.secret })
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, "config "+tc.wantKey+":") {
				t.Errorf("error does not name %s: %v", tc.wantKey, msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q lacks %q", msg, tc.want)
			}
			if pw := m[keyAdminPassword]; pw != "" && strings.Contains(msg, pw) {
				t.Errorf("error echoes the admin password: %v", msg)
			}
		})
	}
}

func TestParseConfigReportsEveryProblem(t *testing.T) {
	_, err := parseConfig(sourceOf(map[string]string{keySSHPortOpened: "false"}), func(string) bool { return false })
	if err == nil {
		t.Fatal("accepted an empty config")
	}
	for _, k := range []string{keyAgentName, keyRegion, keySSHPublicKey, keySSHPortOpened} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("missing %s in %v", k, err)
		}
	}
}

func TestNormaliseAuthorizedKeyDropsOptionsAndComment(t *testing.T) {
	k := testAuthorizedKey(t)
	got, err := normaliseAuthorizedKey(`command="/bin/sh -c 'curl evil'" ` + k + " me@x; rm -rf /")
	if err != nil {
		t.Fatal(err)
	}
	if got != k {
		t.Errorf("got %q, want %q", got, k)
	}
}
