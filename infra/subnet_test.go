package main

import (
	"strings"
	"testing"
)

func publicTable(id string, main bool, subnets ...string) routeTableFact {
	return routeTableFact{ID: id, Main: main, SubnetIDs: subnets, Routes: []routeFact{
		{CIDR: "172.31.0.0/16", GatewayID: "local"},
		{CIDR: "0.0.0.0/0", GatewayID: "igw-1"},
	}}
}

func TestChooseSubnet(t *testing.T) {
	subnets := []subnetFact{
		{ID: "subnet-c", AZ: "eu-west-1c", DefaultForAZ: true, State: "available"},
		{ID: "subnet-a", AZ: "eu-west-1a", DefaultForAZ: true, State: "available"},
		{ID: "subnet-b", AZ: "eu-west-1b", DefaultForAZ: true, State: "available"},
	}
	attached := map[string]bool{"igw-1": true}
	allAZ := map[string]bool{"eu-west-1a": true, "eu-west-1b": true, "eu-west-1c": true}

	tests := []struct {
		name    string
		facts   networkFacts
		want    string
		wantErr string
	}{
		{
			name:  "main table public: first zone wins",
			facts: networkFacts{VPCID: "vpc-1", Subnets: subnets, RouteTables: []routeTableFact{publicTable("rtb-main", true)}, AttachedGateways: attached, OfferedAZs: allAZ},
			want:  "subnet-a",
		},
		{
			name: "explicit private table on the first subnet skips it",
			facts: networkFacts{VPCID: "vpc-1", Subnets: subnets, AttachedGateways: attached, OfferedAZs: allAZ, RouteTables: []routeTableFact{
				publicTable("rtb-main", true),
				{ID: "rtb-private", SubnetIDs: []string{"subnet-a"}, Routes: []routeFact{{CIDR: "0.0.0.0/0", GatewayID: "nat-1"}}},
			}},
			want: "subnet-b",
		},
		{
			name: "explicit public table beats a private main table",
			facts: networkFacts{VPCID: "vpc-1", Subnets: subnets, AttachedGateways: attached, OfferedAZs: allAZ, RouteTables: []routeTableFact{
				{ID: "rtb-main", Main: true, Routes: []routeFact{{CIDR: "172.31.0.0/16", GatewayID: "local"}}},
				publicTable("rtb-pub", false, "subnet-c"),
			}},
			want: "subnet-c",
		},
		{
			name: "zone without the instance type is skipped",
			facts: networkFacts{VPCID: "vpc-1", Subnets: subnets, AttachedGateways: attached, RouteTables: []routeTableFact{publicTable("rtb-main", true)},
				OfferedAZs: map[string]bool{"eu-west-1b": true}},
			want: "subnet-b",
		},
		{
			name:  "unknown offerings accept every zone",
			facts: networkFacts{VPCID: "vpc-1", Subnets: subnets, AttachedGateways: attached, RouteTables: []routeTableFact{publicTable("rtb-main", true)}},
			want:  "subnet-a",
		},
		{
			name: "non-default and unavailable subnets are skipped",
			facts: networkFacts{VPCID: "vpc-1", AttachedGateways: attached, OfferedAZs: allAZ, RouteTables: []routeTableFact{publicTable("rtb-main", true)},
				Subnets: []subnetFact{
					{ID: "subnet-a", AZ: "eu-west-1a", DefaultForAZ: false, State: "available"},
					{ID: "subnet-b", AZ: "eu-west-1b", DefaultForAZ: true, State: "pending"},
					{ID: "subnet-c", AZ: "eu-west-1c", DefaultForAZ: true, State: "available"},
				}},
			want: "subnet-c",
		},
		{
			name:    "no default VPC",
			facts:   networkFacts{},
			wantErr: "no default VPC",
		},
		{
			name:    "default VPC without subnets",
			facts:   networkFacts{VPCID: "vpc-1", RouteTables: []routeTableFact{publicTable("rtb-main", true)}, AttachedGateways: attached},
			wantErr: "has no default subnets",
		},
		{
			name: "route to a detached gateway is a blackhole",
			facts: networkFacts{VPCID: "vpc-1", Subnets: subnets, OfferedAZs: allAZ, RouteTables: []routeTableFact{publicTable("rtb-main", true)},
				AttachedGateways: map[string]bool{}},
			wantErr: "no active 0.0.0.0/0 route",
		},
		{
			name: "only a NAT default route",
			facts: networkFacts{VPCID: "vpc-1", Subnets: subnets, OfferedAZs: allAZ, AttachedGateways: attached, RouteTables: []routeTableFact{
				{ID: "rtb-main", Main: true, Routes: []routeFact{{CIDR: "0.0.0.0/0", GatewayID: "nat-1"}, {CIDR: "10.0.0.0/8", GatewayID: "igw-1"}}},
			}},
			wantErr: "no active 0.0.0.0/0 route",
		},
		{
			name:    "no route table at all",
			facts:   networkFacts{VPCID: "vpc-1", Subnets: subnets, OfferedAZs: allAZ, AttachedGateways: attached},
			wantErr: "no route table found",
		},
		{
			name: "no zone offers the type",
			facts: networkFacts{VPCID: "vpc-1", Subnets: subnets, AttachedGateways: attached, RouteTables: []routeTableFact{publicTable("rtb-main", true)},
				OfferedAZs: map[string]bool{}},
			wantErr: "does not offer t3.small",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chooseSubnet(tc.facts, "t3.small")
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("chose %+v, want error %q", got, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q lacks %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.SubnetID != tc.want {
				t.Errorf("chose %s, want %s", got.SubnetID, tc.want)
			}
			for _, s := range tc.facts.Subnets {
				if s.ID == got.SubnetID && s.AZ != got.AZ {
					t.Errorf("zone %s, want %s", got.AZ, s.AZ)
				}
			}
		})
	}
}

// The choice must not depend on the order AWS lists things in: the data
// volumes live in the chosen zone.
func TestChooseSubnetIsOrderIndependent(t *testing.T) {
	a := subnetFact{ID: "subnet-2", AZ: "us-east-1a", DefaultForAZ: true}
	b := subnetFact{ID: "subnet-1", AZ: "us-east-1b", DefaultForAZ: true}
	base := networkFacts{VPCID: "vpc-1", RouteTables: []routeTableFact{publicTable("rtb-main", true)}, AttachedGateways: map[string]bool{"igw-1": true}}
	for _, order := range [][]subnetFact{{a, b}, {b, a}} {
		f := base
		f.Subnets = order
		got, err := chooseSubnet(f, "t3.small")
		if err != nil {
			t.Fatal(err)
		}
		if got.SubnetID != "subnet-2" {
			t.Errorf("order %v chose %s", order, got.SubnetID)
		}
	}
}
