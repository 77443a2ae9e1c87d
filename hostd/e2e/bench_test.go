package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentenv"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/claude"
	"github.com/trustyclaw/trustyclaw/hostd/internal/fakemodel"
)

func p50(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// timedTask hands a task to the API and returns the time until the API
// reports it completed (polled every 2 ms).
func (h *harness) timedTask(rt runtime, thread, input string) time.Duration {
	h.t.Helper()
	start := time.Now()
	id := h.create(rt, thread, input)
	for {
		task := h.task(id)
		if task.Status == "completed" {
			return time.Since(start)
		}
		if terminal[task.Status] || time.Since(start) > 2*time.Minute {
			h.t.Fatalf("task %+v", task)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// BenchmarkCodexFollowUpWarmVsCold: latency of a follow-up task on a
// Codex thread through hostd (POST /v1/tasks until the API says
// completed), cold (first follow-up after a hostd restart: app-server
// boot + thread/resume) against warm (the next follow-up, served by the
// thread's warm app-server). Cold and warm runs alternate per thread.
func BenchmarkCodexFollowUpWarmVsCold(b *testing.B) {
	requireCLI(b, codexRT)
	const threads = 7
	for i := 0; i < b.N; i++ {
		h := start(b, config{})
		h.open(codexRT)
		for j := 0; j < threads; j++ {
			h.run(codexRT, fmt.Sprintf("bench-%d", j), "first turn")
		}
		h.restartClean()
		h.waitRuntime(codexRT, "active")
		var cold, warm []time.Duration
		for j := 0; j < threads; j++ {
			thread := fmt.Sprintf("bench-%d", j)
			cold = append(cold, h.timedTask(codexRT, thread, "cold follow-up"))
			warm = append(warm, h.timedTask(codexRT, thread, "warm follow-up"))
		}
		b.ReportMetric(ms(p50(cold)), "cold_p50_ms")
		b.ReportMetric(ms(p50(warm)), "warm_p50_ms")
		b.ReportMetric(ms(p50(cold)-p50(warm)), "saved_p50_ms")
		b.Logf("Codex follow-up through hostd dev, %d threads: cold p50 %.0f ms (all %v), warm p50 %.0f ms (all %v)",
			threads, ms(p50(cold)), roundAll(cold), ms(p50(warm)), roundAll(warm))
	}
}

// BenchmarkClaudeTurnHostdVsDirect: the time hostd adds to a Claude turn.
// Side by side in one run, alternating: a task through hostd dev (POST
// /v1/tasks until completed), the same CLI run directly with the
// adapter's flags through hostd's proxy (same model path, no admin API,
// store or orchestrator), and directly through a bare CONNECT proxy (no
// hostd at all). Each turn starts a new conversation.
func BenchmarkClaudeTurnHostdVsDirect(b *testing.B) {
	bin := requireCLI(b, claudeRT)
	const rounds = 7
	for i := 0; i < b.N; i++ {
		h := start(b, config{})
		h.open(claudeRT)
		bare, err := fakemodel.StartProxy(h.model.Addr)
		if err != nil {
			b.Fatal(err)
		}
		viaProxy := directClaude{bin: bin, home: filepath.Join(h.state, "direct-home"), proxy: "http://" + h.hostd.Proxy, ca: filepath.Join(h.state, "proxy-ca.crt")}
		viaBare := directClaude{bin: bin, home: filepath.Join(h.state, "bare-home"), proxy: bare.URL(), ca: h.model.CAFile}
		// One untimed turn each: first-run set-up of a Claude home.
		h.run(claudeRT, "warmup", "warm up")
		viaProxy.turn(b, "warm up")
		viaBare.turn(b, "warm up")
		var hostd, direct, bareRuns []time.Duration
		for j := 0; j < rounds; j++ {
			hostd = append(hostd, h.timedTask(claudeRT, fmt.Sprintf("bench-%d", j), fmt.Sprintf("hostd %d", j)))
			direct = append(direct, viaProxy.turn(b, fmt.Sprintf("direct %d", j)))
			bareRuns = append(bareRuns, viaBare.turn(b, fmt.Sprintf("bare %d", j)))
		}
		bare.Close()
		b.ReportMetric(ms(p50(hostd)), "hostd_p50_ms")
		b.ReportMetric(ms(p50(direct)), "direct_via_proxy_p50_ms")
		b.ReportMetric(ms(p50(bareRuns)), "direct_bare_p50_ms")
		b.ReportMetric(ms(p50(hostd)-p50(direct)), "added_by_api_orchestrator_ms")
		b.ReportMetric(ms(p50(hostd)-p50(bareRuns)), "added_by_hostd_ms")
		b.Logf("Claude turn, %d rounds: via hostd p50 %.0f ms %v; direct via hostd's proxy p50 %.0f ms %v; direct via bare proxy p50 %.0f ms %v",
			rounds, ms(p50(hostd)), roundAll(hostd), ms(p50(direct)), roundAll(direct), ms(p50(bareRuns)), roundAll(bareRuns))
	}
}

func roundAll(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(time.Millisecond)
	}
	return out
}

// directClaude runs one Claude turn the way the adapter does (same
// flags, an environment built by agentenv like hostd dev's) without
// hostd: write the user line, close stdin, wait for the result and exit.
type directClaude struct {
	bin, home, proxy, ca string
}

func (d directClaude) turn(b *testing.B, text string) time.Duration {
	b.Helper()
	if err := os.MkdirAll(d.home, 0o700); err != nil {
		b.Fatal(err)
	}
	node, _ := exec.LookPath("node")
	var adds []agentenv.Var
	for _, kv := range baseAgentEnv {
		k, v, _ := strings.Cut(kv, "=")
		adds = append(adds, agentenv.Var{Name: k, Value: v})
	}
	env, err := agentenv.Build(agentenv.Config{
		Home: d.home, ProxyURL: d.proxy, CAFile: d.ca, User: os.Getenv("USER"),
		PathDirs: []string{filepath.Dir(node), filepath.Dir(d.bin)}, RunsAsRoot: os.Geteuid() == 0, Additions: adds,
	}, agentrt.ClaudeCode)
	if err != nil {
		b.Fatal(err)
	}
	line, _ := json.Marshal(map[string]any{"type": "user", "message": map[string]any{"role": "user", "content": text}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, d.bin, claude.TurnArgs("")...)
	cmd.Env, cmd.Dir = env, d.home
	cmd.Stdin = strings.NewReader(string(line) + "\n")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	result := ""
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Type   string `json:"type"`
			Result string `json:"result"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Type == "result" {
			result = ev.Result
		}
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("direct claude: %v", err)
	}
	took := time.Since(start)
	if result != "reply to: "+text {
		b.Fatalf("direct claude result %q", result)
	}
	return took
}
