package main

// hostHelpers: reboot-host.
func hostHelpers() map[string]helperFunc { return map[string]helperFunc{} }
