// Package bootstrap holds the files that turn a fresh Ubuntu 22.04 (or
// Debian 12) instance into a TrustyClaw host, embedded so the Pulumi program
// can ship them and the tests can read them: the first-boot user data
// template, bootstrap.sh (run as root over SSH), the systemd units and the
// agent slice, the nftables ruleset, the sudoers entry, the sudo helper
// wrappers and the Codex requirements file. docs/bootstrap.md describes
// what runs when.
//
// It owns only these files and the rendering of the user data. It must
// never put a secret into the user data or onto a command line: the admin
// password reaches bootstrap.sh on stdin.
package bootstrap

import (
	"bytes"
	"embed"
	"encoding/base64"
	"fmt"
	"strings"
	"text/template"
)

// Files is the bootstrap/ directory as it is copied to the instance.
//
//go:embed bootstrap.sh user-data.sh.tmpl nftables.conf sudoers codex-requirements.toml apt-sandbox.conf systemd helpers
var Files embed.FS

// ScriptPath is the entry point inside Files, run as root on the host.
const ScriptPath = "bootstrap.sh"

// Environment variables bootstrap.sh reads (see its header). The admin
// password is not one of them: it goes on stdin.
const (
	EnvAgentName      = "TRUSTYCLAW_AGENT_NAME"
	EnvAdminVolumeID  = "TRUSTYCLAW_ADMIN_VOLUME_ID"
	EnvAgentVolumeID  = "TRUSTYCLAW_AGENT_VOLUME_ID"
	EnvAdminDevice    = "TRUSTYCLAW_ADMIN_DEVICE"
	EnvAgentDevice    = "TRUSTYCLAW_AGENT_DEVICE"
	EnvDeployKeyFPR   = "TRUSTYCLAW_DEPLOY_KEY_FINGERPRINT"
	EnvDeployKey      = "TRUSTYCLAW_DEPLOY_PUBLIC_KEY"
	EnvHostdBin       = "TRUSTYCLAW_HOSTD_BIN"
	EnvVolumeWaitSecs = "TRUSTYCLAW_VOLUME_WAIT_SECONDS"
)

// UserData is what the first-boot template needs: two public keys in
// authorized_keys syntax ("ssh-ed25519 AAAA… comment").
type UserData struct {
	OperatorPublicKey string
	DeployPublicKey   string
}

// RenderUserData renders user-data.sh.tmpl after checking that both keys
// are single-line public keys, so nothing but a key line can end up in the
// script.
func RenderUserData(d UserData) (string, error) {
	if err := checkPublicKey("OperatorPublicKey", d.OperatorPublicKey); err != nil {
		return "", err
	}
	if err := checkPublicKey("DeployPublicKey", d.DeployPublicKey); err != nil {
		return "", err
	}
	d.OperatorPublicKey = strings.TrimSpace(d.OperatorPublicKey)
	d.DeployPublicKey = strings.TrimSpace(d.DeployPublicKey)
	raw, err := Files.ReadFile("user-data.sh.tmpl")
	if err != nil {
		return "", fmt.Errorf("read user data template: %w", err)
	}
	tmpl, err := template.New("user-data").Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return "", fmt.Errorf("parse user data template: %w", err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, d); err != nil {
		return "", fmt.Errorf("render user data: %w", err)
	}
	return out.String(), nil
}

// publicKeyTypes are the key types an operator or deploy key may have.
var publicKeyTypes = map[string]bool{
	"ssh-ed25519": true, "ssh-rsa": true,
	"ecdsa-sha2-nistp256": true, "ecdsa-sha2-nistp384": true, "ecdsa-sha2-nistp521": true,
	"sk-ssh-ed25519@openssh.com": true, "sk-ecdsa-sha2-nistp256@openssh.com": true,
}

// checkPublicKey accepts "TYPE BASE64 [comment]" on one line of printable
// ASCII, where BASE64 decodes to a blob that starts with TYPE (the SSH wire
// format), and refuses anything that looks like a private key.
func checkPublicKey(field, key string) error {
	key = strings.TrimSpace(key)
	if key == "" {
		return fmt.Errorf("%s: empty; give an SSH public key such as \"ssh-ed25519 AAAA… comment\"", field)
	}
	if strings.Contains(key, "PRIVATE KEY") {
		return fmt.Errorf("%s: this is a private key; give the public key (the .pub file)", field)
	}
	for _, c := range key {
		if c < 0x20 || c > 0x7e {
			return fmt.Errorf("%s: must be one line of printable ASCII", field)
		}
	}
	parts := strings.Fields(key)
	if len(parts) < 2 || !publicKeyTypes[parts[0]] {
		return fmt.Errorf("%s: not an SSH public key (want \"TYPE BASE64 [comment]\" with a type like ssh-ed25519)", field)
	}
	blob, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil || len(blob) < 4 {
		return fmt.Errorf("%s: the key data is not base64", field)
	}
	n := int(blob[0])<<24 | int(blob[1])<<16 | int(blob[2])<<8 | int(blob[3])
	if n != len(parts[0]) || len(blob) < 4+n || string(blob[4:4+n]) != parts[0] {
		return fmt.Errorf("%s: the key data does not match its type %q", field, parts[0])
	}
	return nil
}
