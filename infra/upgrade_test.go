package main

import (
	"debug/elf"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"google.golang.org/protobuf/proto"
)

// An upgrade (new bundle or new AMI) must replace the instance and re-run
// the bootstrap, and must leave the data volumes untouched. Mocks cannot
// run the engine's diff, so this pins what decides it:
//
//   - the instance is delete-before-replace and carries a replacement
//     trigger that changes with the bundle and the AMI;
//   - the volumes' inputs and options are identical across the two runs,
//     they carry no replacement trigger, and none of their inputs depends
//     on the instance, the deploy key or the bootstrap resources;
//   - the attachments and the bootstrap follow the instance.
func TestUpgradeShape(t *testing.T) {
	t.Run("new bundle", func(t *testing.T) {
		checkUpgrade(t, func(t *testing.T, hostd, boot string, _ *fakeAccount) {
			mustWrite(t, hostd, append(fakeELF(elf.EM_X86_64, elf.ET_EXEC), []byte("v2")...), 0o755)
		}, true)
	})
	t.Run("new bootstrap script", func(t *testing.T) {
		checkUpgrade(t, func(t *testing.T, hostd, boot string, _ *fakeAccount) {
			mustWrite(t, filepath.Join(boot, bootstrapEntry), []byte("#!/bin/bash\necho v2\n"), 0o755)
		}, true)
	})
	t.Run("new AMI", func(t *testing.T) {
		checkUpgrade(t, func(t *testing.T, hostd, boot string, a *fakeAccount) {
			a.AMI = "ami-0fedcba9876543210"
		}, false)
	})
}

// checkUpgrade deploys, applies change, deploys again and checks the shape.
// bundleChanged says whether the bootstrap's own triggers must change (an
// AMI change re-runs it through the new instance id instead).
func checkUpgrade(t *testing.T, change func(t *testing.T, hostd, boot string, a *fakeAccount), bundleChanged bool) {
	cfg := validConfig(t)
	hostd, boot := writeBundle(t)
	before := mustDeploy(t, runOpts{config: cfg, hostd: hostd, boot: boot})
	account := defaultAccount()
	change(t, hostd, boot, account)
	after := mustDeploy(t, runOpts{config: cfg, hostd: hostd, boot: boot, account: account})

	inst0, inst1 := before.one(t, typeInstance, "host"), after.one(t, typeInstance, "host")
	for i, inst := range []registered{inst0, inst1} {
		if !inst.Req.DeleteBeforeReplace {
			t.Errorf("run %d: instance is not delete-before-replace (the volumes can attach to one instance at a time)", i)
		}
		if inst.Req.ReplacementTrigger == nil {
			t.Fatalf("run %d: instance has no replacement trigger", i)
		}
	}
	if proto.Equal(inst0.Req.ReplacementTrigger, inst1.Req.ReplacementTrigger) {
		t.Error("the instance's replacement trigger does not change with the release: an upgrade would not replace it")
	}
	key0, key1 := before.one(t, typeKey, "deploy-key"), after.one(t, typeKey, "deploy-key")
	if key0.Req.ReplacementTrigger == nil || proto.Equal(key0.Req.ReplacementTrigger, key1.Req.ReplacementTrigger) {
		t.Error("the deploy key is not renewed with the instance")
	}

	for _, role := range []string{"admin", "agent"} {
		v0, v1 := before.one(t, typeVolume, role+"-volume"), after.one(t, typeVolume, role+"-volume")
		if !reflect.DeepEqual(v0.Inputs, v1.Inputs) {
			t.Errorf("%s volume inputs change with the release:\n%v\n%v", role, v0.Inputs, v1.Inputs)
		}
		if v1.Req.ReplacementTrigger != nil {
			t.Errorf("%s volume has a replacement trigger", role)
		}
		if len(v1.Req.ReplaceOnChanges) > 0 || v1.Req.DeleteBeforeReplace {
			t.Errorf("%s volume has replacement options", role)
		}
		if v1.Req.RetainOnDelete == nil || !*v1.Req.RetainOnDelete {
			t.Errorf("%s volume is not retained on delete", role)
		}
		forbidden := []string{
			after.urnOf(t, typeInstance, "host"), after.urnOf(t, typeKey, "deploy-key"),
			after.urnOf(t, typeCommand, "bootstrap"), after.urnOf(t, typeCommand, "bundle-stage"),
			after.urnOf(t, typeCopy, "bundle-hostd"), after.urnOf(t, typeCopy, "bundle-bootstrap"),
		}
		deps := slices.Clone(v1.Req.Dependencies)
		for _, pd := range v1.Req.PropertyDependencies {
			deps = append(deps, pd.Urns...)
		}
		for _, d := range deps {
			if slices.Contains(forbidden, d) {
				t.Errorf("%s volume depends on %s: a new instance or bundle could replace it", role, d)
			}
		}
		for k, v := range v1.Inputs {
			if s := findString(v, "i-0abc"); s {
				t.Errorf("%s volume input %s holds the instance id", role, k)
			}
		}
	}

	// The attachments and the bootstrap follow the instance.
	for _, name := range []string{"admin-attachment", "agent-attachment"} {
		a := after.one(t, typeAttachment, name)
		if !slices.Contains(a.Req.PropertyDependencies["instanceId"].GetUrns(), after.urnOf(t, typeInstance, "host")) {
			t.Errorf("%s does not follow the instance", name)
		}
	}
	t0 := path(t, before.one(t, typeCommand, "bootstrap").Inputs, "triggers")
	t1 := path(t, after.one(t, typeCommand, "bootstrap").Inputs, "triggers")
	if bundleChanged && reflect.DeepEqual(t0, t1) {
		t.Error("bootstrap triggers do not change with the bundle: it would not re-run")
	}
	if !slices.Contains(after.one(t, typeCommand, "bootstrap").Req.PropertyDependencies["triggers"].GetUrns(), after.urnOf(t, typeInstance, "host")) {
		t.Error("bootstrap triggers do not follow the instance: a replaced instance would not be bootstrapped")
	}
}

// Editing only repository-side files (Go sources, test data) in bootstrap/
// must not trigger an upgrade.
func TestTestOnlyChangeIsNotAnUpgrade(t *testing.T) {
	cfg := validConfig(t)
	hostd, boot := writeBundle(t)
	before := mustDeploy(t, runOpts{config: cfg, hostd: hostd, boot: boot})
	mustWrite(t, filepath.Join(boot, "new_test.go"), []byte("package bootstrap\n"), 0o644)
	after := mustDeploy(t, runOpts{config: cfg, hostd: hostd, boot: boot})
	if !proto.Equal(before.one(t, typeInstance, "host").Req.ReplacementTrigger, after.one(t, typeInstance, "host").Req.ReplacementTrigger) {
		t.Error("a test-only change would replace the instance")
	}
}

func findString(v resource.PropertyValue, needle string) bool {
	v = plain(v)
	switch {
	case v.IsString():
		return strings.Contains(v.StringValue(), needle)
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			if findString(e, needle) {
				return true
			}
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			if findString(e, needle) {
				return true
			}
		}
	}
	return false
}
