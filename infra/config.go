package main

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Config keys, fully qualified as they appear in `pulumi config` and in
// every validation error.
const (
	keyAgentName     = "trustyclaw:agentName"
	keyRegion        = "aws:region"
	keySSHPublicKey  = "trustyclaw:sshPublicKey"
	keySSHPortOpened = "trustyclaw:sshPortOpened"
	keyAdminPassword = "trustyclaw:adminPassword"
	keyInstanceType  = "trustyclaw:instanceType"
	keyResetStorage  = "trustyclaw:resetStorageDangerousDelete"
	keyHostdBinary   = "trustyclaw:hostdBinary"
	keyBootstrapDir  = "trustyclaw:bootstrapDir"
)

const defaultInstanceType = "t3.small"

// Admin password bounds mirror `hostd hash-password`, which the bootstrap
// feeds it to; refusing here fails before anything is created.
const (
	minAdminPasswordLen = 12
	maxAdminPasswordLen = 4096
)

var (
	agentNameRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,50}$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
)

// hostConfig is the validated stack configuration. It never holds the admin
// password itself: that stays a Pulumi secret and is read as an Output.
type hostConfig struct {
	AgentName string
	Region    string
	// SSHPublicKey is the operator key re-serialised as "type base64"
	// (options and comment dropped), safe to place in authorized_keys.
	SSHPublicKey     string
	InstanceType     string
	ResetStorage     bool
	AdminPasswordSet bool
	// HostdBinary and BootstrapDir are empty when not configured; the
	// program then uses the default paths under the project root.
	HostdBinary  string
	BootstrapDir string
}

// configSource returns a raw config value and whether it is set.
type configSource func(key string) (string, bool)

// parseConfig validates the stack configuration. It is pure so it can be
// table-tested, and the program calls it before declaring any resource.
// Every problem is reported (joined), each naming its key and the fix.
//
// isSecret reports whether a key was stored encrypted (`--secret`); the
// admin password is refused in plaintext config.
func parseConfig(get configSource, isSecret func(key string) bool) (hostConfig, error) {
	var c hostConfig
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config %s: %s", key, fmt.Sprintf(format, args...)))
	}
	value := func(key string) (string, bool) {
		v, ok := get(key)
		return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
	}

	if v, ok := value(keyAgentName); !ok {
		bad(keyAgentName, "required; set it with `pulumi config set agentName <name>` (1-50 of A-Z a-z 0-9 _ -)")
	} else if !agentNameRE.MatchString(v) {
		bad(keyAgentName, "%q is invalid: use 1-50 characters of A-Z a-z 0-9 _ -", v)
	} else {
		c.AgentName = v
	}

	if v, ok := value(keyRegion); !ok {
		bad(keyRegion, "required; set it with `pulumi config set aws:region <region>` (e.g. \"eu-west-1\")")
	} else if !regionRE.MatchString(v) {
		bad(keyRegion, "%q is not an AWS region name (e.g. \"eu-west-1\")", v)
	} else {
		c.Region = v
	}

	if v, ok := value(keySSHPublicKey); !ok {
		bad(keySSHPublicKey, "required; set it to the content of your public key file (e.g. `pulumi config set sshPublicKey \"$(cat ~/.ssh/id_ed25519.pub)\"`)")
	} else if k, err := normaliseAuthorizedKey(v); err != nil {
		bad(keySSHPublicKey, "%v", err)
	} else {
		c.SSHPublicKey = k
	}

	if v, ok := value(keySSHPortOpened); !ok {
		bad(keySSHPortOpened, "required and must be true: the SSH tunnel is the only admin path (`pulumi config set sshPortOpened true`)")
	} else if b, err := parseStrictBool(v); err != nil {
		bad(keySSHPortOpened, "%q is not a boolean; it must be true", v)
	} else if !b {
		bad(keySSHPortOpened, "false is refused: the SSH tunnel is the only admin path, set it to true")
	}

	if raw, ok := get(keyAdminPassword); ok && raw != "" {
		// Not trimmed: spaces are legitimate password characters. The value
		// is never echoed in an error.
		switch {
		case !isSecret(keyAdminPassword):
			bad(keyAdminPassword, "stored in plaintext; set it again with `pulumi config set --secret adminPassword`")
		case len(raw) < minAdminPasswordLen:
			bad(keyAdminPassword, "too short: use at least %d characters (or unset it to have one generated)", minAdminPasswordLen)
		case len(raw) > maxAdminPasswordLen:
			bad(keyAdminPassword, "too long: use at most %d bytes", maxAdminPasswordLen)
		case strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			bad(keyAdminPassword, "contains a control character (newline, tab, ...); use printable characters only")
		default:
			c.AdminPasswordSet = true
		}
	}

	c.InstanceType = defaultInstanceType
	if v, ok := value(keyInstanceType); ok {
		if !instanceTypeRE.MatchString(v) {
			bad(keyInstanceType, "%q is not an EC2 instance type (e.g. %q)", v, defaultInstanceType)
		} else {
			c.InstanceType = v
		}
	}

	if v, ok := value(keyResetStorage); ok {
		b, err := parseStrictBool(v)
		if err != nil {
			bad(keyResetStorage, "%q is not a boolean; use true or false", v)
		}
		c.ResetStorage = b
	}

	if v, ok := value(keyHostdBinary); ok {
		c.HostdBinary = v
	}
	if v, ok := value(keyBootstrapDir); ok {
		c.BootstrapDir = v
	}

	if len(errs) > 0 {
		return hostConfig{}, errors.Join(errs...)
	}
	return c, nil
}

// parseStrictBool accepts only true/false (any case): a typo must not be
// read as either.
func parseStrictBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", v)
}

// normaliseAuthorizedKey parses one SSH public key in authorized_keys form
// and returns it as "type base64". Options and the comment are dropped so
// nothing but the key reaches the user data; DSA and short RSA keys are
// refused.
func normaliseAuthorizedKey(v string) (string, error) {
	if strings.ContainsAny(v, "\r\n") {
		return "", errors.New("must be exactly one public key on one line")
	}
	if strings.Contains(v, "PRIVATE KEY") {
		return "", errors.New("this is a private key; give the public key (the .pub file content)")
	}
	pub, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(v))
	if err != nil {
		return "", fmt.Errorf("not an SSH public key (give the content of the .pub file, not a path): %v", err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return "", errors.New("must be exactly one public key")
	}
	switch pub.Type() {
	case "ssh-dss": // current x/crypto no longer parses DSA; kept for older ones
		return "", errors.New("DSA keys are refused; use ed25519 (ssh-keygen -t ed25519)")
	case ssh.KeyAlgoRSA:
		if ck, ok := pub.(ssh.CryptoPublicKey); ok {
			if rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && rk.N.BitLen() < 2048 {
				return "", fmt.Errorf("RSA key of %d bits is too weak; use ed25519 or RSA >= 2048 bits", rk.N.BitLen())
			}
		}
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), nil
}
