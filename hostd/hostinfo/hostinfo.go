// Package hostinfo reads the host figures the admin API's health route
// reports: CPU usage, memory, swap and filesystem usage, from /proc and
// statfs.
//
// It only reads; it never changes the host, and it never sleeps on the
// caller's path: CPU usage is the share of busy time between two calls
// (or since the Reader was made), so no sampling goroutine is needed.
package hostinfo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Usage is a used/total pair in bytes.
type Usage struct {
	UsedBytes  uint64
	TotalBytes uint64
}

// Swap is the swap space in bytes.
type Swap struct {
	AllocatedBytes uint64
	UsedBytes      uint64
}

// MountUsage is the usage of one named mount.
type MountUsage struct {
	Name string
	Usage
}

// Snapshot is one reading of the host figures.
type Snapshot struct {
	CPUPercent float64 // 0..100, one decimal
	Memory     Usage
	Swap       Swap
	// Mounts lists the configured mounts that exist, in configured order.
	Mounts []MountUsage
}

// Mount names a filesystem to report.
type Mount struct {
	Name string // e.g. "root", "admin", "agent"
	Path string
	// RequireMountPoint: report it only when Path is a mount point (host
	// mode: the data volumes). Otherwise it is reported whenever Path
	// exists (dev mode points these at the state directory).
	RequireMountPoint bool
}

// HostMounts are the mounts of a TrustyClaw host (architecture.md).
func HostMounts() []Mount {
	return []Mount{
		{Name: "root", Path: "/"},
		{Name: "admin", Path: "/mnt/trustyclaw-admin", RequireMountPoint: true},
		{Name: "agent", Path: "/mnt/trustyclaw-agent", RequireMountPoint: true},
	}
}

// Config configures a Reader. Zero fields take defaults.
type Config struct {
	ProcDir string // default "/proc"
	Mounts  []Mount
	// MinCPUWindow: calls closer together than this reuse the last CPU
	// figure instead of measuring a tiny, noisy window (default 1s).
	MinCPUWindow time.Duration
	Now          func() time.Time
	// Statfs is swappable for tests; default syscall.Statfs.
	Statfs func(path string) (Usage, error)
}

// Reader reads host figures. Safe for concurrent use.
type Reader struct {
	cfg Config

	mu      sync.Mutex
	prev    cpuTimes
	prevAt  time.Time
	cpuPct  float64
	havePct bool
}

// New returns a Reader and takes the first CPU sample (an error there is
// not fatal; the next Snapshot retries).
func New(cfg Config) *Reader {
	if cfg.ProcDir == "" {
		cfg.ProcDir = "/proc"
	}
	if cfg.MinCPUWindow <= 0 {
		cfg.MinCPUWindow = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Statfs == nil {
		cfg.Statfs = statfs
	}
	r := &Reader{cfg: cfg}
	if t, err := r.readCPU(); err == nil {
		r.prev, r.prevAt = t, cfg.Now()
	}
	return r
}

// Snapshot reads the current figures. On a partial failure it returns what
// it could read (zeros elsewhere) together with the errors.
func (r *Reader) Snapshot() (Snapshot, error) {
	var s Snapshot
	var errs []error
	pct, err := r.cpu()
	if err != nil {
		errs = append(errs, err)
	}
	s.CPUPercent = pct
	if mem, swap, err := r.readMeminfo(); err != nil {
		errs = append(errs, err)
	} else {
		s.Memory, s.Swap = mem, swap
	}
	mounted, err := r.mountPoints()
	if err != nil && r.needsMountInfo() {
		errs = append(errs, err)
	}
	for _, m := range r.cfg.Mounts {
		if m.RequireMountPoint {
			if !mounted[filepath.Clean(m.Path)] {
				continue
			}
		} else if _, err := os.Stat(m.Path); err != nil {
			continue
		}
		u, err := r.cfg.Statfs(m.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("statfs %s mount %s: %w", m.Name, m.Path, err))
			continue
		}
		s.Mounts = append(s.Mounts, MountUsage{Name: m.Name, Usage: u})
	}
	return s, errors.Join(errs...)
}

func (r *Reader) cpu() (float64, error) {
	cur, err := r.readCPU()
	if err != nil {
		return r.lastCPU(), err
	}
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prevAt.IsZero() {
		r.prev, r.prevAt = cur, now
		return 0, nil
	}
	if r.havePct && now.Sub(r.prevAt) < r.cfg.MinCPUWindow {
		return r.cpuPct, nil
	}
	if pct, ok := busyPercent(r.prev, cur); ok {
		r.cpuPct, r.havePct = pct, true
		r.prev, r.prevAt = cur, now
	}
	return r.cpuPct, nil
}

func (r *Reader) lastCPU() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cpuPct
}

func (r *Reader) readCPU() (cpuTimes, error) {
	data, err := os.ReadFile(filepath.Join(r.cfg.ProcDir, "stat"))
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read cpu times: %w", err)
	}
	return parseProcStat(data)
}

func (r *Reader) readMeminfo() (Usage, Swap, error) {
	data, err := os.ReadFile(filepath.Join(r.cfg.ProcDir, "meminfo"))
	if err != nil {
		return Usage{}, Swap{}, fmt.Errorf("read memory figures: %w", err)
	}
	return parseMeminfo(data)
}

func (r *Reader) needsMountInfo() bool {
	for _, m := range r.cfg.Mounts {
		if m.RequireMountPoint {
			return true
		}
	}
	return false
}

func (r *Reader) mountPoints() (map[string]bool, error) {
	if !r.needsMountInfo() {
		return nil, nil
	}
	data, err := os.ReadFile(filepath.Join(r.cfg.ProcDir, "self", "mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return parseMountInfo(data), nil
}

func statfs(path string) (Usage, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return Usage{}, err
	}
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	return Usage{TotalBytes: st.Blocks * bs, UsedBytes: (st.Blocks - st.Bfree) * bs}, nil
}
