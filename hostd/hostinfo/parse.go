package hostinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// cpuTimes are the aggregate CPU counters of /proc/stat, in clock ticks.
type cpuTimes struct {
	total uint64
	idle  uint64 // idle + iowait
}

// parseProcStat reads the aggregate "cpu" line: user nice system idle
// iowait irq softirq steal [guest guest_nice]. guest time is already part
// of user/nice, so it is not added again.
func parseProcStat(data []byte) (cpuTimes, error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 5 || fields[0] != "cpu" {
		return cpuTimes{}, errors.New("parse /proc/stat: no aggregate cpu line")
	}
	var t cpuTimes
	for i, f := range fields[1:] {
		if i >= 8 {
			break
		}
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("parse /proc/stat: cpu field %d: %w", i+1, err)
		}
		t.total += v
		if i == 3 || i == 4 { // idle, iowait
			t.idle += v
		}
	}
	return t, nil
}

// busyPercent is the busy share between two samples, rounded to one
// decimal; ok is false when no time passed (or the counters went back).
func busyPercent(prev, cur cpuTimes) (float64, bool) {
	if cur.total <= prev.total || cur.idle < prev.idle {
		return 0, false
	}
	dt := float64(cur.total - prev.total)
	di := float64(cur.idle - prev.idle)
	pct := 100 * (dt - di) / dt
	pct = math.Max(0, math.Min(100, pct))
	return math.Round(pct*10) / 10, true
}

// parseMeminfo reads memory and swap: used = MemTotal - MemAvailable,
// swap used = SwapTotal - SwapFree.
func parseMeminfo(data []byte) (Usage, Swap, error) {
	vals := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			v *= 1024
		}
		vals[name] = v
	}
	for _, need := range []string{"MemTotal", "MemAvailable", "SwapTotal", "SwapFree"} {
		if _, ok := vals[need]; !ok {
			return Usage{}, Swap{}, fmt.Errorf("parse /proc/meminfo: no %s", need)
		}
	}
	mem := Usage{TotalBytes: vals["MemTotal"], UsedBytes: sub(vals["MemTotal"], vals["MemAvailable"])}
	swap := Swap{AllocatedBytes: vals["SwapTotal"], UsedBytes: sub(vals["SwapTotal"], vals["SwapFree"])}
	return mem, swap, nil
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// parseMountInfo returns the set of mount points in /proc/self/mountinfo
// (field 5, octal escapes such as \040 decoded).
func parseMountInfo(data []byte) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		out[unescapeMount(f[4])] = true
	}
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
