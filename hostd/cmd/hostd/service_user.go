package main

import (
	"fmt"
	"os"
)

// serviceEUID is the effective uid the host services check; tests, which
// run as root here, replace it.
var serviceEUID = os.Geteuid

// refuseRoot stops a host-mode service started as root: on a host systemd
// runs each as its own unprivileged user (docs/architecture.md), and as
// root the proxy would own its CA key and state as root and the admin
// service would hold far more than the sudo helpers it is allowed.
func refuseRoot(service, user string) error {
	if serviceEUID() != 0 {
		return nil
	}
	return fmt.Errorf("%w: refusing to run %s as root: it runs as %s (systemd does that on a host); for a local run use `hostd dev`", errUsage, service, user)
}
