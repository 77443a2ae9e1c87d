package codex

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// fmtSscanf parses the fake's "start pid=N" and "child pid=N" lines.
func fmtSscanf(line string, pid *int) (int, error) {
	for _, p := range []string{"start pid=", "child pid="} {
		if strings.HasPrefix(line, p) {
			return fmt.Sscanf(strings.TrimPrefix(line, p), "%d", pid)
		}
	}
	return 0, fmt.Errorf("no pid")
}

func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A killed grandchild re-parented to init may sit as a zombie until
	// init reaps it; it runs nothing, so it counts as gone.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}
