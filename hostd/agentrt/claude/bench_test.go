package claude

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

func p50(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkClaudeTurnAdapterVsDirect: the time hostd's adapter adds to a
// Claude turn, against running the same CLI directly (same flags, env,
// fake model) and timing until its result line. Runs alternate so machine
// noise hits both sides alike. One iteration is the whole comparison.
func BenchmarkClaudeTurnAdapterVsDirect(b *testing.B) {
	const rounds = 5
	for i := 0; i < b.N; i++ {
		rc := setupRealClaude(b, echoReply)
		env, err := rc.env(agentrt.ClaudeCode)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		var viaAdapter, direct []time.Duration
		for j := 0; j < rounds; j++ {
			start := time.Now()
			turn, err := rc.adapter.StartTurn(ctx, agentrt.TurnRequest{ThreadID: "bench", Input: fmt.Sprintf("adapter %d", j)})
			if err != nil {
				b.Fatal(err)
			}
			res, err := turn.Wait(ctx)
			if err != nil || res.Outcome != agentrt.OutcomeCompleted {
				b.Fatalf("adapter turn %+v %v", res, err)
			}
			viaAdapter = append(viaAdapter, time.Since(start))

			start = time.Now()
			if err := directTurn(ctx, rc.bin, env, rc.home, fmt.Sprintf("direct %d", j)); err != nil {
				b.Fatal(err)
			}
			direct = append(direct, time.Since(start))
		}
		cancel()
		b.ReportMetric(ms(p50(viaAdapter)), "adapter_p50_ms")
		b.ReportMetric(ms(p50(direct)), "direct_p50_ms")
		b.ReportMetric(ms(p50(viaAdapter)-p50(direct)), "added_p50_ms")
		b.ReportMetric(float64(p50(viaAdapter))/float64(p50(direct)), "adapter/direct")
	}
}

// directTurn runs one turn with the CLI alone: write the user line, close
// stdin, wait for exit (the CLI exits right after its result).
func directTurn(ctx context.Context, bin string, env []string, home, text string) error {
	cmd := exec.CommandContext(ctx, bin, TurnArgs("")...)
	cmd.Env, cmd.Dir = env, home
	line, _ := userLine(text)
	cmd.Stdin = strings.NewReader(string(line))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sawResult := false
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), `{"type":"result"`) || strings.Contains(sc.Text(), `"type":"result"`) {
			sawResult = true
		}
	}
	if err := cmd.Wait(); err != nil {
		return err
	}
	if !sawResult {
		return fmt.Errorf("direct run printed no result")
	}
	return nil
}
