package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ebs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Fixed facts of the host that other parts of the project rely on.
const (
	operatorUser     = "trustyclaw-operator"
	adminUILocalURL  = "http://127.0.0.1:7443"
	adminUIPort      = 7443
	rootVolumeGiB    = 16
	dataVolumeGiB    = 8
	volumeType       = "gp3"
	adminDeviceName  = "/dev/sdf"
	agentDeviceName  = "/dev/sdg"
	bundleStageDir   = "/home/" + operatorUser + "/.trustyclaw-bundle"
	tagHost          = "trustyclaw-host"
	tagAgentName     = "trustyclaw-host-agent-name"
	tagVolumeRole    = "trustyclaw-host-volume-role"
	generatedPassLen = 32
)

// plan is everything decided before the first resource is declared.
type plan struct {
	Config hostConfig
	Bundle releaseBundle
	VPCID  string
	Subnet subnetChoice
	AMI    string
}

// hostTags are on every resource; nameTags add Name for the instance and
// the volumes.
func hostTags(agentName string) pulumi.StringMap {
	return pulumi.StringMap{
		tagHost:      pulumi.String("true"),
		tagAgentName: pulumi.String(agentName),
	}
}

func nameTags(agentName string, extra map[string]string) pulumi.StringMap {
	t := hostTags(agentName)
	t["Name"] = pulumi.String("trustyclaw-host-" + agentName)
	for k, v := range extra {
		t[k] = pulumi.String(v)
	}
	return t
}

// releaseID names what the instance runs: a change replaces the instance
// (and its deploy key), which is how an upgrade happens.
func releaseID(p plan) string {
	return "ami=" + p.AMI + ";bundle=" + p.Bundle.Hash
}

// declareHost declares the host's resources and returns the stack outputs.
func declareHost(ctx *pulumi.Context, p plan) (map[string]pulumi.Input, error) {
	cfg := p.Config
	release := pulumi.String(releaseID(p))

	sg, err := ec2.NewSecurityGroup(ctx, "host", &ec2.SecurityGroupArgs{
		Description: pulumi.String("TrustyClaw host " + cfg.AgentName + ": SSH in; HTTP, HTTPS, NTP out"),
		VpcId:       pulumi.String(p.VPCID),
		Ingress: ec2.SecurityGroupIngressArray{
			ec2.SecurityGroupIngressArgs{
				Description: pulumi.String("SSH (the only admin path)"), Protocol: pulumi.String("tcp"),
				FromPort: pulumi.Int(22), ToPort: pulumi.Int(22),
				CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")}, Ipv6CidrBlocks: pulumi.StringArray{pulumi.String("::/0")},
			},
		},
		Egress: egressRules(),
		Tags:   nameTags(cfg.AgentName, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("security group: %w", err)
	}

	// The deploy key lets this run's bootstrap log in once; the bootstrap
	// removes it from authorized_keys at the end. It is replaced together
	// with the instance, so every instance gets its own.
	deployKey, err := tls.NewPrivateKey(ctx, "deploy-key", &tls.PrivateKeyArgs{
		Algorithm: pulumi.String("ED25519"),
	}, pulumi.ReplacementTrigger(release))
	if err != nil {
		return nil, fmt.Errorf("deploy key: %w", err)
	}

	adminPassword, err := adminPasswordOutput(ctx, cfg)
	if err != nil {
		return nil, err
	}

	tmpl, operatorKey := p.Bundle.UserDataTmpl, cfg.SSHPublicKey
	userData := deployKey.PublicKeyOpenssh.ApplyT(func(deployPub string) (string, error) {
		return renderUserData(tmpl, userDataInput{
			OperatorPublicKey: operatorKey,
			DeployPublicKey:   strings.TrimSpace(deployPub),
		})
	}).(pulumi.StringOutput)

	instanceArgs := &ec2.InstanceArgs{
		Ami:                      pulumi.String(p.AMI),
		InstanceType:             pulumi.String(cfg.InstanceType),
		SubnetId:                 pulumi.String(p.Subnet.SubnetID),
		AvailabilityZone:         pulumi.String(p.Subnet.AZ),
		VpcSecurityGroupIds:      pulumi.StringArray{sg.ID()},
		AssociatePublicIpAddress: pulumi.Bool(true),
		MetadataOptions: ec2.InstanceMetadataOptionsArgs{
			HttpEndpoint:            pulumi.String("enabled"),
			HttpTokens:              pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(1),
			InstanceMetadataTags:    pulumi.String("disabled"),
		},
		RootBlockDevice: ec2.InstanceRootBlockDeviceArgs{
			VolumeSize:          pulumi.Int(rootVolumeGiB),
			VolumeType:          pulumi.String(volumeType),
			DeleteOnTermination: pulumi.Bool(true),
			Encrypted:           pulumi.Bool(true),
		},
		UserData: userData,
		// User data runs on first boot only, so a change must mean a new
		// instance rather than a silent in-place edit.
		UserDataReplaceOnChange: pulumi.Bool(true),
		Tags:                    nameTags(cfg.AgentName, nil),
	}
	if strings.HasPrefix(cfg.InstanceType, "t") {
		// Burstable types default to "unlimited" credits; a runaway agent
		// must not turn into an unbounded bill.
		instanceArgs.CreditSpecification = ec2.InstanceCreditSpecificationArgs{CpuCredits: pulumi.String("standard")}
	}
	// Delete before replace: the data volumes can be attached to only one
	// instance at a time, so the old instance must let go of them first.
	instance, err := ec2.NewInstance(ctx, "host", instanceArgs,
		pulumi.DeleteBeforeReplace(true),
		pulumi.ReplacementTrigger(release))
	if err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}

	// The data volumes depend on nothing but the configuration and the
	// zone: no instance output and no bundle input reaches them, so an
	// upgrade can never replace them.
	volumeOpts := []pulumi.ResourceOption{pulumi.RetainOnDelete(!cfg.ResetStorage)}
	adminVol, err := dataVolume(ctx, "admin", cfg, p.Subnet.AZ, volumeOpts)
	if err != nil {
		return nil, err
	}
	agentVol, err := dataVolume(ctx, "agent", cfg, p.Subnet.AZ, volumeOpts)
	if err != nil {
		return nil, err
	}
	adminAtt, err := attach(ctx, "admin", adminDeviceName, instance, adminVol)
	if err != nil {
		return nil, err
	}
	agentAtt, err := attach(ctx, "agent", agentDeviceName, instance, agentVol)
	if err != nil {
		return nil, err
	}

	if err := bootstrapHost(ctx, p, bootstrapTargets{
		Instance:      instance,
		DeployKey:     deployKey,
		AdminVolume:   adminVol,
		AgentVolume:   agentVol,
		Attachments:   []pulumi.Resource{adminAtt, agentAtt},
		AdminPassword: adminPassword,
	}); err != nil {
		return nil, err
	}

	return map[string]pulumi.Input{
		"agentName":       pulumi.String(cfg.AgentName),
		"instanceId":      instance.ID(),
		"region":          pulumi.String(cfg.Region),
		"publicDns":       instance.PublicDns,
		"sshUser":         pulumi.String(operatorUser),
		"adminUiLocalUrl": pulumi.String(adminUILocalURL),
		"adminVolumeId":   adminVol.ID(),
		"agentVolumeId":   agentVol.ID(),
		"adminPassword":   pulumi.ToSecret(adminPassword),
		"sshTunnelCommand": pulumi.All(instance.PublicDns, instance.PublicIp).ApplyT(func(v []any) string {
			return sshTunnelCommand(v[0].(string), v[1].(string))
		}),
	}, nil
}

// egressRules: outbound TCP 80, TCP 443 and UDP 123 only (packages and the
// policy proxy's upstreams; NTP). Nothing else leaves the host.
func egressRules() ec2.SecurityGroupEgressArray {
	rule := func(desc, proto string, port int) ec2.SecurityGroupEgressArgs {
		return ec2.SecurityGroupEgressArgs{
			Description: pulumi.String(desc), Protocol: pulumi.String(proto),
			FromPort: pulumi.Int(port), ToPort: pulumi.Int(port),
			CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")}, Ipv6CidrBlocks: pulumi.StringArray{pulumi.String("::/0")},
		}
	}
	return ec2.SecurityGroupEgressArray{
		rule("HTTP", "tcp", 80),
		rule("HTTPS", "tcp", 443),
		rule("NTP", "udp", 123),
	}
}

// adminPasswordOutput is the configured secret, or a password generated once
// and kept in the stack state (so upgrades keep it).
func adminPasswordOutput(ctx *pulumi.Context, cfg hostConfig) (pulumi.StringOutput, error) {
	if cfg.AdminPasswordSet {
		v, _ := ctx.GetConfig(keyAdminPassword)
		return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput), nil
	}
	pw, err := random.NewRandomPassword(ctx, "admin-password", &random.RandomPasswordArgs{
		Length:  pulumi.Int(generatedPassLen),
		Special: pulumi.Bool(false),
	})
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("admin password: %w", err)
	}
	return pw.Result, nil
}

func dataVolume(ctx *pulumi.Context, role string, cfg hostConfig, az string, opts []pulumi.ResourceOption) (*ebs.Volume, error) {
	v, err := ebs.NewVolume(ctx, role+"-volume", &ebs.VolumeArgs{
		AvailabilityZone: pulumi.String(az),
		Size:             pulumi.Int(dataVolumeGiB),
		Type:             pulumi.String(volumeType),
		Encrypted:        pulumi.Bool(true),
		Tags:             nameTags(cfg.AgentName, map[string]string{tagVolumeRole: role}),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s volume: %w", role, err)
	}
	return v, nil
}

func attach(ctx *pulumi.Context, role, device string, instance *ec2.Instance, vol *ebs.Volume) (*ec2.VolumeAttachment, error) {
	a, err := ec2.NewVolumeAttachment(ctx, role+"-attachment", &ec2.VolumeAttachmentArgs{
		DeviceName: pulumi.String(device),
		InstanceId: instance.ID(),
		VolumeId:   vol.ID(),
		// Stop first so the filesystems are unmounted cleanly before the
		// volume moves to the replacement instance.
		StopInstanceBeforeDetaching: pulumi.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("%s attachment: %w", role, err)
	}
	return a, nil
}

// sshTunnelCommand is the ready-to-paste tunnel to the admin UI.
func sshTunnelCommand(publicDNS, publicIP string) string {
	host := publicDNS
	if host == "" {
		host = publicIP
	}
	return fmt.Sprintf("ssh -N -L %d:127.0.0.1:%d %s@%s", adminUIPort, adminUIPort, operatorUser, host)
}
