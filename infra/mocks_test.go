package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

// registered is one resource the program declared, as the engine saw it.
type registered struct {
	Type   string
	Name   string
	Inputs resource.PropertyMap
	Req    *pulumirpc.RegisterResourceRequest
}

// fakeAccount answers the program's invokes like a region with a default
// VPC. Tests edit it to model other accounts.
type fakeAccount struct {
	VPCID    string // "" = no default VPC
	Subnets  []subnetFact
	Tables   []routeTableFact
	Attached bool // igw-1 attached to the VPC
	Offered  []string
	AMI      string
}

func defaultAccount() *fakeAccount {
	return &fakeAccount{
		VPCID: "vpc-1",
		Subnets: []subnetFact{
			{ID: "subnet-b", AZ: "eu-west-1b", DefaultForAZ: true, State: "available"},
			{ID: "subnet-a", AZ: "eu-west-1a", DefaultForAZ: true, State: "available"},
		},
		Tables:   []routeTableFact{publicTable("rtb-main", true)},
		Attached: true,
		Offered:  []string{"eu-west-1a", "eu-west-1b"},
		AMI:      "ami-0123456789abcdef0",
	}
}

// recorder is the MockResourceMonitor: it records every resource and
// invoke, returns the inputs as outputs plus the computed outputs the
// program reads.
type recorder struct {
	t       *testing.T
	account *fakeAccount

	mu        sync.Mutex
	resources []registered
	invokes   []string
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	r.resources = append(r.resources, registered{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs, Req: args.RegisterRPC})
	r.mu.Unlock()

	out := args.Inputs.Copy()
	id := args.Name + "-id"
	switch args.TypeToken {
	case "aws:ec2/instance:Instance":
		id = "i-0abc"
		out["publicDns"] = resource.NewProperty("ec2-203-0-113-7.eu-west-1.compute.amazonaws.com")
		out["publicIp"] = resource.NewProperty("203.0.113.7")
	case "aws:ebs/volume:Volume":
		id = "vol-" + strings.TrimSuffix(args.Name, "-volume")
	case "aws:ec2/securityGroup:SecurityGroup":
		id = "sg-1"
	case "tls:index/privateKey:PrivateKey":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return "", nil, err
		}
		sp, _ := ssh.NewPublicKey(pub)
		block, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			return "", nil, err
		}
		out["publicKeyOpenssh"] = resource.NewProperty(string(ssh.MarshalAuthorizedKey(sp)))
		out["publicKeyFingerprintSha256"] = resource.NewProperty(ssh.FingerprintSHA256(sp))
		out["privateKeyOpenssh"] = resource.MakeSecret(resource.NewProperty(string(pem.EncodeToMemory(block))))
	case "random:index/randomPassword:RandomPassword":
		out["result"] = resource.MakeSecret(resource.NewProperty(generatedTestPassword))
	}
	return id, out, nil
}

const generatedTestPassword = "GeneratedPassword0123456789abcd"

func (r *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	r.mu.Lock()
	r.invokes = append(r.invokes, args.Token)
	r.mu.Unlock()
	a := r.account
	str := func(k string) string {
		if v, ok := args.Args[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	switch args.Token {
	case "aws:ec2/getVpc:getVpc":
		if a.VPCID == "" {
			return nil, fmt.Errorf("no matching EC2 VPC found")
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": a.VPCID, "default": true}), nil
	case "aws:ec2/getSubnets:getSubnets":
		ids := []any{}
		for _, s := range a.Subnets {
			ids = append(ids, s.ID)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": a.VPCID, "ids": ids}), nil
	case "aws:ec2/getSubnet:getSubnet":
		for _, s := range a.Subnets {
			if s.ID == str("id") {
				return resource.NewPropertyMapFromMap(map[string]any{
					"id": s.ID, "availabilityZone": s.AZ, "defaultForAz": s.DefaultForAZ, "state": s.State, "vpcId": a.VPCID,
				}), nil
			}
		}
		return nil, fmt.Errorf("no subnet %q", str("id"))
	case "aws:ec2/getRouteTables:getRouteTables":
		ids := []any{}
		for _, t := range a.Tables {
			ids = append(ids, t.ID)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": a.VPCID, "ids": ids}), nil
	case "aws:ec2/getRouteTable:getRouteTable":
		for _, t := range a.Tables {
			if t.ID != str("routeTableId") {
				continue
			}
			assoc := []any{}
			if t.Main {
				assoc = append(assoc, map[string]any{"main": true, "routeTableId": t.ID})
			}
			for _, s := range t.SubnetIDs {
				assoc = append(assoc, map[string]any{"main": false, "subnetId": s, "routeTableId": t.ID})
			}
			routes := []any{}
			for _, rt := range t.Routes {
				routes = append(routes, map[string]any{"cidrBlock": rt.CIDR, "gatewayId": rt.GatewayID})
			}
			return resource.NewPropertyMapFromMap(map[string]any{
				"id": t.ID, "routeTableId": t.ID, "vpcId": a.VPCID, "associations": assoc, "routes": routes,
			}), nil
		}
		return nil, fmt.Errorf("no route table %q", str("routeTableId"))
	case "aws:ec2/getInternetGateway:getInternetGateway":
		att := []any{}
		if a.Attached {
			att = append(att, map[string]any{"state": "available", "vpcId": a.VPCID})
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": str("internetGatewayId"), "internetGatewayId": str("internetGatewayId"), "attachments": att}), nil
	case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
		locs := []any{}
		for _, z := range a.Offered {
			locs = append(locs, z)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": "eu-west-1", "locations": locs}), nil
	case "aws:ssm/getParameter:getParameter":
		if str("name") != ubuntuAMIParameter {
			return nil, fmt.Errorf("unexpected parameter %q", str("name"))
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": str("name"), "name": str("name"), "value": a.AMI, "type": "String"}), nil
	}
	return nil, fmt.Errorf("unexpected invoke %s", args.Token)
}

// run is one mock deployment of the program.
type run struct {
	rec     *recorder
	err     error
	outputs map[string]any
	secret  map[string]bool
}

// runOpts configures a mock deployment.
type runOpts struct {
	config  map[string]string
	secrets []string
	account *fakeAccount
	hostd   string // bundle paths; written fresh when empty
	boot    string
}

// deploy runs the program against mocks and collects the stack outputs.
func deploy(t *testing.T, o runOpts) *run {
	t.Helper()
	if o.account == nil {
		o.account = defaultAccount()
	}
	if o.hostd == "" {
		o.hostd, o.boot = writeBundle(t)
	}
	if o.config == nil {
		o.config = validConfig(t)
	}
	cfg := map[string]string{keyHostdBinary: o.hostd, keyBootstrapDir: o.boot}
	for k, v := range o.config {
		cfg[k] = v
	}
	rec := &recorder{t: t, account: o.account}
	r := &run{rec: rec, outputs: map[string]any{}, secret: map[string]bool{}}
	var mu sync.Mutex
	var applied sync.WaitGroup // RunErr can return before an output's apply has run
	capture := func(ctx *pulumi.Context) error {
		p, err := makePlan(ctx)
		if err != nil {
			return err
		}
		outs, err := declareHost(ctx, p)
		if err != nil {
			return err
		}
		for k, v := range outs {
			k, out := k, pulumi.ToOutput(v)
			mu.Lock()
			r.secret[k] = pulumi.IsSecret(out)
			mu.Unlock()
			applied.Add(1)
			out.ApplyT(func(x any) any {
				defer applied.Done()
				mu.Lock()
				r.outputs[k] = x
				mu.Unlock()
				return x
			})
		}
		return nil
	}
	r.err = pulumi.RunErr(capture, pulumi.WithMocks("trustyclaw", "test", rec), func(ri *pulumi.RunInfo) {
		ri.Config = cfg
		ri.ConfigSecretKeys = o.secrets
		ri.RootDirectory = filepath.Dir(o.hostd)
	})
	if r.err == nil {
		done := make(chan struct{})
		go func() { applied.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("stack outputs did not resolve within 30 s")
		}
	}
	// Applies and mock calls run on the SDK's goroutines; take the locks
	// once so the race detector sees the hand-over.
	mu.Lock()
	defer mu.Unlock()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return r
}

func (r *run) byType(typ string) []registered {
	var out []registered
	for _, res := range r.rec.resources {
		if res.Type == typ {
			out = append(out, res)
		}
	}
	return out
}

func (r *run) one(t *testing.T, typ, name string) registered {
	t.Helper()
	for _, res := range r.rec.resources {
		if res.Type == typ && res.Name == name {
			return res
		}
	}
	t.Fatalf("no %s named %q declared", typ, name)
	return registered{}
}

func (r *run) urnOf(t *testing.T, typ, name string) string {
	t.Helper()
	return "urn:pulumi:test::trustyclaw::" + typ + "::" + name
}

// plain unwraps secrets (and computed values) so inputs can be compared.
func plain(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput():
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

// path walks a property map by keys and array indexes ("a.b.0.c").
func path(t *testing.T, m resource.PropertyMap, p string) resource.PropertyValue {
	t.Helper()
	v := resource.NewProperty(m)
	for _, part := range strings.Split(p, ".") {
		v = plain(v)
		switch {
		case v.IsObject():
			v = v.ObjectValue()[resource.PropertyKey(part)]
		case v.IsArray():
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i >= len(v.ArrayValue()) {
				return resource.NewNullProperty()
			}
			v = v.ArrayValue()[i]
		default:
			return resource.NewNullProperty()
		}
	}
	return plain(v)
}

func str(t *testing.T, m resource.PropertyMap, p string) string {
	t.Helper()
	v := path(t, m, p)
	if !v.IsString() {
		return ""
	}
	return v.StringValue()
}

func num(t *testing.T, m resource.PropertyMap, p string) float64 {
	t.Helper()
	v := path(t, m, p)
	if !v.IsNumber() {
		return -1
	}
	return v.NumberValue()
}

func boolean(t *testing.T, m resource.PropertyMap, p string) (value, set bool) {
	t.Helper()
	v := path(t, m, p)
	if !v.IsBool() {
		return false, false
	}
	return v.BoolValue(), true
}
