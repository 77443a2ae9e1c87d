package iam

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	acct = "111122223333"
	reg  = "eu-west-1"
)

func arn(kind, id string) string { return "arn:aws:ec2:" + reg + ":" + acct + ":" + kind + "/" + id }

// variant is one shipped policy and the agent name its identity deploys.
type variant struct {
	file        string
	agentName   string
	otherName   string // a host this identity must not touch
	mayDelete   bool   // may delete data volumes (resetStorageDangerousDelete)
	otherDenied bool
}

var variants = []variant{
	{file: "deployer.json", agentName: "alpha", otherName: "", mayDelete: true},
	{file: "smoke.json", agentName: "smoke-20261204-1", otherName: "stage", mayDelete: true, otherDenied: true},
	{file: "stage.json", agentName: "stage", otherName: "smoke-1", mayDelete: false, otherDenied: true},
}

var tagKeys = []string{"trustyclaw-host", "trustyclaw-host-agent-name", "Name"}

func requestTags(name string, extraKeys ...string) map[string][]string {
	return map[string][]string{
		"aws:RequestTag/trustyclaw-host":            {"true"},
		"aws:RequestTag/trustyclaw-host-agent-name": {name},
		"aws:TagKeys": append(slices.Clone(tagKeys), extraKeys...),
	}
}

func resourceTags(name string) map[string][]string {
	return map[string][]string{
		"aws:ResourceTag/trustyclaw-host":            {"true"},
		"aws:ResourceTag/trustyclaw-host-agent-name": {name},
	}
}

// neededCalls are the authorisation checks `pulumi up`, `pulumi refresh`
// and `pulumi destroy` of infra/ make (through the AWS provider), for a host
// named name. Keep in sync with the program: infra's policy test fails when
// the program uses an invoke or resource type this list does not know.
func neededCalls(name string, mayDelete bool) []Request {
	var out []Request
	add := func(action, resource string, ctx map[string][]string) {
		out = append(out, Request{Action: action, Resource: resource, Context: ctx})
	}
	for _, a := range NeededDescribeActions {
		add(a, "*", nil)
	}
	add("ssm:GetParameter", "arn:aws:ssm:"+reg+"::parameter/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id", nil)

	// Security group: created tagged in the default VPC, rules managed.
	add("ec2:CreateSecurityGroup", arn("security-group", "*"), requestTags(name))
	add("ec2:CreateSecurityGroup", arn("vpc", "vpc-1"), nil)
	add("ec2:CreateTags", arn("security-group", "sg-1"), map[string][]string{"ec2:CreateAction": {"CreateSecurityGroup"}})
	for _, a := range []string{"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"} {
		add(a, arn("security-group", "sg-1"), resourceTags(name))
		add(a, arn("security-group-rule", "sgr-1"), nil)
	}
	add("ec2:DeleteSecurityGroup", arn("security-group", "sg-1"), resourceTags(name))

	// Instance: launched tagged from a Canonical image with our group.
	add("ec2:RunInstances", arn("instance", "*"), requestTags(name))
	add("ec2:RunInstances", "arn:aws:ec2:"+reg+"::image/ami-0123", map[string][]string{"ec2:Owner": {"099720109477"}})
	add("ec2:RunInstances", arn("security-group", "sg-1"), resourceTags(name))
	add("ec2:RunInstances", arn("subnet", "subnet-a"), nil)
	add("ec2:RunInstances", arn("network-interface", "*"), nil)
	add("ec2:RunInstances", arn("volume", "*"), nil) // the root volume
	add("ec2:CreateTags", arn("instance", "i-1"), map[string][]string{"ec2:CreateAction": {"RunInstances"}})
	for _, a := range []string{"ec2:ModifyInstanceAttribute", "ec2:ModifyInstanceMetadataOptions", "ec2:ModifyInstanceCreditSpecification",
		"ec2:StopInstances", "ec2:StartInstances", "ec2:TerminateInstances"} {
		add(a, arn("instance", "i-1"), resourceTags(name))
	}
	add("ec2:ModifyInstanceAttribute", arn("security-group", "sg-1"), resourceTags(name))

	// Data volumes: created tagged, attached to our instance, detached.
	add("ec2:CreateVolume", arn("volume", "*"), requestTags(name, "trustyclaw-host-volume-role"))
	add("ec2:CreateTags", arn("volume", "vol-1"), map[string][]string{"ec2:CreateAction": {"CreateVolume"}})
	for _, a := range []string{"ec2:AttachVolume", "ec2:DetachVolume"} {
		add(a, arn("instance", "i-1"), resourceTags(name))
		add(a, arn("volume", "vol-1"), resourceTags(name))
	}
	add("ec2:ModifyVolume", arn("volume", "vol-1"), resourceTags(name))
	if mayDelete {
		add("ec2:DeleteVolume", arn("volume", "vol-1"), resourceTags(name))
	}

	// Encrypted EBS with the account's EBS key, only through EC2.
	for _, a := range []string{"kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"} {
		add(a, "arn:aws:kms:"+reg+":"+acct+":key/k-1", map[string][]string{"kms:ViaService": {"ec2." + reg + ".amazonaws.com"}})
	}
	return out
}

// forbiddenCalls must be refused: tagless creates, tag edits after
// create, touching resources that are not ours, roles, keys outside EC2.
func forbiddenCalls(v variant) []Request {
	name := v.agentName
	untagged := map[string][]string{}
	out := []Request{
		{"ec2:RunInstances", arn("instance", "*"), untagged},
		{"ec2:RunInstances", arn("instance", "*"), map[string][]string{"aws:RequestTag/trustyclaw-host": {"false"}, "aws:RequestTag/trustyclaw-host-agent-name": {name}}},
		{"ec2:RunInstances", "arn:aws:ec2:" + reg + "::image/ami-evil", map[string][]string{"ec2:Owner": {"444455556666"}}},
		{"ec2:RunInstances", arn("security-group", "sg-other"), untagged},
		{"ec2:RunInstances", arn("instance", "*"), requestTags(name, "Owner")},
		{"ec2:CreateVolume", arn("volume", "*"), untagged},
		{"ec2:CreateSecurityGroup", arn("security-group", "*"), untagged},
		{"ec2:CreateTags", arn("instance", "i-1"), resourceTags(name)},
		{"ec2:CreateTags", arn("volume", "vol-other"), untagged},
		{"ec2:DeleteTags", arn("instance", "i-1"), resourceTags(name)},
		{"ec2:TerminateInstances", arn("instance", "i-other"), untagged},
		{"ec2:StopInstances", arn("instance", "i-other"), untagged},
		{"ec2:DeleteVolume", arn("volume", "vol-other"), untagged},
		{"ec2:AttachVolume", arn("volume", "vol-other"), untagged},
		{"ec2:DeleteSecurityGroup", arn("security-group", "sg-other"), untagged},
		{"ec2:AuthorizeSecurityGroupIngress", arn("security-group", "sg-other"), untagged},
		{"ec2:AssociateIamInstanceProfile", arn("instance", "i-1"), resourceTags(name)},
		{"iam:PassRole", "arn:aws:iam::" + acct + ":role/admin", nil},
		{"ec2:CreateSnapshot", arn("volume", "vol-1"), resourceTags(name)},
		{"ec2:GetConsoleOutput", arn("instance", "i-1"), resourceTags(name)},
		{"kms:Decrypt", "arn:aws:kms:" + reg + ":" + acct + ":key/k-1", nil},
		{"ssm:GetParameter", "arn:aws:ssm:" + reg + ":" + acct + ":parameter/prod/db-password", nil},
		{"ssm:GetParameters", "*", nil},
	}
	if !v.mayDelete {
		out = append(out, Request{"ec2:DeleteVolume", arn("volume", "vol-1"), resourceTags(name)})
	}
	if v.otherDenied {
		out = append(out,
			Request{"ec2:TerminateInstances", arn("instance", "i-2"), resourceTags(v.otherName)},
			Request{"ec2:DetachVolume", arn("volume", "vol-2"), resourceTags(v.otherName)},
			Request{"ec2:RunInstances", arn("instance", "*"), requestTags(v.otherName)},
			Request{"ec2:CreateVolume", arn("volume", "*"), requestTags(v.otherName, "trustyclaw-host-volume-role")},
		)
	}
	return out
}

func TestPoliciesAllowEveryNeededCall(t *testing.T) {
	for _, v := range variants {
		t.Run(v.file, func(t *testing.T) {
			p, err := Load(v.file)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range neededCalls(v.agentName, v.mayDelete) {
				if ok, _ := p.Allows(r); !ok {
					t.Errorf("refuses %s on %s with %v", r.Action, r.Resource, r.Context)
				}
			}
		})
	}
}

func TestPoliciesRefuseEverythingElse(t *testing.T) {
	for _, v := range variants {
		t.Run(v.file, func(t *testing.T) {
			p, err := Load(v.file)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range forbiddenCalls(v) {
				if ok, sid := p.Allows(r); ok {
					t.Errorf("allows %s on %s with %v (statement %s)", r.Action, r.Resource, r.Context, sid)
				}
			}
		})
	}
}

// Least privilege both ways: every action a policy names is one the
// program needs.
func TestPoliciesNameOnlyNeededActions(t *testing.T) {
	for _, v := range variants {
		t.Run(v.file, func(t *testing.T) {
			p, err := Load(v.file)
			if err != nil {
				t.Fatal(err)
			}
			needed := map[string]bool{}
			for _, r := range neededCalls(v.agentName, v.mayDelete) {
				needed[r.Action] = true
			}
			var extra []string
			for _, a := range p.Actions() {
				if !needed[a] {
					extra = append(extra, a)
				}
			}
			sort.Strings(extra)
			if len(extra) > 0 {
				t.Errorf("names actions the program does not need: %s", strings.Join(extra, ", "))
			}
		})
	}
}

func TestParseRefusesBroadOrUnknown(t *testing.T) {
	for name, doc := range map[string]string{
		"wildcard action":  `{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`,
		"deny":             `{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Deny","Action":"ec2:RunInstances","Resource":"*"}]}`,
		"old version":      `{"Version":"2008-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"}]}`,
		"unknown operator": `{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"ec2:RunInstances","Resource":"*","Condition":{"Bool":{"x":"true"}}}]}`,
		"unknown field":    `{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","NotAction":"iam:*","Action":"ec2:RunInstances","Resource":"*"}]}`,
		"repeated sid":     `{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"ec2:A","Resource":"*"},{"Sid":"a","Effect":"Allow","Action":"ec2:B","Resource":"*"}]}`,
		"not json":         `{"Version":`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConditionSemantics(t *testing.T) {
	p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"ec2:RunInstances","Resource":"arn:aws:ec2:*:*:instance/*",
		"Condition":{"StringLike":{"aws:RequestTag/n":"smoke-*"},"ForAllValues:StringEquals":{"aws:TagKeys":["n","Name"]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ctx  map[string][]string
		want bool
	}{
		{map[string][]string{"aws:RequestTag/n": {"smoke-1"}, "aws:TagKeys": {"n"}}, true},
		{map[string][]string{"aws:RequestTag/n": {"smoke-1"}}, true}, // ForAllValues on a missing key holds
		{map[string][]string{"aws:RequestTag/n": {"stage"}, "aws:TagKeys": {"n"}}, false},
		{map[string][]string{"aws:TagKeys": {"n"}}, false}, // StringLike on a missing key fails
		{map[string][]string{"aws:RequestTag/n": {"smoke-1"}, "aws:TagKeys": {"n", "Owner"}}, false},
	} {
		if got, _ := p.Allows(Request{"ec2:RunInstances", arn("instance", "*"), tc.ctx}); got != tc.want {
			t.Errorf("%v: got %v", tc.ctx, got)
		}
	}
	if ok, _ := p.Allows(Request{"EC2:runinstances", arn("instance", "*"), map[string][]string{"aws:RequestTag/n": {"smoke-x"}}}); !ok {
		t.Error("action names are case-insensitive in IAM")
	}
	if ok, _ := p.Allows(Request{"ec2:RunInstances", arn("volume", "*"), map[string][]string{"aws:RequestTag/n": {"smoke-x"}}}); ok {
		t.Error("resource pattern ignored")
	}
}
