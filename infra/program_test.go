package main

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const (
	typeInstance   = "aws:ec2/instance:Instance"
	typeVolume     = "aws:ebs/volume:Volume"
	typeAttachment = "aws:ec2/volumeAttachment:VolumeAttachment"
	typeSG         = "aws:ec2/securityGroup:SecurityGroup"
	typeKey        = "tls:index/privateKey:PrivateKey"
	typePassword   = "random:index/randomPassword:RandomPassword"
	typeCommand    = "command:remote:Command"
	typeCopy       = "command:remote:CopyToRemote"
)

func mustDeploy(t *testing.T, o runOpts) *run {
	t.Helper()
	r := deploy(t, o)
	if r.err != nil {
		t.Fatalf("deploy failed: %v", r.err)
	}
	return r
}

func TestInstanceIMDSv2NoRolePublicIP(t *testing.T) {
	r := mustDeploy(t, runOpts{})
	in := r.one(t, typeInstance, "host").Inputs

	if got := str(t, in, "metadataOptions.httpTokens"); got != "required" {
		t.Errorf("metadataOptions.httpTokens = %q, want required (IMDSv2)", got)
	}
	if got := num(t, in, "metadataOptions.httpPutResponseHopLimit"); got != 1 {
		t.Errorf("metadataOptions.httpPutResponseHopLimit = %v, want 1", got)
	}
	if got := str(t, in, "metadataOptions.httpEndpoint"); got != "enabled" {
		t.Errorf("metadataOptions.httpEndpoint = %q", got)
	}
	if v := path(t, in, "iamInstanceProfile"); !v.IsNull() {
		t.Errorf("instance has an instance profile: %v", v)
	}
	for k := range in {
		if strings.Contains(strings.ToLower(string(k)), "iam") || string(k) == "keyName" {
			t.Errorf("instance input %q must not be set", k)
		}
	}
	if len(r.byType("aws:iam/role:Role"))+len(r.byType("aws:iam/instanceProfile:InstanceProfile")) > 0 {
		t.Error("the program declares IAM roles or instance profiles")
	}
	if v, ok := boolean(t, in, "associatePublicIpAddress"); !v || !ok {
		t.Error("associatePublicIpAddress must be true (SSH needs a public IPv4)")
	}
	if got := str(t, in, "instanceType"); got != "t3.small" {
		t.Errorf("instanceType = %q", got)
	}
	if got := str(t, in, "ami"); got != "ami-0123456789abcdef0" {
		t.Errorf("ami = %q, want the SSM parameter's value", got)
	}
	if got := str(t, in, "subnetId"); got != "subnet-a" {
		t.Errorf("subnetId = %q, want subnet-a (first eligible zone)", got)
	}
	if got := num(t, in, "rootBlockDevice.volumeSize"); got != 16 {
		t.Errorf("root volume size = %v", got)
	}
	if got := str(t, in, "rootBlockDevice.volumeType"); got != "gp3" {
		t.Errorf("root volume type = %q", got)
	}
	if v, ok := boolean(t, in, "rootBlockDevice.deleteOnTermination"); !v || !ok {
		t.Error("root volume must be deleted on termination")
	}
	if got := str(t, in, "creditSpecification.cpuCredits"); got != "standard" {
		t.Errorf("cpuCredits = %q, want standard", got)
	}
}

func TestUserDataCarriesOnlyPublicKeys(t *testing.T) {
	cfg := validConfig(t)
	r := mustDeploy(t, runOpts{config: cfg})
	in := r.one(t, typeInstance, "host").Inputs
	ud := str(t, in, "userData")
	op, _ := normaliseAuthorizedKey(cfg[keySSHPublicKey])
	if !strings.Contains(ud, op+"\n") {
		t.Errorf("user data lacks the operator key:\n%s", ud)
	}
	if !strings.Contains(ud, "ssh-ed25519 ") || strings.Count(ud, "ssh-ed25519 ") != 2 {
		t.Errorf("user data should hold the operator and the deploy public key:\n%s", ud)
	}
	if strings.Contains(ud, "PRIVATE") || strings.Contains(ud, generatedTestPassword) {
		t.Errorf("user data carries a secret:\n%s", ud)
	}
	if v, ok := boolean(t, in, "userDataReplaceOnChange"); !v || !ok {
		t.Error("userDataReplaceOnChange must be true: user data only runs on first boot")
	}
}

func TestSecurityGroupRules(t *testing.T) {
	r := mustDeploy(t, runOpts{})
	in := r.one(t, typeSG, "host").Inputs
	if got := str(t, in, "vpcId"); got != "vpc-1" {
		t.Errorf("vpcId = %q", got)
	}
	rules := func(key string) []string {
		v := path(t, in, key)
		if !v.IsArray() {
			t.Fatalf("%s is not a list: %v", key, v)
		}
		var out []string
		for _, r := range v.ArrayValue() {
			m := plain(r).ObjectValue()
			var cidrs []string
			for _, c := range plain(m["cidrBlocks"]).ArrayValue() {
				cidrs = append(cidrs, plain(c).StringValue())
			}
			out = append(out, strings.Join([]string{
				plain(m["protocol"]).StringValue(),
				resource.NewProperty(m).ObjectValue()["fromPort"].String(),
				resource.NewProperty(m).ObjectValue()["toPort"].String(),
				strings.Join(cidrs, ","),
			}, " "))
		}
		sort.Strings(out)
		return out
	}
	if got, want := rules("ingress"), []string{"tcp {22} {22} 0.0.0.0/0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ingress = %q, want %q", got, want)
	}
	if got, want := rules("egress"), []string{"tcp {443} {443} 0.0.0.0/0", "tcp {80} {80} 0.0.0.0/0", "udp {123} {123} 0.0.0.0/0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("egress = %q, want %q", got, want)
	}
}

func TestDataVolumesEncryptedRetainedInInstanceZone(t *testing.T) {
	r := mustDeploy(t, runOpts{})
	vols := r.byType(typeVolume)
	if len(vols) != 2 {
		t.Fatalf("%d data volumes, want 2", len(vols))
	}
	az := str(t, r.one(t, typeInstance, "host").Inputs, "availabilityZone")
	for _, v := range vols {
		if enc, ok := boolean(t, v.Inputs, "encrypted"); !enc || !ok {
			t.Errorf("%s: not encrypted", v.Name)
		}
		if got := num(t, v.Inputs, "size"); got != 8 {
			t.Errorf("%s: size %v, want 8", v.Name, got)
		}
		if got := str(t, v.Inputs, "type"); got != "gp3" {
			t.Errorf("%s: type %q", v.Name, got)
		}
		if got := str(t, v.Inputs, "availabilityZone"); got != az || got != "eu-west-1a" {
			t.Errorf("%s: zone %q, instance zone %q", v.Name, got, az)
		}
		if v.Req.RetainOnDelete == nil || !*v.Req.RetainOnDelete {
			t.Errorf("%s: retainOnDelete must be set so destroy and replacement keep the data", v.Name)
		}
	}
	devices := map[string]string{}
	for _, a := range r.byType(typeAttachment) {
		devices[str(t, a.Inputs, "volumeId")] = str(t, a.Inputs, "deviceName")
		if got := str(t, a.Inputs, "instanceId"); got != "i-0abc" {
			t.Errorf("%s attaches to %q", a.Name, got)
		}
	}
	if want := map[string]string{"vol-admin": "/dev/sdf", "vol-agent": "/dev/sdg"}; !reflect.DeepEqual(devices, want) {
		t.Errorf("attachments = %v, want %v", devices, want)
	}
}

func TestResetStorageLetsVolumesGo(t *testing.T) {
	cfg := validConfig(t)
	cfg[keyResetStorage] = "true"
	r := mustDeploy(t, runOpts{config: cfg})
	for _, v := range r.byType(typeVolume) {
		if v.Req.RetainOnDelete != nil && *v.Req.RetainOnDelete {
			t.Errorf("%s: retained although resetStorageDangerousDelete=true", v.Name)
		}
		if v.Req.Protect != nil && *v.Req.Protect {
			t.Errorf("%s: protected although resetStorageDangerousDelete=true", v.Name)
		}
	}
}

func TestTags(t *testing.T) {
	cfg := validConfig(t)
	r := mustDeploy(t, runOpts{config: cfg})
	name := cfg[keyAgentName]
	tagged := 0
	for _, res := range r.rec.resources {
		if !strings.HasPrefix(res.Type, "aws:") {
			continue
		}
		if res.Type == typeAttachment {
			continue // attachments have no tags in EC2
		}
		tagged++
		if got := str(t, res.Inputs, "tags.trustyclaw-host"); got != "true" {
			t.Errorf("%s %s: trustyclaw-host = %q", res.Type, res.Name, got)
		}
		if got := str(t, res.Inputs, "tags.trustyclaw-host-agent-name"); got != name {
			t.Errorf("%s %s: trustyclaw-host-agent-name = %q", res.Type, res.Name, got)
		}
	}
	if tagged != 4 {
		t.Errorf("%d tagged AWS resources, want 4 (security group, instance, 2 volumes)", tagged)
	}
	if got := str(t, r.one(t, typeInstance, "host").Inputs, "tags.Name"); got != "trustyclaw-host-"+name {
		t.Errorf("instance Name = %q", got)
	}
	for _, role := range []string{"admin", "agent"} {
		v := r.one(t, typeVolume, role+"-volume").Inputs
		if got := str(t, v, "tags.Name"); got != "trustyclaw-host-"+name {
			t.Errorf("%s volume Name = %q", role, got)
		}
		if got := str(t, v, "tags.trustyclaw-host-volume-role"); got != role {
			t.Errorf("%s volume role tag = %q", role, got)
		}
	}
}

func TestBootstrapStep(t *testing.T) {
	r := mustDeploy(t, runOpts{})
	boot := r.one(t, typeCommand, "bootstrap")
	create := str(t, boot.Inputs, "create")
	for _, want := range []string{
		"sudo -n env ",
		"TRUSTYCLAW_ADMIN_VOLUME_ID='vol-admin'",
		"TRUSTYCLAW_AGENT_VOLUME_ID='vol-agent'",
		"TRUSTYCLAW_DEPLOY_KEY_FINGERPRINT='SHA256:",
		"bash '" + bundleStageDir + "/bootstrap/bootstrap.sh'",
	} {
		if !strings.Contains(create, want) {
			t.Errorf("bootstrap command lacks %q:\n%s", want, create)
		}
	}
	stdin := boot.Inputs["stdin"]
	if !stdin.IsSecret() {
		t.Error("the bootstrap's stdin (admin password) must be a secret")
	}
	if got := plain(stdin).StringValue(); got != generatedTestPassword+"\n" {
		t.Errorf("stdin = %q, want the admin password and a newline", got)
	}
	if got := str(t, boot.Inputs, "connection.user"); got != operatorUser {
		t.Errorf("connects as %q", got)
	}
	if got := str(t, boot.Inputs, "connection.host"); got != "203.0.113.7" {
		t.Errorf("connects to %q", got)
	}
	if pk := plain(boot.Inputs["connection"]).ObjectValue()["privateKey"]; plain(pk).IsNull() {
		t.Error("the bootstrap connection has no private key")
	} else if !boot.Inputs["connection"].IsSecret() && !pk.IsSecret() {
		t.Error("the deploy private key must stay a secret")
	}
	for _, dep := range []string{
		r.urnOf(t, typeCopy, "bundle-hostd"), r.urnOf(t, typeCopy, "bundle-bootstrap"),
		r.urnOf(t, typeAttachment, "admin-attachment"), r.urnOf(t, typeAttachment, "agent-attachment"),
	} {
		if !slices.Contains(boot.Req.Dependencies, dep) {
			t.Errorf("bootstrap does not wait for %s; deps %v", dep, boot.Req.Dependencies)
		}
	}
	// Re-run triggers: the instance id and the bundle hash.
	triggers := path(t, boot.Inputs, "triggers")
	if !triggers.IsArray() || len(triggers.ArrayValue()) != 2 || plain(triggers.ArrayValue()[0]).StringValue() != "i-0abc" || len(plain(triggers.ArrayValue()[1]).StringValue()) != 64 {
		t.Errorf("bootstrap triggers = %v, want [instance id, bundle hash]", triggers)
	}
	hostdCopy := r.one(t, typeCopy, "bundle-hostd")
	if got := str(t, hostdCopy.Inputs, "remotePath"); got != bundleStageDir+"/hostd" {
		t.Errorf("hostd copied to %q", got)
	}
	bootCopy := r.one(t, typeCopy, "bundle-bootstrap")
	if got := str(t, bootCopy.Inputs, "remotePath"); got != bundleStageDir+"/bootstrap" {
		t.Errorf("bootstrap/ copied to %q", got)
	}
	for _, c := range []registered{hostdCopy, bootCopy} {
		if !slices.Contains(c.Req.Dependencies, r.urnOf(t, typeCommand, "bundle-stage")) {
			t.Errorf("%s copies before the staging directory is reset", c.Name)
		}
	}
}

// No input of any resource may carry the admin password outside a secret.
func TestAdminPasswordNeverInPlaintextInputs(t *testing.T) {
	const configured = "configured-password-42!"
	for _, tc := range []struct {
		name string
		pw   string
		cfg  func(m map[string]string)
		keys []string
	}{
		{"generated", generatedTestPassword, func(map[string]string) {}, nil},
		{"configured", configured, func(m map[string]string) { m[keyAdminPassword] = configured }, []string{keyAdminPassword}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig(t)
			tc.cfg(cfg)
			r := mustDeploy(t, runOpts{config: cfg, secrets: tc.keys})
			if tc.name == "configured" && len(r.byType(typePassword)) != 0 {
				t.Error("a password is generated although one is configured")
			}
			if tc.name == "generated" && len(r.byType(typePassword)) != 1 {
				t.Error("no password generated")
			}
			for _, res := range r.rec.resources {
				if leak := findPlaintext(resource.NewProperty(res.Inputs), tc.pw); leak {
					t.Errorf("%s %s carries the admin password in a non-secret input", res.Type, res.Name)
				}
			}
			if got := r.outputs["adminPassword"]; got != tc.pw {
				t.Errorf("adminPassword output = %v", got)
			}
			if !r.secret["adminPassword"] {
				t.Error("adminPassword output is not a secret")
			}
		})
	}
}

func findPlaintext(v resource.PropertyValue, needle string) bool {
	switch {
	case v.IsSecret():
		return false
	case v.IsString():
		return strings.Contains(v.StringValue(), needle)
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			if findPlaintext(e, needle) {
				return true
			}
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			if findPlaintext(e, needle) {
				return true
			}
		}
	case v.IsOutput():
		return findPlaintext(v.OutputValue().Element, needle)
	}
	return false
}

func TestOutputs(t *testing.T) {
	cfg := validConfig(t)
	r := mustDeploy(t, runOpts{config: cfg})
	want := map[string]string{
		"agentName":        cfg[keyAgentName],
		"instanceId":       "i-0abc",
		"region":           "eu-west-1",
		"publicDns":        "ec2-203-0-113-7.eu-west-1.compute.amazonaws.com",
		"sshUser":          "trustyclaw-operator",
		"adminUiLocalUrl":  "http://127.0.0.1:7443",
		"adminVolumeId":    "vol-admin",
		"agentVolumeId":    "vol-agent",
		"adminPassword":    generatedTestPassword,
		"sshTunnelCommand": "ssh -N -L 7443:127.0.0.1:7443 trustyclaw-operator@ec2-203-0-113-7.eu-west-1.compute.amazonaws.com",
	}
	got := map[string]string{}
	for k, v := range r.outputs {
		got[k] = fmt.Sprint(v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("outputs:\n got %v\nwant %v", got, want)
	}
	for k, secret := range r.secret {
		if secret != (k == "adminPassword") {
			t.Errorf("output %s secret=%v", k, secret)
		}
	}
}

func TestSSHTunnelCommandFallsBackToIP(t *testing.T) {
	if got := sshTunnelCommand("", "198.51.100.4"); got != "ssh -N -L 7443:127.0.0.1:7443 trustyclaw-operator@198.51.100.4" {
		t.Errorf("got %q", got)
	}
}

// Bad config fails before any lookup or resource.
func TestConfigErrorsBeforeAnything(t *testing.T) {
	cfg := validConfig(t)
	cfg[keySSHPortOpened] = "false"
	r := deploy(t, runOpts{config: cfg})
	if r.err == nil || !strings.Contains(r.err.Error(), keySSHPortOpened) {
		t.Fatalf("error %v does not name %s", r.err, keySSHPortOpened)
	}
	if len(r.rec.resources) != 0 || len(r.rec.invokes) != 0 {
		t.Errorf("declared %d resources and made %d lookups before failing", len(r.rec.resources), len(r.rec.invokes))
	}
}

func TestNoUsableSubnetFailsBeforeResources(t *testing.T) {
	for name, edit := range map[string]func(a *fakeAccount){
		"no default VPC":     func(a *fakeAccount) { a.VPCID = "" },
		"gateway detached":   func(a *fakeAccount) { a.Attached = false },
		"private route only": func(a *fakeAccount) { a.Tables = []routeTableFact{{ID: "rtb-main", Main: true}} },
		"type not offered":   func(a *fakeAccount) { a.Offered = nil },
	} {
		t.Run(name, func(t *testing.T) {
			a := defaultAccount()
			edit(a)
			r := deploy(t, runOpts{account: a})
			if r.err == nil || !strings.Contains(r.err.Error(), "subnet choice") {
				t.Fatalf("got %v, want a subnet choice error", r.err)
			}
			if len(r.rec.resources) != 0 {
				t.Errorf("%d resources declared before the subnet error", len(r.rec.resources))
			}
		})
	}
}

func TestMissingBundleFailsBeforeResources(t *testing.T) {
	hostd, boot := writeBundle(t)
	r := deploy(t, runOpts{hostd: hostd + ".missing", boot: boot})
	if r.err == nil || !strings.Contains(r.err.Error(), keyHostdBinary) {
		t.Fatalf("got %v, want an error naming %s", r.err, keyHostdBinary)
	}
	if len(r.rec.resources) != 0 {
		t.Errorf("%d resources declared", len(r.rec.resources))
	}
}
