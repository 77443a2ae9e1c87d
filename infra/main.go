// Command infra is the TrustyClaw Pulumi program: one stack = one host.
//
// It owns the AWS side of a host: the subnet choice in the default VPC, the
// SSH-only security group, the IMDSv2 instance without any IAM role, the
// two encrypted data volumes that outlive every instance, and the SSH
// bootstrap that installs the release bundle. The stack configuration is
// validated and every lookup is done before the first resource is declared,
// so a bad config or an unusable account fails with nothing created.
//
// It must never put a secret in user data, tags or command lines: the admin
// password travels only as a Pulumi secret and on the bootstrap's stdin.
// docs/deploy.md is the operator's guide.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ubuntuAMIParameter is Canonical's public SSM parameter for the current
// Ubuntu 22.04 LTS amd64 AMI of the region.
const ubuntuAMIParameter = "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"

func main() {
	pulumi.Run(program)
}

// program validates, looks up, then declares. Nothing is declared unless
// every check before it passed.
func program(ctx *pulumi.Context) error {
	p, err := makePlan(ctx)
	if err != nil {
		return err
	}
	outputs, err := declareHost(ctx, p)
	if err != nil {
		return err
	}
	for name, value := range outputs {
		ctx.Export(name, value)
	}
	return nil
}

func makePlan(ctx *pulumi.Context) (plan, error) {
	cfg, err := parseConfig(ctx.GetConfig, ctx.IsConfigSecret)
	if err != nil {
		return plan{}, err
	}

	root, err := projectRoot(ctx.RootDirectory())
	if err != nil {
		return plan{}, err
	}
	hostd := resolvePath(root, cfg.HostdBinary, defaultHostdBinary)
	bootstrapDir := resolvePath(root, cfg.BootstrapDir, defaultBootstrapDir)
	bundle, err := loadBundle(hostd, bootstrapDir)
	if err != nil {
		return plan{}, fmt.Errorf("release bundle: %w", err)
	}

	facts, err := lookupNetwork(ctx, cfg.InstanceType)
	if err != nil {
		return plan{}, err
	}
	subnet, err := chooseSubnet(facts, cfg.InstanceType)
	if err != nil {
		return plan{}, err
	}

	ami, err := ssm.LookupParameter(ctx, &ssm.LookupParameterArgs{Name: ubuntuAMIParameter})
	if err != nil {
		return plan{}, fmt.Errorf("look up the Ubuntu 22.04 AMI (%s): %w", ubuntuAMIParameter, err)
	}
	if ami.Value == "" {
		return plan{}, fmt.Errorf("the Ubuntu 22.04 AMI parameter %s is empty", ubuntuAMIParameter)
	}

	return plan{Config: cfg, Bundle: bundle, VPCID: facts.VPCID, Subnet: subnet, AMI: ami.Value}, nil
}

// projectRoot is the directory holding Pulumi.yaml: the CLI reports it;
// otherwise it is searched upwards from the working directory.
func projectRoot(fromCLI string) (string, error) {
	if fromCLI != "" {
		return filepath.Abs(fromCLI)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the project root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "Pulumi.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find the project root: no Pulumi.yaml above the working directory")
		}
		dir = parent
	}
}

// resolvePath makes a configured path (or the default) absolute, relative
// to the project root.
func resolvePath(root, configured, def string) string {
	p := configured
	if p == "" {
		p = def
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	return filepath.Clean(p)
}
