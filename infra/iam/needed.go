package iam

// NeededDescribeActions are the read-only EC2 calls the program's lookups
// and the AWS provider's reads (refresh, waiters) make. EC2 Describe calls
// support no resource-level scoping, so they are granted on "*".
var NeededDescribeActions = []string{
	"ec2:DescribeAccountAttributes",
	"ec2:DescribeAvailabilityZones",
	"ec2:DescribeImages",
	"ec2:DescribeInstanceAttribute",
	"ec2:DescribeInstanceCreditSpecifications",
	"ec2:DescribeInstanceTypeOfferings",
	"ec2:DescribeInstanceTypes",
	"ec2:DescribeInstances",
	"ec2:DescribeInternetGateways",
	"ec2:DescribeNetworkInterfaces",
	"ec2:DescribeRouteTables",
	"ec2:DescribeSecurityGroupRules",
	"ec2:DescribeSecurityGroups",
	"ec2:DescribeSubnets",
	"ec2:DescribeTags",
	"ec2:DescribeVolumes",
	"ec2:DescribeVolumesModifications",
	"ec2:DescribeVpcAttribute",
	"ec2:DescribeVpcs",
}

// InvokeActions maps every provider invoke (data source) the program calls
// to the IAM action it needs. infra's tests fail when the program makes an
// invoke missing here.
var InvokeActions = map[string]string{
	"aws:ec2/getVpc:getVpc":                                     "ec2:DescribeVpcs",
	"aws:ec2/getSubnets:getSubnets":                             "ec2:DescribeSubnets",
	"aws:ec2/getSubnet:getSubnet":                               "ec2:DescribeSubnets",
	"aws:ec2/getRouteTables:getRouteTables":                     "ec2:DescribeRouteTables",
	"aws:ec2/getRouteTable:getRouteTable":                       "ec2:DescribeRouteTables",
	"aws:ec2/getInternetGateway:getInternetGateway":             "ec2:DescribeInternetGateways",
	"aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": "ec2:DescribeInstanceTypeOfferings",
	"aws:ssm/getParameter:getParameter":                         "ssm:GetParameter",
}

// ResourceActions maps every AWS resource type the program declares to the
// create and delete calls the provider makes for it. infra's tests fail
// when the program declares an AWS resource type missing here.
var ResourceActions = map[string][]string{
	"aws:ec2/securityGroup:SecurityGroup":       {"ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:DeleteSecurityGroup"},
	"aws:ec2/instance:Instance":                 {"ec2:RunInstances", "ec2:CreateTags", "ec2:TerminateInstances"},
	"aws:ebs/volume:Volume":                     {"ec2:CreateVolume", "ec2:CreateTags", "ec2:DeleteVolume"},
	"aws:ec2/volumeAttachment:VolumeAttachment": {"ec2:AttachVolume", "ec2:DetachVolume", "ec2:StopInstances"},
}
