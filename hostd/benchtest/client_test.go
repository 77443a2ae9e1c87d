package benchtest

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/internal/devproc"
	"github.com/trustyclaw/trustyclaw/hostd/internal/latency"
)

const fakeCodexPkg = "github.com/trustyclaw/trustyclaw/hostd/crashtest/internal/fakecodex"

// api is a keep-alive client with one idle connection per concurrent
// caller (net/http keeps only 2 per host by default, which would turn
// most requests of 16 clients into new connections).
type api struct {
	p *devproc.Proc
	c *http.Client
}

func newAPI(p *devproc.Proc, conns int) *api {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute}
	return &api{p: p, c: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (a *api) close() { a.c.CloseIdleConnections() }

func newKey() string {
	b := make([]byte, 12)
	_, _ = crand.Read(b)
	return "b-" + hex.EncodeToString(b)
}

// do sends one request (mutations get a fresh Idempotency-Key) and fails
// unless the answer is 200.
func (a *api) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+a.p.Admin+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.p.Password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet {
		req.Header.Set("Idempotency-Key", newKey())
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return data, nil
}

// load runs fn from clients goroutines, n times each, and returns the
// sorted latencies.
func load(b *testing.B, clients, n int, fn func(client, i int) error) []time.Duration {
	b.Helper()
	d, err := latency.Load(clients, n, fn)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// procStatusKB reads a "Name:   123 kB" line of /proc/<pid>/status.
func procStatusKB(pid int, name string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

// settledRSS samples VmRSS every 250 ms until two samples in a row differ
// by less than 2 % (at most 10 s) and returns the last, in MB.
func settledRSS(b *testing.B, pid int) float64 {
	b.Helper()
	var prev int64 = -1
	deadline := time.Now().Add(10 * time.Second)
	for {
		kb, err := procStatusKB(pid, "VmRSS")
		if err != nil {
			b.Fatal(err)
		}
		if prev >= 0 && (abs(kb-prev)*50 < prev || time.Now().After(deadline)) {
			return float64(kb) / 1024
		}
		prev = kb
		time.Sleep(250 * time.Millisecond)
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func randomPassword() string {
	b := make([]byte, 16)
	_, _ = crand.Read(b)
	return "bench-" + hex.EncodeToString(b)
}
