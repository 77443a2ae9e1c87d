package bootstrap

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestUserDataCarriesBothKeysAndNoSecret(t *testing.T) {
	op := testAuthorizedKey(t, "operator@laptop")
	deploy := testAuthorizedKey(t, "trustyclaw-deploy")
	ud, err := RenderUserData(UserData{OperatorPublicKey: op + "\n", DeployPublicKey: deploy})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{op, deploy} {
		if !strings.Contains(ud, "\n"+key+"\n") {
			t.Errorf("user data lacks the key line %q", key)
		}
	}
	secretish := regexp.MustCompile(`(?i)PRIVATE KEY|password\s*=|chpasswd|usermod -p|--password|AKIA[0-9A-Z]{16}|aws_secret|token|BEGIN CERTIFICATE`)
	if m := secretish.FindString(ud); m != "" {
		t.Errorf("user data contains something secret-looking: %q", m)
	}
	// Only the operator account; no other user, no password login.
	for _, want := range []string{"user=trustyclaw-operator", "NOPASSWD: ALL", "PasswordAuthentication no", "AllowUsers trustyclaw-operator", "visudo -cqf", "sshd -t"} {
		if !strings.Contains(ud, want) {
			t.Errorf("user data lacks %q", want)
		}
	}
	if strings.Contains(ud, "{{") {
		t.Error("user data has an unrendered template action")
	}
	p := writeTemp(t, t.TempDir(), "user-data.sh", ud, 0o755)
	if out, err := run(t, 10*time.Second, "", "bash", "-n", p); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
}

// The key block of the rendered script, run by bash, yields exactly the
// two key lines: the quoted here-document expands nothing.
func TestUserDataKeyBlockIsLiteral(t *testing.T) {
	op := testAuthorizedKey(t, "$(touch /tmp/x)`id`")
	deploy := testAuthorizedKey(t, "deploy")
	ud, err := RenderUserData(UserData{OperatorPublicKey: op, DeployPublicKey: deploy})
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(ud, "keys=$(cat <<'TRUSTYCLAW_KEYS_END'")
	end := strings.Index(ud, "\nTRUSTYCLAW_KEYS_END\n)")
	if start < 0 || end < 0 {
		t.Fatal("key block not found")
	}
	block := ud[start:end+len("\nTRUSTYCLAW_KEYS_END\n)")] + "\nprintf '%s\\n' \"$keys\"\n"
	out, err := run(t, 10*time.Second, "", "bash", "-c", block)
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	if out != op+"\n"+deploy+"\n" {
		t.Fatalf("keys block printed %q", out)
	}
}

func TestUserDataRefusesWhatIsNotOnePublicKey(t *testing.T) {
	good := testAuthorizedKey(t, "ok")
	fields := strings.Fields(good)
	cases := map[string]string{
		"empty":               "",
		"private key":         "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----",
		"two lines":           good + "\n" + good,
		"line break smuggled": good + "\nTRUSTYCLAW_KEYS_END\nrm -rf /",
		"unknown type":        "ssh-dss " + fields[1],
		"not base64":          "ssh-ed25519 !!!notbase64!!!",
		"type mismatch":       "ssh-rsa " + fields[1],
		"control char":        good + "\x1b[2J",
		"type only":           "ssh-ed25519",
	}
	for name, key := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := RenderUserData(UserData{OperatorPublicKey: key, DeployPublicKey: good}); err == nil {
				t.Errorf("operator key %q accepted", key)
			} else if !strings.Contains(err.Error(), "OperatorPublicKey") {
				t.Errorf("error does not name the field: %v", err)
			}
			if _, err := RenderUserData(UserData{OperatorPublicKey: good, DeployPublicKey: key}); err == nil {
				t.Errorf("deploy key %q accepted", key)
			}
		})
	}
}

// ssh-keygen agrees that the rendered keys are keys (when it is installed).
func TestUserDataKeysParseWithSSHKeygen(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("ssh-keygen not installed (openssh-client)")
	}
	dir := t.TempDir()
	key := testAuthorizedKey(t, "k")
	p := filepath.Join(dir, "k.pub")
	if err := os.WriteFile(p, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, 10*time.Second, "", keygen, "-lf", p); err != nil || !strings.Contains(out, "SHA256:") {
		t.Fatalf("ssh-keygen -lf: %v\n%s", err, out)
	}
}
