package hostinfo

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const meminfo = `MemTotal:        2000000 kB
MemFree:          100000 kB
MemAvailable:     500000 kB
Buffers:           10000 kB
SwapTotal:       6291456 kB
SwapFree:        5767168 kB
HugePages_Total:       0
`

func writeProc(t *testing.T, dir, stat string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o600); err != nil {
		t.Fatal(err)
	}
}

func fakeProc(t *testing.T, mountinfo string) string {
	t.Helper()
	dir := t.TempDir()
	writeProc(t, dir, "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4\n")
	if err := os.WriteFile(filepath.Join(dir, "meminfo"), []byte(meminfo), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "self"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "self", "mountinfo"), []byte(mountinfo), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestCPUUsageIsTheBusyShareBetweenCalls(t *testing.T) {
	proc := fakeProc(t, "")
	c := &clock{t: time.Unix(1000, 0)}
	r := New(Config{ProcDir: proc, Now: c.now})

	// 1000 more ticks, 250 of them idle → 75 % busy.
	writeProc(t, proc, "cpu  500 0 450 1050 0 0 0 0 0 0\n")
	c.t = c.t.Add(2 * time.Second)
	s, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUPercent != 75 {
		t.Fatalf("cpu = %v, want 75", s.CPUPercent)
	}

	// Within the minimum window the last figure is reused.
	writeProc(t, proc, "cpu  500 0 450 2050 0 0 0 0 0 0\n")
	c.t = c.t.Add(100 * time.Millisecond)
	if s, _ := r.Snapshot(); s.CPUPercent != 75 {
		t.Fatalf("cpu within window = %v, want the last figure 75", s.CPUPercent)
	}
	// After it, the new window (all idle, iowait counts as idle) is used.
	writeProc(t, proc, "cpu  500 0 450 2000 50 0 0 0 0 0\n")
	c.t = c.t.Add(time.Second)
	if s, _ := r.Snapshot(); s.CPUPercent != 0 {
		t.Fatalf("cpu idle window = %v, want 0", s.CPUPercent)
	}
}

func TestMemoryAndSwapFromMeminfo(t *testing.T) {
	r := New(Config{ProcDir: fakeProc(t, "")})
	s, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.TotalBytes != 2000000*1024 || s.Memory.UsedBytes != 1500000*1024 {
		t.Fatalf("memory = %+v", s.Memory)
	}
	if s.Swap.AllocatedBytes != 6291456*1024 || s.Swap.UsedBytes != 524288*1024 {
		t.Fatalf("swap = %+v", s.Swap)
	}
}

func TestMountsReportedOnlyWhenPresent(t *testing.T) {
	state := t.TempDir()
	mountinfo := "22 1 8:1 / / rw,relatime - ext4 /dev/root rw\n" +
		"40 22 8:2 / /mnt/trustyclaw\\040admin rw - ext4 /dev/sdb rw\n"
	statfs := func(path string) (Usage, error) {
		return Usage{UsedBytes: uint64(len(path)), TotalBytes: 1000}, nil
	}
	r := New(Config{
		ProcDir: fakeProc(t, mountinfo),
		Statfs:  statfs,
		Mounts: []Mount{
			{Name: "root", Path: "/", RequireMountPoint: true},
			{Name: "admin", Path: "/mnt/trustyclaw admin/", RequireMountPoint: true},
			{Name: "agent", Path: "/mnt/trustyclaw-agent", RequireMountPoint: true},
			{Name: "state", Path: state},
			{Name: "missing", Path: filepath.Join(state, "nope")},
		},
	})
	s, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range s.Mounts {
		names = append(names, m.Name)
	}
	if got := len(names); got != 3 || names[0] != "root" || names[1] != "admin" || names[2] != "state" {
		t.Fatalf("mounts = %v, want [root admin state]", names)
	}
	if s.Mounts[1].UsedBytes != uint64(len("/mnt/trustyclaw admin/")) {
		t.Fatalf("admin statfs path wrong: %+v", s.Mounts[1])
	}
}

func TestPartialFailureStillReportsTheRest(t *testing.T) {
	proc := fakeProc(t, "")
	r := New(Config{
		ProcDir: proc,
		Mounts:  []Mount{{Name: "root", Path: "/"}},
		Statfs:  func(string) (Usage, error) { return Usage{}, errors.New("boom") },
	})
	if err := os.Remove(filepath.Join(proc, "stat")); err != nil {
		t.Fatal(err)
	}
	s, err := r.Snapshot()
	if err == nil {
		t.Fatal("no error for missing /proc/stat and failing statfs")
	}
	if s.Memory.TotalBytes == 0 {
		t.Fatal("memory not reported despite readable meminfo")
	}
}

func TestRealHostFigures(t *testing.T) {
	r := New(Config{Mounts: []Mount{{Name: "root", Path: "/"}}})
	s, err := r.Snapshot()
	if err != nil {
		t.Fatalf("reading this machine's figures: %v", err)
	}
	if s.Memory.TotalBytes == 0 || s.Memory.UsedBytes > s.Memory.TotalBytes {
		t.Fatalf("memory = %+v", s.Memory)
	}
	if len(s.Mounts) != 1 || s.Mounts[0].TotalBytes == 0 || s.Mounts[0].UsedBytes > s.Mounts[0].TotalBytes {
		t.Fatalf("root mount = %+v", s.Mounts)
	}
	if s.CPUPercent < 0 || s.CPUPercent > 100 {
		t.Fatalf("cpu = %v", s.CPUPercent)
	}
}

func TestParsersRejectGarbage(t *testing.T) {
	for _, in := range []string{"", "cpu", "intr 1 2 3", "cpu  a b c d e", "cpu0 1 2 3 4 5"} {
		if _, err := parseProcStat([]byte(in)); err == nil {
			t.Errorf("parseProcStat(%q) accepted", in)
		}
	}
	if _, _, err := parseMeminfo([]byte("MemTotal: 1 kB\n")); err == nil {
		t.Error("parseMeminfo accepted a file without MemAvailable")
	}
	if _, ok := busyPercent(cpuTimes{total: 10}, cpuTimes{total: 10}); ok {
		t.Error("busyPercent over no time reported a figure")
	}
}

func FuzzParsers(f *testing.F) {
	f.Add([]byte("cpu  1 2 3 4 5 6 7 8 9 10\n"))
	f.Add([]byte(meminfo))
	f.Add([]byte("22 1 8:1 / /a\\040b rw - ext4 /dev/root rw\n36 1 0:1 / \\ rw\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseProcStat(data)
		_, _, _ = parseMeminfo(data)
		_ = parseMountInfo(data)
	})
}
