package main

import (
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/infra/iam"
)

// Every invoke the program makes and every AWS resource type it declares
// must be known to the IAM package, and each mapped action must be named by
// every shipped policy. A new lookup or resource fails here until the
// policies cover it.
func TestPoliciesCoverWhatTheProgramCalls(t *testing.T) {
	cfg := validConfig(t)
	cfg[keyResetStorage] = "true"
	r := mustDeploy(t, runOpts{config: cfg})

	needed := map[string]bool{}
	for _, tok := range r.rec.invokes {
		a, ok := iam.InvokeActions[tok]
		if !ok {
			t.Errorf("invoke %s has no IAM action in infra/iam.InvokeActions", tok)
		}
		needed[a] = true
	}
	for _, res := range r.rec.resources {
		if !strings.HasPrefix(res.Type, "aws:") {
			continue
		}
		acts, ok := iam.ResourceActions[res.Type]
		if !ok {
			t.Errorf("resource type %s has no IAM actions in infra/iam.ResourceActions", res.Type)
		}
		for _, a := range acts {
			needed[a] = true
		}
	}
	if len(needed) < 10 {
		t.Fatalf("only %d actions derived from the run; the recorder saw nothing?", len(needed))
	}
	for _, file := range []string{"deployer.json", "smoke.json", "stage.json"} {
		p, err := iam.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		named := map[string]bool{}
		for _, a := range p.Actions() {
			named[a] = true
		}
		for a := range needed {
			if a == "ec2:DeleteVolume" && file == "stage.json" {
				continue // stage never deletes its volumes (no reset flag)
			}
			if !named[a] {
				t.Errorf("%s does not name %s, which the program needs", file, a)
			}
		}
	}
}
