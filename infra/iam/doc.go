// Package iam holds the least-privilege IAM policies for the identities
// that run the infra/ Pulumi program: deployer.json (an operator's
// `pulumi up` / `pulumi destroy`), smoke.json (the smoke harness, hosts
// named smoke-*, may delete volumes) and stage.json (the stage harness,
// the host named "stage", never deletes volumes).
//
// Each allows the EC2 describe calls, creation only with the
// trustyclaw-host=true request tag, tagging only as part of a create call,
// and changes or deletion only of resources carrying that tag. The tests
// evaluate the documents against the calls the program makes.
package iam

import "embed"

// Policies are the policy documents, by file name.
//
//go:embed *.json
var Policies embed.FS
