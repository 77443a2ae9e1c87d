package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ebs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/trustyclaw/trustyclaw/bootstrap"
)

// SSH dial budget for a fresh instance: boot plus cloud-init creating the
// operator user takes a minute or two.
const (
	dialErrorLimit = 60
	perDialTimeout = 15
)

type bootstrapTargets struct {
	Instance      *ec2.Instance
	DeployKey     *tls.PrivateKey
	AdminVolume   *ebs.Volume
	AgentVolume   *ebs.Volume
	Attachments   []pulumi.Resource
	AdminPassword pulumi.StringOutput
}

// bootstrapEnv is what bootstrap/bootstrap.sh receives in its environment
// (all of it public; the admin password goes on stdin, never argv or env).
// The variable names are the bootstrap package's, so a rename breaks the
// build here rather than a deploy.
type bootstrapEnv struct {
	AgentName            string
	AdminVolumeID        string
	AgentVolumeID        string
	DeployKeyFingerprint string
	DeployPublicKey      string
	BundleHash           string
}

func (e bootstrapEnv) vars() map[string]string {
	return map[string]string{
		bootstrap.EnvAgentName:     e.AgentName,
		bootstrap.EnvAdminVolumeID: e.AdminVolumeID,
		bootstrap.EnvAgentVolumeID: e.AgentVolumeID,
		bootstrap.EnvAdminDevice:   adminDeviceName,
		bootstrap.EnvAgentDevice:   agentDeviceName,
		bootstrap.EnvDeployKeyFPR:  e.DeployKeyFingerprint,
		bootstrap.EnvDeployKey:     e.DeployPublicKey,
		bootstrap.EnvHostdBin:      bundleStageDir + "/hostd",
		// Not read by the script; recorded in the command (and so in the
		// Pulumi state) to tell which release a host got.
		"TRUSTYCLAW_BUNDLE_HASH": e.BundleHash,
	}
}

// stageCommand waits for first boot to finish (cloud-init holds the apt
// lock) and empties the staging directory the bundle is copied into.
func stageCommand() string {
	return strings.Join([]string{
		"set -eu",
		"cloud-init status --wait >/dev/null 2>&1 || true",
		"rm -rf " + shellQuote(bundleStageDir),
		"mkdir -m 0700 " + shellQuote(bundleStageDir),
	}, "\n")
}

// runCommand runs the bootstrap entry as root with its inputs in the
// environment. Every value is single-quoted, so none can inject shell.
func runCommand(e bootstrapEnv) string {
	vars := e.vars()
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("sudo -n env")
	for _, k := range keys {
		b.WriteString(" " + k + "=" + shellQuote(vars[k]))
	}
	b.WriteString(" bash " + shellQuote(bundleStageDir+"/bootstrap/"+bootstrapEntry))
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// bootstrapHost declares the bootstrap step: stage, copy the bundle, run
// bootstrap.sh as root. It re-runs when the instance is replaced or the
// bundle hash changes (the triggers), and only after both data volumes are
// attached.
func bootstrapHost(ctx *pulumi.Context, p plan, t bootstrapTargets) error {
	conn := remote.ConnectionArgs{
		Host:           t.Instance.PublicIp,
		User:           pulumi.String(operatorUser),
		PrivateKey:     t.DeployKey.PrivateKeyOpenssh,
		DialErrorLimit: pulumi.Int(dialErrorLimit),
		PerDialTimeout: pulumi.Int(perDialTimeout),
	}
	triggers := pulumi.Array{t.Instance.ID(), pulumi.String(p.Bundle.Hash)}

	stage, err := remote.NewCommand(ctx, "bundle-stage", &remote.CommandArgs{
		Connection: conn,
		Create:     pulumi.String(stageCommand()),
		Triggers:   triggers,
	}, pulumi.DependsOn(t.Attachments))
	if err != nil {
		return fmt.Errorf("bootstrap staging: %w", err)
	}
	copyHostd, err := remote.NewCopyToRemote(ctx, "bundle-hostd", &remote.CopyToRemoteArgs{
		Connection: conn,
		Source:     pulumi.NewFileAsset(p.Bundle.HostdBinary),
		RemotePath: pulumi.String(bundleStageDir + "/hostd"),
		Triggers:   triggers,
	}, pulumi.DependsOn([]pulumi.Resource{stage}))
	if err != nil {
		return fmt.Errorf("bootstrap copy of hostd: %w", err)
	}
	copyBootstrap, err := remote.NewCopyToRemote(ctx, "bundle-bootstrap", &remote.CopyToRemoteArgs{
		Connection: conn,
		Source:     pulumi.NewFileArchive(p.Bundle.BootstrapDir),
		RemotePath: pulumi.String(bundleStageDir + "/bootstrap"),
		Triggers:   triggers,
	}, pulumi.DependsOn([]pulumi.Resource{stage}))
	if err != nil {
		return fmt.Errorf("bootstrap copy of bootstrap/: %w", err)
	}

	agentName, hash := p.Config.AgentName, p.Bundle.Hash
	create := pulumi.All(t.AdminVolume.ID(), t.AgentVolume.ID(), t.DeployKey.PublicKeyFingerprintSha256, t.DeployKey.PublicKeyOpenssh).
		ApplyT(func(v []any) string {
			return runCommand(bootstrapEnv{
				AgentName:            agentName,
				AdminVolumeID:        string(v[0].(pulumi.ID)),
				AgentVolumeID:        string(v[1].(pulumi.ID)),
				DeployKeyFingerprint: v[2].(string),
				DeployPublicKey:      strings.TrimSpace(v[3].(string)),
				BundleHash:           hash,
			})
		}).(pulumi.StringOutput)

	deps := append([]pulumi.Resource{copyHostd, copyBootstrap}, t.Attachments...)
	_, err = remote.NewCommand(ctx, "bootstrap", &remote.CommandArgs{
		Connection: conn,
		Create:     create,
		Stdin:      pulumi.ToSecret(t.AdminPassword.ApplyT(func(pw string) string { return pw + "\n" })).(pulumi.StringOutput),
		Triggers:   triggers,
	}, pulumi.DependsOn(deps))
	if err != nil {
		return fmt.Errorf("bootstrap run: %w", err)
	}
	return nil
}
