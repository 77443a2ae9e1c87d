package sudohelper

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	// Child mode: demote this process and report the ids (the parent test
	// cannot demote itself; the step is one-way).
	if os.Getenv("SUDOHELPER_TEST_DEMOTE") == "1" {
		if err := Demote(65534, 65534); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		// Going back must be impossible.
		back := syscall.Setuid(0)
		groups, _ := syscall.Getgroups()
		fmt.Printf("uid=%d gid=%d groups=%d back=%v\n", syscall.Geteuid(), syscall.Getegid(), len(groups), back != nil)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestDemoteDropsRootForGood(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to demote")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SUDOHELPER_TEST_DEMOTE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "uid=65534 gid=65534 groups=0 back=true" {
		t.Fatalf("child reported %q", got)
	}
}

func TestDemoteRefusesRootTarget(t *testing.T) {
	if err := Demote(0, 0); err == nil {
		t.Fatal("demote to root accepted")
	}
	if err := DemoteToUser("no-such-user-trustyclaw", 47742); err == nil {
		t.Fatal("unknown user accepted")
	}
	if err := DemoteToUser("root", 47742); err == nil || !strings.Contains(err.Error(), "expected 47742") {
		t.Fatalf("uid mismatch: %v", err)
	}
}
