package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// networkFacts is what the subnet choice needs to know about the account's
// default VPC, gathered by invokes before any resource is declared.
type networkFacts struct {
	VPCID       string
	Subnets     []subnetFact
	RouteTables []routeTableFact
	// AttachedGateways holds the internet gateways attached ("available")
	// to the VPC. A route to a gateway that is not attached is a blackhole.
	AttachedGateways map[string]bool
	// OfferedAZs holds the zones that offer the instance type; nil means
	// unknown (then every zone is accepted).
	OfferedAZs map[string]bool
}

type subnetFact struct {
	ID           string
	AZ           string
	DefaultForAZ bool
	State        string
}

type routeTableFact struct {
	ID        string
	Main      bool
	SubnetIDs []string
	Routes    []routeFact
}

type routeFact struct {
	CIDR      string
	GatewayID string
}

// subnetChoice is the chosen subnet and its zone (the data volumes are
// created in that zone).
type subnetChoice struct {
	SubnetID string
	AZ       string
}

// chooseSubnet picks the subnet the host is launched in. Order of checks:
//
//  1. the VPC must be the account's default VPC (VPCID set);
//  2. consider only its default subnets (default-for-az) that are available;
//  3. the subnet's route table is the one explicitly associated with it,
//     else the VPC's main route table;
//  4. that table needs a 0.0.0.0/0 route whose target is an internet
//     gateway (igw-…) attached to the VPC (otherwise the route is a
//     blackhole and the host gets no public IPv4 path for SSH);
//  5. the zone must offer the instance type (when that is known);
//  6. among the eligible subnets, the first by zone name then subnet id, so
//     the choice (and so the data volumes' zone) is stable across runs.
//
// With none eligible it returns an error that lists every rejected subnet
// and why.
func chooseSubnet(f networkFacts, instanceType string) (subnetChoice, error) {
	if f.VPCID == "" {
		return subnetChoice{}, errors.New("subnet choice: the account has no default VPC in this region; create one with `aws ec2 create-default-vpc`")
	}
	mainTable := ""
	byID := map[string]routeTableFact{}
	explicit := map[string]string{}
	for _, rt := range f.RouteTables {
		byID[rt.ID] = rt
		if rt.Main {
			mainTable = rt.ID
		}
		for _, s := range rt.SubnetIDs {
			explicit[s] = rt.ID
		}
	}

	subnets := append([]subnetFact(nil), f.Subnets...)
	sort.Slice(subnets, func(i, j int) bool {
		if subnets[i].AZ != subnets[j].AZ {
			return subnets[i].AZ < subnets[j].AZ
		}
		return subnets[i].ID < subnets[j].ID
	})

	var rejected []string
	for _, s := range subnets {
		reason := subnetRejection(s, explicit, mainTable, byID, f, instanceType)
		if reason == "" {
			return subnetChoice{SubnetID: s.ID, AZ: s.AZ}, nil
		}
		rejected = append(rejected, fmt.Sprintf("%s (%s): %s", s.ID, s.AZ, reason))
	}
	if len(rejected) == 0 {
		return subnetChoice{}, fmt.Errorf("subnet choice: default VPC %s has no default subnets; create them with `aws ec2 create-default-subnet --availability-zone <az>`", f.VPCID)
	}
	return subnetChoice{}, fmt.Errorf("subnet choice: no default subnet of default VPC %s has a public route (0.0.0.0/0 to an attached internet gateway) in a zone offering %s; rejected: %s",
		f.VPCID, instanceType, strings.Join(rejected, "; "))
}

func subnetRejection(s subnetFact, explicit map[string]string, mainTable string, byID map[string]routeTableFact, f networkFacts, instanceType string) string {
	if !s.DefaultForAZ {
		return "not a default subnet"
	}
	if s.State != "" && s.State != "available" {
		return fmt.Sprintf("state %q", s.State)
	}
	tableID, ok := explicit[s.ID]
	if !ok {
		tableID = mainTable
	}
	rt, ok := byID[tableID]
	if tableID == "" || !ok {
		return "no route table found"
	}
	if !hasInternetRoute(rt, f.AttachedGateways) {
		return fmt.Sprintf("route table %s has no active 0.0.0.0/0 route to an internet gateway", rt.ID)
	}
	if f.OfferedAZs != nil && !f.OfferedAZs[s.AZ] {
		return fmt.Sprintf("zone does not offer %s", instanceType)
	}
	return ""
}

func hasInternetRoute(rt routeTableFact, attached map[string]bool) bool {
	for _, r := range rt.Routes {
		if r.CIDR == "0.0.0.0/0" && strings.HasPrefix(r.GatewayID, "igw-") && attached[r.GatewayID] {
			return true
		}
	}
	return false
}

// lookupNetwork gathers networkFacts with read-only invokes (EC2 Describe*).
func lookupNetwork(ctx *pulumi.Context, instanceType string) (networkFacts, error) {
	var f networkFacts
	isDefault := true
	vpc, err := ec2.LookupVpc(ctx, &ec2.LookupVpcArgs{Default: &isDefault})
	if err != nil {
		// The provider reports "no matching EC2 VPC found" as an error.
		if strings.Contains(strings.ToLower(err.Error()), "no matching") {
			return f, nil
		}
		return f, fmt.Errorf("look up the default VPC: %w", err)
	}
	f.VPCID = vpc.Id

	subnets, err := ec2.GetSubnets(ctx, &ec2.GetSubnetsArgs{Filters: []ec2.GetSubnetsFilter{
		{Name: "vpc-id", Values: []string{f.VPCID}},
		{Name: "default-for-az", Values: []string{"true"}},
	}})
	if err != nil {
		return f, fmt.Errorf("list the default subnets of %s: %w", f.VPCID, err)
	}
	for _, id := range subnets.Ids {
		id := id
		s, err := ec2.LookupSubnet(ctx, &ec2.LookupSubnetArgs{Id: &id})
		if err != nil {
			return f, fmt.Errorf("describe subnet %s: %w", id, err)
		}
		f.Subnets = append(f.Subnets, subnetFact{ID: s.Id, AZ: s.AvailabilityZone, DefaultForAZ: s.DefaultForAz, State: s.State})
	}

	tables, err := ec2.GetRouteTables(ctx, &ec2.GetRouteTablesArgs{VpcId: &f.VPCID})
	if err != nil {
		return f, fmt.Errorf("list the route tables of %s: %w", f.VPCID, err)
	}
	gateways := map[string]bool{}
	for _, id := range tables.Ids {
		id := id
		rt, err := ec2.LookupRouteTable(ctx, &ec2.LookupRouteTableArgs{RouteTableId: &id})
		if err != nil {
			return f, fmt.Errorf("describe route table %s: %w", id, err)
		}
		fact := routeTableFact{ID: rt.RouteTableId}
		if fact.ID == "" {
			fact.ID = rt.Id
		}
		for _, a := range rt.Associations {
			if a.Main {
				fact.Main = true
			}
			if a.SubnetId != "" {
				fact.SubnetIDs = append(fact.SubnetIDs, a.SubnetId)
			}
		}
		for _, r := range rt.Routes {
			fact.Routes = append(fact.Routes, routeFact{CIDR: r.CidrBlock, GatewayID: r.GatewayId})
			if r.CidrBlock == "0.0.0.0/0" && strings.HasPrefix(r.GatewayId, "igw-") {
				gateways[r.GatewayId] = true
			}
		}
		f.RouteTables = append(f.RouteTables, fact)
	}

	f.AttachedGateways = map[string]bool{}
	for _, id := range sortedKeys(gateways) {
		id := id
		igw, err := ec2.LookupInternetGateway(ctx, &ec2.LookupInternetGatewayArgs{InternetGatewayId: &id})
		if err != nil {
			return f, fmt.Errorf("describe internet gateway %s: %w", id, err)
		}
		for _, a := range igw.Attachments {
			if a.VpcId == f.VPCID && a.State == "available" {
				f.AttachedGateways[id] = true
			}
		}
	}

	locType := "availability-zone"
	offers, err := ec2.GetInstanceTypeOfferings(ctx, &ec2.GetInstanceTypeOfferingsArgs{
		LocationType: &locType,
		Filters:      []ec2.GetInstanceTypeOfferingsFilter{{Name: "instance-type", Values: []string{instanceType}}},
	})
	if err != nil {
		return f, fmt.Errorf("list the zones offering %s: %w", instanceType, err)
	}
	f.OfferedAZs = map[string]bool{}
	for _, az := range offers.Locations {
		f.OfferedAZs[az] = true
	}
	return f, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
